"""CIFAR-10 in torchvision's ``cifar-10-batches-py`` layout, read into one in-memory uint8 tensor."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from nasframe.errors import DataError
from nasframe.unpickle import load_batch

FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)
MEAN = (0.49139968, 0.48215827, 0.44653124)
STD = (0.24703233, 0.24348505, 0.26158768)


def default_data_dir() -> Path:
    """``$NASFRAME_DATA``, else the per-user cache folder."""
    env = os.environ.get("NASFRAME_DATA")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(cache) / "nasframe" / "data"


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


def locate(root: Path, download: bool) -> Path:
    batches = find_batches(root)
    if batches is None:
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
        try:
            data = np.asarray(batch["data"], dtype=np.uint8)
            lab = np.asarray(batch["labels"], dtype=np.int64)
        except KeyError as exc:
            raise DataError(f"{path} has no {exc.args[0]!r} entry") from None
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(lab) != len(data):
            raise DataError(f"{path}: expected data of shape [N, 3072] and N labels, got {data.shape} and {len(lab)}")
        if lab.size and (lab.min() < 0 or lab.max() > 9):
            raise DataError(f"{path}: labels outside 0..9")
        images.append(torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()))
        labels.append(torch.from_numpy(lab.copy()))
    return torch.cat(images), torch.cat(labels)
