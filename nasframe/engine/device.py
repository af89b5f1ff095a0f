"""Device choice and the CUDA fast path settings."""

from __future__ import annotations

import contextlib
from typing import Any, ContextManager, Mapping

import torch

from nasframe.interfaces.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when it is there; ``cuda`` without a GPU is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for, but no CUDA GPU is available; use --device cpu")
    return device


def prepare(device: torch.device) -> None:
    """Let cuDNN pick the fastest kernels for the fixed input shapes of a search."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def autocast(device: torch.device, train_cfg: Mapping[str, Any]) -> ContextManager[Any]:
    """bf16 autocast on CUDA when ``train.amp`` is on; full precision on CPU (bit-identical resumes)."""
    if device.type == "cuda" and train_cfg.get("amp", True):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
