"""CIFAR-10 in torchvision's ``cifar-10-batches-py`` layout, read into one in-memory uint8 tensor."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch

from nasframe.data.batches import DataModule, TensorBatches, split_sizes
from nasframe.data.folders import default_data_dir
from nasframe.data.normalisation import normalisation
from nasframe.data.unpickle import cifar_arrays, load_batch
from nasframe.interfaces.errors import ConfigError, DataError
from nasframe.interfaces.space import DataInfo
from nasframe.interfaces.world import World

FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)
MEAN = (0.49139968, 0.48215827, 0.44653124)
STD = (0.24703233, 0.24348505, 0.26158768)


def find_batches(root: Path) -> Path | None:
    """The batches folder under ``root`` (or ``root`` itself when it is that folder)."""
    for candidate in (root / FOLDER, root):
        if all((candidate / name).is_file() for name in TRAIN_FILES[:1] + TEST_FILES):
            return candidate
    return None


def _download(root: Path) -> None:
    from torchvision.datasets import CIFAR10

    try:
        root.mkdir(parents=True, exist_ok=True)
        CIFAR10(str(root), train=True, download=True)
    except Exception as exc:  # offline, DNS failure, disk full: all the same to the user
        raise DataError(
            f"CIFAR-10 was not found in {root} and could not be downloaded ({type(exc).__name__}: {exc}). "
            f"Pass --data-dir DIR (or set NASFRAME_DATA) to a folder that holds {FOLDER}/."
        ) from None


def locate(root: Path, download: bool, chosen: bool = False) -> Path:
    """The batches folder in ``root``; downloads when allowed.

    A folder the user chose (``--data-dir``) must exist: a typo is refused rather than created and filled
    with a download. Only the default folder (``$NASFRAME_DATA`` or the user cache) is created.
    """
    batches = find_batches(root)
    if batches is None:
        if chosen and not root.is_dir():
            raise DataError(
                f"--data-dir {root} {'is a file' if root.exists() else 'does not exist'}. Pass the folder that holds {FOLDER}/ "
                "(create an empty folder first to download CIFAR-10 into it)"
            )
        if not download:
            raise DataError(
                f"CIFAR-10 was not found in {root}: expected {root / FOLDER}/data_batch_1 … test_batch. "
                "Pass --data-dir DIR (or set NASFRAME_DATA) to a folder that holds it."
            )
        _download(root)
        batches = find_batches(root)
        if batches is None:
            raise DataError(f"the download into {root} did not produce {FOLDER}/")
    return batches


def read_split(batches: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Images [N, 3, 32, 32] uint8 and labels [N] int64 of the training or test files present."""
    names = TRAIN_FILES if train else TEST_FILES
    images, labels = [], []
    for name in names:
        path = batches / name
        if not path.is_file():
            if train and name != TRAIN_FILES[0]:
                continue  # a subset may hold fewer files
            raise DataError(f"missing CIFAR batch file {path}")
        with open(path, "rb") as f:
            batch = load_batch(f, str(path))
        data, lab = cifar_arrays(batch, str(path))
        images.append(torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()))
        labels.append(torch.from_numpy(lab.copy()))
    return torch.cat(images), torch.cat(labels)


def build_cifar(config: Mapping[str, Any], device: torch.device, *, purpose: str, world: World = World()) -> DataModule:
    """``purpose`` ``search``: train/val split of the training set; ``train``: full training set and test set."""
    data_cfg, train_cfg = config["data"], config["train"]
    mean, std = normalisation(data_cfg, MEAN, STD)
    root = Path(data_cfg["dir"]).expanduser() if data_cfg.get("dir") else default_data_dir()
    batches_dir = locate(root, download=bool(data_cfg.get("download", True)), chosen=bool(data_cfg.get("dir")))
    images, labels = read_split(batches_dir, train=True)
    if data_cfg.get("limit"):
        images, labels = images[: data_cfg["limit"]], labels[: data_cfg["limit"]]
    info = DataInfo("cifar10", num_classes=10, image_size=32)
    channels_last = bool(train_cfg.get("channels_last")) and device.type == "cuda"
    common = dict(device=device, channels_last=channels_last, world=world, mean=mean, std=std)
    if int(train_cfg["batch_size"]) % world.size:
        raise ConfigError(f"train.batch_size={train_cfg['batch_size']} does not split over {world.size} processes")
    bs, ebs = int(train_cfg["batch_size"]), int(train_cfg.get("eval_batch_size") or train_cfg["batch_size"])
    if purpose == "search":
        n_train, n_val = split_sizes(len(labels), data_cfg.get("val_size"))
        if n_val == 0:
            raise ConfigError("a search needs validation images: set data.val_size above 0")
        train = TensorBatches(images[:n_train], labels[:n_train], bs, augment=True, drop_last=n_train >= bs, **common)
        val = TensorBatches(images[n_train:], labels[n_train:], ebs, augment=False, **common)
        return DataModule(info, train, val, None)
    test_images, test_labels = read_split(batches_dir, train=False)
    if data_cfg.get("test_limit"):
        test_images, test_labels = test_images[: data_cfg["test_limit"]], test_labels[: data_cfg["test_limit"]]
    train = TensorBatches(
        images, labels, bs, augment=True, cutout=int(data_cfg.get("cutout") or 0), drop_last=len(labels) >= bs, **common
    )
    test = TensorBatches(test_images, test_labels, ebs, augment=False, **common)
    return DataModule(info, train, None, test)
