"""A digest of a whole safetensors file, stored in its own header, so a flipped byte anywhere is caught on load.

safetensors checks the header's syntax and the data's length, not the data itself: a bit flipped in a
weight (a bad disk, a partial copy, a hand edit) loads as a silently different network. nasframe writes
the file with a blank digest (64 zeros) in the metadata, hashes the whole file (header included), and writes
the hex digest over the blank one. The reader zeroes the digest's place again, hashes, and compares; so
the header (metadata, shapes, offsets, padding) and every tensor byte are covered, and the check needs no
second file that could be lost or copied apart from the checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from pathlib import Path
from typing import Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_bytes
from safetensors.torch import save_file

from nasframe.interfaces.errors import CheckpointError

DIGEST_KEY = "nasframe_sha256"
_BLANK_DIGEST = "0" * 64


def _field(digest: str) -> bytes:
    return json.dumps({DIGEST_KEY: digest}, separators=(",", ":"))[1:-1].encode()


def save_signed(tensors: Mapping[str, torch.Tensor], path: str | os.PathLike, metadata: Mapping[str, str]) -> None:
    """``safetensors.save_file`` plus the file's sha256 in its metadata (``path`` is a temp file of an atomic write)."""
    try:
        save_file(dict(tensors), str(path), metadata={**metadata, DIGEST_KEY: _BLANK_DIGEST})
    except SafetensorError as exc:  # safetensors reports a full disk as its own error, not an OSError
        raise _as_os_error(exc, path) from None
    with open(path, "r+b") as f:
        data = f.read()
        blank = _field(_BLANK_DIGEST)
        at = data.find(blank, 8, 8 + _header_length(data))
        if at < 0:  # pragma: no cover - safetensors wrote the metadata in another layout
            raise RuntimeError(f"safetensors did not write {DIGEST_KEY} as expected in {path}")
        f.seek(at)
        f.write(_field(hashlib.sha256(data).hexdigest()))


def _as_os_error(exc: SafetensorError, path: str | os.PathLike) -> BaseException:
    """A full disk (or another OS refusal) as the OSError it is, so the CLI shows it as one line.

    safetensors wraps the OS error in its own text (``IoError(Os { code: 28, kind: StorageFull, ... })``).
    """
    found = re.search(r"\bcode: (\d+)", str(exc))
    if found is None:
        return exc
    number = int(found.group(1))
    return OSError(number, os.strerror(number), str(path))


def _header_length(data: bytes) -> int:
    if len(data) < 8:
        raise ValueError("shorter than a safetensors header")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError(f"its header claims {n} bytes, the file has {len(data) - 8} after the length")
    return n


def load_signed(path: str | os.PathLike, what: str = "checkpoint") -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and metadata of a file ``save_signed`` wrote, after checking its digest.

    Any damage is a ``CheckpointError`` naming the file and what to do; a file without a digest (written
    by hand or by nasframe before digests) is refused too, because it cannot be told from a damaged one.
    """
    path = Path(path)
    hint = "restore it from a copy, or start again in a new --out"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"no {what} at {path}") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        n = _header_length(data)
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
        metadata = header.get("__metadata__") or {}
        digest = metadata.get(DIGEST_KEY)
    except (ValueError, UnicodeDecodeError, AttributeError) as exc:
        raise CheckpointError(
            f"{what} {path} is damaged (truncated or not a safetensors file: {exc}); {hint}"
        ) from None
    if not isinstance(digest, str) or len(digest) != 64:
        raise CheckpointError(
            f"{what} {path} has no integrity digest: it is damaged, or was written by hand or by an older "
            f"nasframe, and cannot be verified; {hint}"
        )
    field = _field(digest)
    at = data.find(field, 8, 8 + n)
    actual = None
    if at >= 0:
        blank = data[:at] + _field(_BLANK_DIGEST) + data[at + len(field) :]
        actual = hashlib.sha256(blank).hexdigest()
    if actual != digest:
        raise CheckpointError(f"{what} {path} is damaged: its content does not match its sha256 digest; {hint}")
    try:
        tensors = load_bytes(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:  # pragma: no cover - the digest matched
        raise CheckpointError(f"{what} {path} is damaged: {exc}; {hint}") from None
    return tensors, {k: v for k, v in metadata.items() if k != DIGEST_KEY}
