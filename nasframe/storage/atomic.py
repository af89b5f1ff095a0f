"""Atomic file writes: a run killed at any moment leaves either the old file or the new one."""

from __future__ import annotations

import errno
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from nasframe.interfaces.errors import NasframeError


def write_atomic(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` on a temp file beside ``path``, fsync it, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # name the file the user asked for, not the temp file
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    os.close(fd)
    try:
        write(tmp)  # (a writer may replace the file: safetensors does)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a run file gets what open() would give it
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):  # the user's, and nothing lost
            raise NasframeError(
                f"cannot write {path}: {exc.strerror}; the file is as it was before this write (free space, then "
                "run the same command again, with --resume for a run)"
            ) from None
        if isinstance(exc, OSError) and exc.filename == tmp:  # name the file the user knows, not the temp file
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _umask() -> int:
    """The process's umask, read without changing it where /proc allows (no window with another umask)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_creatable(path: Path, what: str) -> None:
    """Refuse, before any work is done, a ``path`` whose nearest existing folder cannot take a new entry.

    A probe folder is made and removed there, which catches permissions, read-only and virtual file systems.
    """
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise NasframeError(f"cannot create {what}: {existing} is a file, not a directory")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".nasframe-probe-", dir=existing))
    except OSError as exc:
        raise NasframeError(f"cannot create {what}: {existing} is not writable ({exc.strerror})") from None


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    write_atomic(path, write)


def finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float replaced by None: JSON has no such numbers, and a value that
    is not a number (a diverged loss, an accuracy of no image) is unknown, which JSON spells null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def to_json(obj: Any, **kwargs: Any) -> str:
    """The one JSON encoding of nasframe's files: standard JSON only (never NaN or Infinity)."""
    return json.dumps(finite(obj), allow_nan=False, **kwargs)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    write_text_atomic(path, to_json(obj, indent=2, sort_keys=False) + "\n")


def write_jsonl_atomic(path: str | os.PathLike, records: list[dict[str, Any]]) -> None:
    """Rewrite a whole JSON-lines file, so no record is ever half-written or duplicated."""
    write_text_atomic(path, "".join(to_json(r) + "\n" for r in records))
