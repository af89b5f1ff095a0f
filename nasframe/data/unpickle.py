"""A restricted unpickler for CIFAR batch files: a planted pickle cannot run code."""

from __future__ import annotations

import pickle
from typing import Any, BinaryIO

import numpy as np

from nasframe.interfaces.errors import DataError
from nasframe.interfaces.text import shorten


def _reconstruct() -> Any:
    try:
        from numpy._core.multiarray import _reconstruct as fn  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct as fn
    return fn


_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct(),
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct(),
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): __import__("_codecs").encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Admits numpy array reconstruction and plain containers, nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: a CIFAR batch file holds only arrays and plain containers"
            ) from None


def load_batch(f: BinaryIO, source: str) -> dict[str, Any]:
    """Read one CIFAR batch file into a dict with str keys."""
    try:
        obj = RestrictedUnpickler(f, encoding="bytes").load()
    except Exception as exc:  # an allowed global called with arguments it rejects raises anything at all
        raise DataError(f"{source} is not a CIFAR batch file: {type(exc).__name__}: {shorten(str(exc))}") from None
    if not isinstance(obj, dict):
        raise DataError(f"{source} is not a CIFAR batch file: it holds a {type(obj).__name__}, not a dict")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def cifar_arrays(
    batch: dict[str, Any], source: str, labels_key: str = "labels", classes: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """The images [N, 3072] uint8 and labels [N] int64 of a batch, refused unless they are exactly that.

    A file can unpickle into anything the admitted types build (a string for the images, float labels,
    an object array): a plain cast would wrap 300 to 44 or truncate 2.7 to 2 and train on it silently.
    """

    def bad(what: str) -> DataError:
        return DataError(f"{source} is not a CIFAR batch file: {what}")

    if "data" not in batch or labels_key not in batch:
        missing = [k for k in ("data", labels_key) if k not in batch]
        raise bad(f"it has no {' and no '.join(map(repr, missing))} entry")
    data, labels = batch["data"], batch[labels_key]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        kind = f"an array of {data.dtype}" if isinstance(data, np.ndarray) else f"a {type(data).__name__}"
        raise bad(f"'data' is {kind}, not an array of uint8 pixels")
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise bad(f"'data' has shape {list(data.shape)}, not [N, 3072]")
    if isinstance(labels, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in labels):
        labels = np.asarray(labels, dtype=np.int64) if labels else np.zeros(0, dtype=np.int64)
    if not isinstance(labels, np.ndarray) or labels.dtype.kind not in "iu" or labels.ndim != 1:
        raise bad(f"{labels_key!r} is not a list of whole-number class indices")
    if len(labels) != len(data):
        raise bad(f"{len(data)} images but {len(labels)} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise bad(f"labels outside 0..{classes - 1}")
    return data, labels.astype(np.int64)
