"""A restricted unpickler for data sets shipped as pickled batches of arrays: a planted pickle cannot run code."""

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
                f"refusing to load {module}.{name}: a batch file holds only arrays and plain containers"
            ) from None


def load_pickled_batch(f: BinaryIO, source: str, what: str = "a batch file") -> dict[str, Any]:
    """Read one pickled batch file (a dict of arrays and lists) into a dict with str keys; ``what`` names it in errors."""
    try:
        obj = RestrictedUnpickler(f, encoding="bytes").load()
    except Exception as exc:  # an allowed global called with arguments it rejects raises anything at all
        raise DataError(f"{source} is not {what}: {type(exc).__name__}: {shorten(str(exc))}") from None
    if not isinstance(obj, dict):
        raise DataError(f"{source} is not {what}: it holds a {type(obj).__name__}, not a dict")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}
