"""Batch-1 latency of the exported file beside PyTorch's, timed as ``nasframe latency`` times (the same function,
warm-up and repeats), and the cost model's prediction where the space has one.

The two are timed in alternating rounds and each keeps its fastest round's median, so load from other work on a
shared machine falls on both alike.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import torch
from torch import nn

from nasframe.engine.budget import latency_model, latency_report
from nasframe.interfaces.errors import NasframeError
from nasframe.interfaces.space import Arch, SearchSpace
from nasframe.measure.latency import time_forward
from nasframe.measure.latency_table import REPEATS, ROUNDS, WARMUP, device_name
from nasframe.registry import Registry

CPU = torch.device("cpu")


class Forward(nn.Module):
    """A function of a batch as a module, so ``time_forward`` times an onnxruntime session or a loaded program
    (which refuses ``eval()``) exactly as it times a PyTorch network."""

    def __init__(self, run: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.run = run

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x)


def measure_speed(
    model: nn.Module, run: Callable[[torch.Tensor], torch.Tensor], image_shape: tuple[int, ...]
) -> dict[str, Any]:
    """Median ms of one batch-1 forward pass in PyTorch and in the exported file's runtime, on the CPU."""
    shape = (1, *image_shape)
    exported = Forward(run)
    best: dict[str, float] = {}
    for _ in range(ROUNDS):
        for name, module in (("pytorch_ms", model), ("exported_ms", exported)):
            seconds = time_forward(module, shape, CPU, WARMUP, REPEATS)
            best[name] = min(seconds, best.get(name, seconds))
    return {
        **{k: round(v * 1000, 3) for k, v in best.items()},
        "batch_size": 1,
        "device": "cpu",
        "device_name": device_name(CPU),
        "threads": torch.get_num_threads(),
        "warmup": WARMUP,
        "repeats": REPEATS,
        "rounds": ROUNDS,
    }


def predicted_latency(
    config: Mapping[str, Any], space: SearchSpace, arch: Arch, measured_ms: float, registry: Registry
) -> dict[str, Any]:
    """The run's cost model's batch-1 CPU prediction beside the measured PyTorch latency (None: it cannot predict)."""
    cost = dict(config["cost"])
    if int(cost.get("batch_size", 1)) != 1:
        cost["batch_size"] = 1
    try:
        model = latency_model({**config, "cost": cost}, space, CPU, registry)
    except NasframeError:  # the run's table was measured for another device or setting: measure one here
        cost["table"] = None
        model = latency_model({**config, "cost": cost}, space, CPU, registry)
    return {"cost_model": cost["model"], "cost_table": cost.get("table"), **latency_report(model, arch, measured_ms)}
