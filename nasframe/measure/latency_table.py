"""The ``lookup`` cost model: ProxylessNAS's latency lookup table, one timing per block choice and position, added up.

A table is JSON: a header naming what it was measured for (space and its config, data, device and
its name, torch version, batch size, warm-up and repeats) and the median latency in microseconds of
the fixed blocks and of every (decision, choice) block. ``nasframe latency`` writes one; a run reads
it with ``--set cost.table=FILE`` or, without one, measures its own when it first needs a prediction.
"""

from __future__ import annotations

import json
import math
import platform
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from nasframe.interfaces.cost_model import CostModel, CostTable
from nasframe.interfaces.errors import ConfigError
from nasframe.interfaces.hooks import hookimpl
from nasframe.interfaces.space import Arch, Block, SearchSpace
from nasframe.interfaces.text import shorten
from nasframe.measure.latency import time_forward

KIND = "nasframe-latency-table"
FORMAT = 1
WARMUP, REPEATS = 3, 10
"""Per block, as ``describe_network`` times a whole network."""
ROUNDS = 3
"""Passes over every block; a block's latency is its fastest pass's median (the least disturbed by other work
and by the allocator's state, see docs/algorithms.md#hardware-budgets)."""


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model name from /proc/cpuinfo (the processor name elsewhere)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measure_table(space: SearchSpace, device: torch.device, batch_size: int = 1) -> dict[str, Any] | None:
    """Time every block of ``space.cost_blocks()`` alone on ``device``; the table as JSON (None: no blocks)."""
    blocks = space.cost_blocks()
    if blocks is None:
        return None

    every = list(blocks.fixed) + [b for per in blocks.choices for parts in per for b in parts]
    fastest: dict[int, float] = {}
    for _ in range(ROUNDS):  # whole passes: what disturbs one pass of a block (other work, page faults) spares another
        for b in every:
            seconds = time_forward(b.module, (batch_size, *b.input_shape), device, WARMUP, REPEATS)
            fastest[id(b)] = min(seconds, fastest.get(id(b), seconds))

    def micros(parts: tuple[Block, ...]) -> float:
        return sum(fastest[id(b)] * 1e6 for b in parts)

    return {
        "kind": KIND,
        "format": FORMAT,
        "space": space.name,
        "space_config": space.config,
        "data": asdict(space.data),
        "device": device.type,
        "device_name": device_name(device),
        "torch": torch.__version__,
        "batch_size": batch_size,
        "warmup": WARMUP,
        "repeats": REPEATS,
        "rounds": ROUNDS,
        "unit": "us",
        "fixed_us": micros(blocks.fixed),
        "choices_us": {
            d.name: {name: micros(parts) for name, parts in zip(d.choices, per)}
            for d, per in zip(space.decisions, blocks.choices)
        },
    }


def read_table(path: str | Path, space: SearchSpace, device: torch.device, batch_size: int) -> dict[str, Any]:
    """A saved table, refused unless it was measured for this space config, data, device type and batch size."""
    try:
        obj = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ConfigError(f"cannot read the latency table {path}: {shorten(str(exc) or type(exc).__name__)}") from None
    if not isinstance(obj, dict) or obj.get("kind") != KIND:
        raise ConfigError(f"{path} is not a nasframe latency table (write one with `nasframe latency`)")
    check_timings(obj, path)
    wanted = {
        "space": space.name,
        "space_config": space.config,
        "data": asdict(space.data),
        "device": device.type,
        "batch_size": batch_size,
    }
    for key, value in wanted.items():
        if json.loads(json.dumps(obj.get(key))) != json.loads(json.dumps(value)):
            raise ConfigError(f"latency table {path} was measured for {key} {obj.get(key)!r}, this run needs {value!r}")
    return obj


def _timing(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def check_timings(obj: dict[str, Any], path: str | Path) -> None:
    """Refuse a table whose timings are not finite numbers >= 0 (a hand edit, a bad merge, a NaN from a bug).

    A negative or missing timing would make every prediction, every budget check and ProxylessNAS's
    latency loss silently wrong, far from the file that caused it.
    """
    hint = "measure it again with `nasframe latency`"
    if not _timing(obj.get("fixed_us")):
        raise ConfigError(
            f"latency table {path}: fixed_us = {shorten(obj.get('fixed_us'), 40)} is not a time >= 0; {hint}"
        )
    choices = obj.get("choices_us")
    if not isinstance(choices, dict) or not all(isinstance(row, dict) for row in choices.values()):
        raise ConfigError(f"latency table {path}: choices_us is not an object of decisions and timings; {hint}")
    for decision, row in choices.items():
        for choice, value in row.items():
            if not _timing(value):
                raise ConfigError(
                    f"latency table {path}: {shorten(decision, 40)}/{shorten(choice, 40)} = {shorten(value, 40)} "
                    f"is not a time >= 0; {hint}"
                )


def cost_table(obj: dict[str, Any], space: SearchSpace) -> CostTable:
    """The table's timings as an additive ``CostTable`` over ``space.decisions``."""
    values = torch.zeros(len(space.decisions), space.max_choices, dtype=torch.float64)
    choices = obj["choices_us"]
    for i, d in enumerate(space.decisions):
        row = choices.get(d.name, {})
        missing = [c for c in d.choices if c not in row]
        if missing:
            raise ConfigError(f"the latency table has no timing for {d.name}: {', '.join(missing)}")
        values[i, : len(d.choices)] = torch.tensor([float(row[c]) for c in d.choices], dtype=torch.float64)
    return CostTable("latency_us", float(obj["fixed_us"]), values)


class LookupTable(CostModel):
    """ProxylessNAS's latency predictor: the sum of the measured latencies of an architecture's blocks.

    Reads ``cost.table`` (a file from ``nasframe latency``) when set; otherwise measures the space's
    blocks on the run's device the first time a prediction is needed (seconds for the tiny preset).
    """

    name = "lookup"

    def fit(self, space: SearchSpace, device: torch.device, batch_size: int) -> bool:
        path = self.config.get("table")
        record = read_table(path, space, device, batch_size) if path else measure_table(space, device, batch_size)
        if record is None:
            return False
        self.record, self.space = record, space
        self._table = cost_table(self.record, space)
        return True

    def predict_us(self, arch: Arch) -> float:
        return self._table.predict(self.space, arch)

    def table(self) -> CostTable:
        return self._table


@hookimpl
def register_cost_models(register: Any) -> None:
    register(LookupTable)
