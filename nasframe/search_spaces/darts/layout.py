"""The DARTS network skeleton shared by the search supernet and the child: stem and cell channel plan."""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class CellShape:
    """Channels and strides of one cell in the stack."""

    C_prev_prev: int
    C_prev: int
    C: int
    reduction: bool
    reduction_prev: bool
    C_out: int
    """Channels the cell outputs: its nodes concatenated."""


def stem(in_channels: int, C: int, stem_multiplier: int) -> nn.Sequential:
    """3x3 conv to ``stem_multiplier * C`` channels + BN, feeding both inputs of the first cell."""
    C_stem = stem_multiplier * C
    return nn.Sequential(nn.Conv2d(in_channels, C_stem, 3, padding=1, bias=False), nn.BatchNorm2d(C_stem))


def cell_plan(C: int, layers: int, nodes: int, stem_multiplier: int) -> list[CellShape]:
    """Every cell's shape: reductions at layers//3 and 2*layers//3, each doubling C."""
    C_prev_prev = C_prev = stem_multiplier * C
    C_curr, reduction_prev, plan = C, False, []
    for i in range(layers):
        reduction = i in (layers // 3, 2 * layers // 3)
        if reduction:
            C_curr *= 2
        plan.append(CellShape(C_prev_prev, C_prev, C_curr, reduction, reduction_prev, nodes * C_curr))
        reduction_prev = reduction
        C_prev_prev, C_prev = C_prev, nodes * C_curr
    return plan
