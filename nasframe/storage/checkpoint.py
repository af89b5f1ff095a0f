"""Checkpoints as safetensors: tensors by name, everything else in the JSON metadata; no pickle."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

from nasframe.interfaces.errors import CheckpointError
from nasframe.storage.atomic import write_atomic
from nasframe.storage.integrity import load_signed, save_signed
from nasframe.storage.tensor_tree import flatten, tensor_keys, unflatten

FORMAT = "nasframe-checkpoint"
FORMAT_VERSION = 2
"""2: the file carries its sha256 (``storage/integrity.py``); version 1 files had none and are refused."""


@dataclass
class Checkpoint:
    """One consistent snapshot of a run at an epoch boundary."""

    meta: dict[str, Any]
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)

    def section(self, prefix: str) -> dict[str, torch.Tensor]:
        """Tensors under ``prefix.`` with the prefix stripped (a module's state_dict)."""
        cut = len(prefix) + 1
        return {k[cut:]: v for k, v in self.tensors.items() if k.startswith(prefix + ".")}

    def nested(self, name: str) -> Any:
        """A state saved with ``put_nested``, rebuilt from its skeleton."""
        return unflatten(self.meta["state"][name], self.tensors)

    def put_module(self, prefix: str, state: Mapping[str, torch.Tensor]) -> None:
        for k, v in state.items():
            self.tensors[f"{prefix}.{k}"] = v.detach().cpu().contiguous().clone()

    def put_nested(self, name: str, state: Any) -> None:
        tensors, skeleton = flatten(state, name)
        self.tensors.update(tensors)
        self.meta.setdefault("state", {})[name] = skeleton


def save(path: str | Path, ckpt: Checkpoint) -> None:
    """Write atomically and signed: a kill at any moment leaves the previous checkpoint intact, a flipped byte is caught."""
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **ckpt.meta}
    text = json.dumps(meta)
    write_atomic(path, lambda tmp: save_signed(ckpt.tensors, tmp, metadata={"nasframe": text}))


def load(path: str | Path) -> Checkpoint:
    """Read and check a checkpoint; a damaged one raises ``CheckpointError`` saying what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    tensors, metadata = load_signed(path)
    raw = metadata.get("nasframe")
    if raw is None:
        raise CheckpointError(f"checkpoint {path} has no nasframe metadata: it was not written by nasframe")
    try:
        meta = json.loads(raw)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"checkpoint {path} has malformed metadata: {exc}") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint {path} has malformed metadata: a JSON {type(meta).__name__}, not an object")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path} is not a nasframe checkpoint (format {meta.get('format')!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {meta.get('format_version')!r}; this nasframe reads "
            f"version {FORMAT_VERSION}"
        )
    missing = [k for skel in meta.get("state", {}).values() for k in tensor_keys(skel) if k not in tensors]
    missing += [k for k in meta.get("required", []) if k not in tensors]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise CheckpointError(f"checkpoint {path} is missing tensors: {shown}")
    return Checkpoint(meta, tensors)
