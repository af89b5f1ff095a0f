"""Multiply-adds and parameters per (decision, choice): the cost tables a budget checks and a cost loss differentiates."""

from __future__ import annotations

import json
from dataclasses import asdict

import torch

from nasframe.interfaces.cost_model import CostTable
from nasframe.interfaces.space import Block, Blocks, SearchSpace
from nasframe.measure.cost import arch_cost, count_module_flops, count_params

_counted: dict[str, dict[str, CostTable]] = {}


def counted_tables(space: SearchSpace) -> dict[str, CostTable]:
    """Multiply-adds and parameters per choice, counted; cached per space config.

    From ``space.cost_blocks()`` when the space cuts its networks into blocks (one count per
    block), else from child networks that differ from one reference in one decision. Either is exact
    whenever a space's costs add up over its decisions (both built-in spaces': an MBConv block's or a
    DARTS edge op's cost depends only on its position); the final architecture is counted anyway.
    """
    key = json.dumps([space.name, space.config, asdict(space.data)], sort_keys=True, default=str)
    if key not in _counted:
        blocks = space.cost_blocks()
        _counted[key] = _tables_from_blocks(space, blocks) if blocks is not None else _tables_from_children(space)
    return _counted[key]


def _tables_from_blocks(space: SearchSpace, blocks: Blocks) -> dict[str, CostTable]:
    def count(parts: tuple[Block, ...]) -> tuple[float, float]:
        flops = sum(count_module_flops(b.module, b.input_shape) for b in parts)
        return float(flops), float(sum(count_params(b.module) for b in parts))

    flops = torch.zeros(len(space.decisions), space.max_choices, dtype=torch.float64)
    params = torch.zeros_like(flops)
    for i, per in enumerate(blocks.choices):
        for c, parts in enumerate(per):
            flops[i, c], params[i, c] = count(parts)
    base_flops, base_params = count(blocks.fixed)
    return {"flops": CostTable("flops", base_flops, flops), "params": CostTable("params", base_params, params)}


def _tables_from_children(space: SearchSpace) -> dict[str, CostTable]:
    reference = {d.name: 0 for d in space.decisions}
    base = arch_cost(space, reference)
    flops = torch.zeros(len(space.decisions), space.max_choices, dtype=torch.float64)
    params = torch.zeros_like(flops)
    for i, d in enumerate(space.decisions):
        for c in range(1, len(d.choices)):
            cost = arch_cost(space, {**reference, d.name: c})
            flops[i, c] = cost.flops - base.flops
            params[i, c] = cost.params - base.params
    return {"flops": CostTable("flops", base.flops, flops), "params": CostTable("params", base.params, params)}
