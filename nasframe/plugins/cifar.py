"""CIFAR-10 and CIFAR-100 in torchvision's ``cifar-10-batches-py`` / ``cifar-100-python`` layouts, read into one
in-memory uint8 tensor, registered as data set plugins like any third party's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np
import torch

import nasframe
from nasframe import (
    ConfigError,
    DataError,
    DataInfo,
    DataModule,
    Dataset,
    TensorBatches,
    World,
    default_data_dir,
    load_pickled_batch,
    normalisation,
    split_sizes,
)


@dataclass(frozen=True)
class Layout:
    """Where a CIFAR variant's files are and what they hold."""

    title: str
    folder: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    label_key: str
    num_classes: int
    downloader: str
    """torchvision's class of that data set (its download)."""


CIFAR10 = Layout(
    "CIFAR-10",
    "cifar-10-batches-py",
    tuple(f"data_batch_{i}" for i in range(1, 6)),
    ("test_batch",),
    "labels",
    10,
    "CIFAR10",
)
CIFAR100 = Layout("CIFAR-100", "cifar-100-python", ("train",), ("test",), "fine_labels", 100, "CIFAR100")


def find_batches(root: Path, layout: Layout) -> Path | None:
    """The batches folder under ``root`` (or ``root`` itself when it is that folder)."""
    for candidate in (root / layout.folder, root):
        if all((candidate / name).is_file() for name in layout.train_files[:1] + layout.test_files):
            return candidate
    return None


def _download(root: Path, layout: Layout) -> None:
    import torchvision.datasets

    try:
        root.mkdir(parents=True, exist_ok=True)
        getattr(torchvision.datasets, layout.downloader)(str(root), train=True, download=True)
    except Exception as exc:  # offline, DNS failure, disk full: all the same to the user
        raise DataError(
            f"{layout.title} was not found in {root} and could not be downloaded ({type(exc).__name__}: {exc}). "
            f"Pass --data-dir DIR (or set NASFRAME_DATA) to a folder that holds {layout.folder}/."
        ) from None


def locate(root: Path, layout: Layout, download: bool, chosen: bool = False) -> Path:
    """The batches folder in ``root``; downloads when allowed.

    A folder the user chose (``--data-dir``) must exist: a typo is refused rather than created and filled
    with a download. Only the default folder (``$NASFRAME_DATA`` or the user cache) is created.
    """
    batches = find_batches(root, layout)
    if batches is None:
        if chosen and not root.is_dir():
            state = "is a file" if root.exists() else "does not exist"
            raise DataError(
                f"--data-dir {root} {state}. Pass the folder that holds {layout.folder}/ "
                f"(create an empty folder first to download {layout.title} into it)"
            )
        if not download:
            first = layout.train_files[0]
            raise DataError(
                f"{layout.title} was not found in {root}: expected {root / layout.folder}/{first} … "
                f"{layout.test_files[-1]}. Pass --data-dir DIR (or set NASFRAME_DATA) to a folder that holds it."
            )
        _download(root, layout)
        batches = find_batches(root, layout)
        if batches is None:
            raise DataError(f"the download into {root} did not produce {layout.folder}/")
    return batches


def batch_arrays(batch: dict[str, Any], source: str, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """The images [N, 3072] uint8 and labels [N] int64 of a batch, refused unless they are exactly that.

    A file can unpickle into anything the admitted types build (a string for the images, float labels,
    an object array): a plain cast would wrap 300 to 44 or truncate 2.7 to 2 and train on it silently.
    """

    def bad(what: str) -> DataError:
        return DataError(f"{source} is not a {layout.title} batch file: {what}")

    if "data" not in batch or layout.label_key not in batch:
        missing = [k for k in ("data", layout.label_key) if k not in batch]
        raise bad(f"it has no {' and no '.join(map(repr, missing))} entry")
    data, labels = batch["data"], batch[layout.label_key]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        kind = f"an array of {data.dtype}" if isinstance(data, np.ndarray) else f"a {type(data).__name__}"
        raise bad(f"'data' is {kind}, not an array of uint8 pixels")
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise bad(f"'data' has shape {list(data.shape)}, not [N, 3072]")
    if isinstance(labels, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in labels):
        labels = np.asarray(labels, dtype=np.int64) if labels else np.zeros(0, dtype=np.int64)
    if not isinstance(labels, np.ndarray) or labels.dtype.kind not in "iu" or labels.ndim != 1:
        raise bad(f"{layout.label_key!r} is not a list of whole-number class indices")
    if len(labels) != len(data):
        raise bad(f"{len(data)} images but {len(labels)} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= layout.num_classes):
        raise bad(f"labels outside 0..{layout.num_classes - 1}")
    return data, labels.astype(np.int64)


def read_split(batches: Path, layout: Layout, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Images [N, 3, 32, 32] uint8 and labels [N] int64 of the training or test files present."""
    names = layout.train_files if train else layout.test_files
    images, labels = [], []
    for name in names:
        path = batches / name
        if not path.is_file():
            if train and name != layout.train_files[0]:
                continue  # a subset may hold fewer files
            raise DataError(f"missing {layout.title} batch file {path}")
        with open(path, "rb") as f:
            batch = load_pickled_batch(f, str(path), f"a {layout.title} batch file")
        data, lab = batch_arrays(batch, str(path), layout)
        images.append(torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()))
        labels.append(torch.from_numpy(lab.copy()))
    return torch.cat(images), torch.cat(labels)


def write_look_alike(root: Path, layout: Layout, train: int, test: int, seed: int) -> Path:
    """Gratings under noise, one orientation and tint per class, pickled in ``layout``'s files under ``root``."""
    import pickle

    folder = root / layout.folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32)
    k = layout.num_classes

    def images(n: int) -> tuple[np.ndarray, list[int]]:
        labels = rng.integers(0, k, n)
        angle = labels[:, None, None] * np.pi / k
        phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
        wave = np.sin((np.cos(angle) * xx + np.sin(angle) * yy) * 0.6 + phase)  # [n, 32, 32]
        tint = np.stack([np.cos(labels * 0.6), np.sin(labels * 0.9), np.cos(labels * 1.3)], 1)[:, :, None, None]
        pixels = 128 + 60 * wave[:, None] * (0.6 + 0.4 * tint) + rng.uniform(-50, 50, (n, 3, 32, 32))
        return np.clip(pixels, 0, 255).astype(np.uint8).reshape(n, 3072), labels.tolist()

    for name, n in ((layout.train_files[0], train), (layout.test_files[0], test)):
        data, labels = images(n)
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": data, layout.label_key.encode(): labels}, f, protocol=2)
    return root


class Cifar10(Dataset):
    """CIFAR-10: 50,000 training and 10,000 test images of 32x32 pixels, 10 classes, held on the device."""

    name = "cifar10"
    description = "CIFAR-10, torchvision's cifar-10-batches-py layout (downloaded into the default folder if missing)"
    default = True
    distributed = True
    sizes = {"train": 50_000, "test": 10_000}
    layout: ClassVar[Layout] = CIFAR10
    mean: ClassVar[tuple[float, ...]] = (0.49139968, 0.48215827, 0.44653124)
    std: ClassVar[tuple[float, ...]] = (0.24703233, 0.24348505, 0.26158768)

    @classmethod
    def info(cls, config: Mapping[str, Any]) -> DataInfo:
        return DataInfo(cls.name, num_classes=cls.layout.num_classes, image_size=32)

    @classmethod
    def is_at(cls, root: Path) -> bool:
        return find_batches(root, cls.layout) is not None

    @classmethod
    def write_look_alike(cls, root: Path, train: int, test: int, seed: int = 0) -> Path:
        return write_look_alike(root, cls.layout, train, test, seed)

    @classmethod
    def build(cls, config: Mapping[str, Any], device: torch.device, *, purpose: str, world: World) -> DataModule:
        """``purpose`` ``search``: train/val split of the training set; ``train``: full training set and test set."""
        data_cfg, train_cfg = config["data"], config["train"]
        mean, std = normalisation(data_cfg, cls.mean, cls.std)
        root = Path(data_cfg["dir"]).expanduser() if data_cfg.get("dir") else default_data_dir()
        download, chosen = bool(data_cfg.get("download", True)), bool(data_cfg.get("dir"))
        batches_dir = locate(root, cls.layout, download=download, chosen=chosen)
        images, labels = read_split(batches_dir, cls.layout, train=True)
        if data_cfg.get("limit"):
            images, labels = images[: data_cfg["limit"]], labels[: data_cfg["limit"]]
        info = cls.info(config)
        channels_last = bool(train_cfg.get("channels_last")) and device.type == "cuda"
        common = dict(device=device, channels_last=channels_last, world=world, mean=mean, std=std)
        if int(train_cfg["batch_size"]) % world.size:
            raise ConfigError(f"train.batch_size={train_cfg['batch_size']} does not split over {world.size} processes")
        bs, ebs = int(train_cfg["batch_size"]), int(train_cfg.get("eval_batch_size") or train_cfg["batch_size"])
        if purpose == "search":
            n_train, n_val = split_sizes(len(labels), data_cfg.get("val_size"))
            if n_val == 0:
                raise ConfigError("a search needs validation images: set data.val_size above 0")
            train = TensorBatches(
                images[:n_train], labels[:n_train], bs, augment=True, drop_last=n_train >= bs, **common
            )
            val = TensorBatches(images[n_train:], labels[n_train:], ebs, augment=False, **common)
            return DataModule(info, train, val, None)
        test_images, test_labels = read_split(batches_dir, cls.layout, train=False)
        if data_cfg.get("test_limit"):
            test_images, test_labels = test_images[: data_cfg["test_limit"]], test_labels[: data_cfg["test_limit"]]
        cutout = int(data_cfg.get("cutout") or 0)
        train = TensorBatches(images, labels, bs, augment=True, cutout=cutout, drop_last=len(labels) >= bs, **common)
        test = TensorBatches(test_images, test_labels, ebs, augment=False, **common)
        return DataModule(info, train, None, test)


class Cifar100(Cifar10):
    """CIFAR-100: the same images' format with 100 fine labels (its ``fine_labels``; the 20 coarse ones unused)."""

    name = "cifar100"
    description = "CIFAR-100, torchvision's cifar-100-python layout (fine labels; downloaded if missing)"
    default = False
    layout = CIFAR100
    # The training set's per-channel statistics (NAS-Bench-201's code rounds them to 129.3/124.1/112.4 and 68.2/65.4/70.4 of 255).
    mean = (0.5070751592371323, 0.48654887331495095, 0.4409178433670343)
    std = (0.2673342858792401, 0.2564384629170883, 0.27615047132568404)


@nasframe.hookimpl
def register_datasets(register):
    register(Cifar10)
    register(Cifar100)
