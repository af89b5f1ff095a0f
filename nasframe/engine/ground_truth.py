"""A found architecture's published figures (a tabular benchmark's ground truth) in its run's summary."""

from __future__ import annotations

import math
from typing import Any

from nasframe.interfaces.errors import PluginError
from nasframe.interfaces.space import Arch, SearchSpace


def benchmark_record(space: SearchSpace, arch: Arch) -> dict[str, Any]:
    """``{"benchmark": record}`` when the space publishes ground truth for ``arch``, else nothing (never a made-up
    number). The record is checked: numbers are finite, ``source`` says where they come from."""
    record = space.ground_truth(arch)
    if record is None:
        return {}
    if not isinstance(record, dict) or not isinstance(record.get("source"), str):
        raise PluginError(f"space {space.name!r}: ground_truth() must return a dict with a 'source' string or None")
    for key, value in record.items():
        if key != "source" and not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise PluginError(f"space {space.name!r}: ground_truth()[{key!r}] = {value!r} is not a finite number")
    return {"benchmark": dict(record)}
