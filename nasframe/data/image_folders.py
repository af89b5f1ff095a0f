"""Data sets in torchvision's ImageFolder layout (``DIR/train/<class>/*``, ``DIR/val/<class>/*``), decoded by
DataLoader workers.

Such a data set need not fit in memory, so images are read and augmented per image with PIL
transforms in worker processes. Every random draw comes from the generator handed to ``epoch``:
the order directly, and each image's augmentation from a seed derived from it and the image's
index, so an epoch is the same whatever the number of workers and after a resume.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from nasframe.data.batches import DataModule, split_sizes
from nasframe.data.folders import default_data_dir
from nasframe.data.normalisation import normalisation
from nasframe.interfaces.context import Batch
from nasframe.interfaces.errors import ConfigError, DataError
from nasframe.interfaces.space import DataInfo

EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
LAYOUT = "DIR/train/<class>/*.JPEG and DIR/val/<class>/*.JPEG (torchvision's ImageFolder layout)"
"""What ``--data-dir`` must hold, as error messages say it."""

Sample = tuple[str, int]


Stats = tuple[float, ...]


def train_transform(mean: Stats, std: Stats, image_size: int) -> Callable:
    """Random-resized crop to ``image_size`` and a horizontal flip (the ImageNet training augmentation)."""
    from torchvision import transforms as T

    return T.Compose(
        [
            T.RandomResizedCrop(image_size),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize(mean, std),
        ]
    )


def eval_transform(mean: Stats, std: Stats, image_size: int, resize: int) -> Callable:
    """Resize the short side to ``resize``, centre crop to ``image_size``."""
    from torchvision import transforms as T

    return T.Compose([T.Resize(resize), T.CenterCrop(image_size), T.ToTensor(), T.Normalize(mean, std)])


def find_classes(folder: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))


def scan(folder: Path, classes: Sequence[str]) -> list[Sample]:
    """Images of ``folder/<class>/``, interleaved by class: the 1st image of every class, then the 2nd, ...

    The interleaving makes every prefix (``data.limit``) and suffix (the validation split) hold all
    classes in proportion, which an ImageFolder's class-sorted order would not.
    """
    per_class: list[list[Sample]] = []
    for label, name in enumerate(classes):
        d = folder / name
        files = (
            sorted(e.path for e in os.scandir(d) if e.is_file() and e.name.lower().endswith(EXTENSIONS))
            if d.is_dir()
            else []
        )
        per_class.append([(f, label) for f in files])
    out: list[Sample] = []
    for rank in range(max((len(p) for p in per_class), default=0)):
        out.extend(p[rank] for p in per_class if rank < len(p))
    return out


class ImageDataset(Dataset):
    """(path, label) samples; an index ``(i, seed)`` applies the transform under torch seed ``seed``."""

    def __init__(self, samples: Sequence[Sample], transform: Callable) -> None:
        self.samples = list(samples)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int | tuple[int, int | None]) -> tuple[torch.Tensor, int]:
        from PIL import Image

        i, seed = index if isinstance(index, tuple) else (index, None)
        path, label = self.samples[i]
        try:
            with open(path, "rb") as f:
                img = Image.open(f).convert("RGB")
        except OSError as exc:
            raise DataError(f"cannot read image {path}: {exc}") from None
        if seed is None:
            return self.transform(img), label
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.transform(img), label


class _Plan(Sampler):
    """Yields the batches (lists of ``(index, seed)``) set for the coming pass over the loader."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[int, int | None]]] = []

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[list[tuple[int, int | None]]]:
        return iter(self.batches)


class LoaderBatches:
    """One split as device batches decoded by DataLoader workers (implements ``nasframe.data.Batches``).

    ``transform`` prepares images for ``epoch``; ``plain_transform`` (default: ``transform``) for
    ``sample``, which draws a batch without augmentation. Worker processes are started on first use
    and kept for the following epochs.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        transform: Callable,
        batch_size: int,
        device: torch.device,
        *,
        plain_transform: Callable | None = None,
        workers: int = 4,
        drop_last: bool = False,
        channels_last: bool = False,
    ) -> None:
        self.samples = list(samples)
        self.transform = transform
        self.plain_transform = plain_transform or transform
        self.batch_size = batch_size
        self.device = device
        self.workers = workers
        self.drop_last = drop_last
        self.channels_last = channels_last
        self._loaders: dict[str, tuple[DataLoader, _Plan]] = {}

    @property
    def num_images(self) -> int:
        return len(self.samples)

    def __len__(self) -> int:
        n = self.num_images
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def epoch(self, generator: torch.Generator | None = None) -> Iterator[Batch]:
        """Shuffled and augmented from ``generator`` when given; in file order otherwise."""
        n = self.num_images
        if generator is None:
            order, base = list(range(n)), None
        else:
            order = torch.randperm(n, generator=generator).tolist()
            base = int(torch.randint(2**62, (), generator=generator))
        items = [(i, None if base is None else (base + i) % 2**63) for i in order]
        batches = [items[k : k + self.batch_size] for k in range(0, len(self) * self.batch_size, self.batch_size)]
        yield from self._run("epoch", self.transform, batches)

    def sample(self, size: int, generator: torch.Generator) -> Batch:
        """``size`` images drawn from ``generator`` without replacement, without augmentation."""
        idx = torch.randperm(self.num_images, generator=generator)[:size].tolist()
        chunk = -(-len(idx) // max(1, self.workers))  # spread the decoding over the workers
        parts = list(
            self._run(
                "sample",
                self.plain_transform,
                [[(i, None) for i in idx[k : k + chunk]] for k in range(0, len(idx), chunk)],
            )
        )
        return torch.cat([x for x, _ in parts]), torch.cat([y for _, y in parts])

    def _run(self, kind: str, transform: Callable, batches: list[list[tuple[int, int | None]]]) -> Iterator[Batch]:
        if kind not in self._loaders:
            plan = _Plan()
            loader = DataLoader(
                ImageDataset(self.samples, transform),
                batch_sampler=plan,
                num_workers=self.workers,
                pin_memory=self.device.type == "cuda",
                persistent_workers=self.workers > 0,
            )
            self._loaders[kind] = (loader, plan)
        loader, plan = self._loaders[kind]
        plan.batches = batches
        for x, y in loader:
            x = x.to(self.device, non_blocking=True)
            y = y.to(self.device, non_blocking=True)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, y


def _folder(root: Path, name: str, title: str) -> Path:
    folder = root / name
    if not folder.is_dir():
        raise DataError(
            f"{title} was not found: {folder} is not a folder (it cannot be downloaded). "
            f"Pass --data-dir DIR with {LAYOUT}."
        )
    return folder


def image_folder_splits(
    config: Mapping[str, Any],
    device: torch.device,
    *,
    purpose: str,
    info: DataInfo,
    title: str,
    mean: Stats,
    std: Stats,
    resize: int,
) -> DataModule:
    """The splits of an ImageFolder data set (``info.name`` also names its folder under the default data folder).

    ``search``: the ``train`` folder split into train/val (the last ``data.val_size`` images of the
    class-interleaved order); ``train``: the whole ``train`` folder, and the ``val`` folder as test.
    ``info.num_classes`` is replaced by the class folders found; ``title`` names the data set in errors.
    """
    data_cfg, train_cfg = config["data"], config["train"]
    mean, std = normalisation(data_cfg, mean, std)
    augmented = train_transform(mean, std, info.image_size)
    plain = eval_transform(mean, std, info.image_size, resize)
    root = Path(data_cfg["dir"]).expanduser() if data_cfg.get("dir") else default_data_dir() / info.name
    train_dir = _folder(root, "train", title)
    classes = find_classes(train_dir)
    if not classes:
        raise DataError(f"{train_dir} has no class folders: expected {LAYOUT}")
    samples = scan(train_dir, classes)
    if not samples:
        raise DataError(f"{train_dir} holds no images ({', '.join(EXTENSIONS)}): expected {LAYOUT}")
    if data_cfg.get("limit"):
        samples = samples[: int(data_cfg["limit"])]
    info = DataInfo(info.name, num_classes=len(classes), image_size=info.image_size, channels=info.channels)
    workers = int(data_cfg.get("workers", 4))
    if workers < 0:
        raise ConfigError(f"data.workers must be 0 or more, not {workers}")
    common = dict(
        device=device,
        workers=workers,
        channels_last=bool(train_cfg.get("channels_last")) and device.type == "cuda",
    )
    bs = int(train_cfg["batch_size"])
    ebs = int(train_cfg.get("eval_batch_size") or bs)
    if purpose == "search":
        n_train, n_val = split_sizes(len(samples), data_cfg.get("val_size"))
        if n_val == 0:
            raise ConfigError("a search needs validation images: set data.val_size above 0")
        train = LoaderBatches(
            samples[:n_train], augmented, bs, plain_transform=plain, drop_last=n_train >= bs, **common
        )
        val = LoaderBatches(samples[n_train:], plain, ebs, **common)
        return DataModule(info, train, val, None)
    if purpose != "train":
        raise ValueError(f"purpose must be 'search' or 'train', not {purpose!r}")
    val_dir = _folder(root, "val", title)
    unknown = sorted(set(find_classes(val_dir)) - set(classes))
    if unknown:
        raise DataError(f"{val_dir} has class folders that {train_dir} lacks: {', '.join(unknown[:5])}")
    test_samples = scan(val_dir, classes)
    if not test_samples:
        raise DataError(
            f"{val_dir} holds no images in class folders: expected {LAYOUT} "
            "(the official validation images must be sorted into val/<class>/ first)"
        )
    if data_cfg.get("test_limit"):
        test_samples = test_samples[: int(data_cfg["test_limit"])]
    train = LoaderBatches(samples, augmented, bs, plain_transform=plain, drop_last=len(samples) >= bs, **common)
    test = LoaderBatches(test_samples, plain, ebs, **common)
    return DataModule(info, train, None, test)
