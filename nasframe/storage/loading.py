"""Load a finished or unfinished run for analysis in a notebook, and an exported model for inference."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nasframe.interfaces.errors import CheckpointError, NasframeError
from nasframe.interfaces.space import Arch, SearchSpace
from nasframe.registry import get_registry
from nasframe.storage import checkpoint as ckpt_io
from nasframe.storage import readers
from nasframe.storage.integrity import load_signed
from nasframe.storage.run_directory import MODEL_FILE, RunDir


@dataclass
class LoadedRun:
    """A run directory read back: config, events, results and the search state."""

    path: Path
    config: dict[str, Any]
    space: SearchSpace
    events: list[dict[str, Any]]
    epoch: int
    strategy_state: dict[str, Any] = field(default_factory=dict)
    supernet: nn.Module | None = None
    arch: Arch | None = None
    summary: dict[str, Any] | None = None


def load_run(path: str | Path) -> LoadedRun:
    """The config, events, strategy state and supernet (weights loaded, eval mode) of a search run."""
    rundir = RunDir(Path(path))
    if not rundir.config.exists():
        raise NasframeError(f"{path} is not a run directory: it has no config.json")
    config = rundir.read_config()
    space = get_registry().build_space(config)
    run = LoadedRun(rundir.path, config, space, rundir.read_events(), epoch=0)
    if rundir.checkpoint.exists():
        ckpt = ckpt_io.load(rundir.checkpoint)
        run.epoch = int(ckpt.meta["epoch"])
        if "strategy" in ckpt.meta.get("state", {}):
            run.strategy_state = ckpt.nested("strategy")
        weights = ckpt.section("supernet")
        if weights:
            supernet = space.build_supernet()
            supernet.load_state_dict(weights)
            run.supernet = supernet.eval()
    if rundir.arch.exists() or rundir.is_finished():  # a finished run without its arch.json is damaged
        run.arch = space.arch_from_json(readers.read_arch(rundir.arch))
    if rundir.summary.exists():
        run.summary = rundir.read_summary()
    return run


def load_model(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """The network a ``nasframe train`` run exported, weights loaded, in eval mode, ready for inference.

    ``path`` is the run directory (or its model.safetensors); it needs config.json and arch.json beside it.
    A ``nasframe export`` folder holds the same three files, so it loads back the same way (``path`` may
    also be its model.onnx or model.pt2).
    """
    path = Path(path)
    folder = path.parent if path.is_file() else path
    rundir = RunDir(folder)
    weights_file = folder / MODEL_FILE
    if not weights_file.exists():
        raise NasframeError(
            f"{folder} has no {MODEL_FILE}: train it with `nasframe train`, or load a `nasframe export` folder"
        )
    config = rundir.read_config()
    space = get_registry().build_space(config)
    arch = space.arch_from_json(readers.read_arch(rundir.arch))
    model = space.build_child(arch)
    weights, _ = load_signed(weights_file, "model weights")
    try:
        model.load_state_dict(weights)
    except Exception as exc:  # safetensors errors and shape mismatches alike
        raise CheckpointError(f"{weights_file} does not fit the architecture in {rundir.arch}: {exc}") from None
    return model.to(device).eval()
