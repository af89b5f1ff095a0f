"""The DARTS network skeleton shared by the search supernet and the child: stems and cell channel plan.

Two variants, as DARTS's ``model.py``: ``cifar`` (one 3x3 conv to ``stem_multiplier * C``, feeding
both inputs of the first cell) and ``imagenet`` (NetworkImageNet: two stride-2 3x3 convs to C/2
then C, and a third stride-2 conv, so that 224x224 reaches the first cell at 28x28; the first cell
reduces its first input as if the cell before it were a reduction).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from nasframe import DataInfo

VARIANTS = ("cifar", "imagenet")


def network_variant(variant: str, data: DataInfo) -> str:
    """``auto``: the ImageNet network for large images (224 pixels), the CIFAR one up to 64 (16-pixel ImageNet too)."""
    return variant if variant != "auto" else "imagenet" if data.image_size > 64 else "cifar"


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


def stems(variant: str, in_channels: int, C: int, stem_multiplier: int) -> tuple[nn.Sequential, nn.Sequential | None]:
    """(stem, stem1): the first cell's inputs are ``s0 = stem(x)`` and ``s1 = stem1(s0)``, or ``s0`` without stem1.

    ``cifar``: 3x3 conv to ``stem_multiplier * C`` + BN. ``imagenet``: 3x3/2 conv to C/2, BN, ReLU,
    3x3/2 conv to C, BN; then stem1: ReLU, 3x3/2 conv to C, BN (DARTS's ``stem0`` and ``stem1``).
    """
    if variant != "imagenet":
        C_stem = stem_multiplier * C
        return nn.Sequential(nn.Conv2d(in_channels, C_stem, 3, padding=1, bias=False), nn.BatchNorm2d(C_stem)), None
    stem0 = nn.Sequential(
        nn.Conv2d(in_channels, C // 2, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(C // 2),
        nn.ReLU(inplace=True),
        nn.Conv2d(C // 2, C, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(C),
    )
    stem1 = nn.Sequential(
        nn.ReLU(inplace=False), nn.Conv2d(C, C, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(C)
    )
    return stem0, stem1


def first_inputs(stem: nn.Module, stem1: nn.Module | None, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two inputs of the first cell from the stems that ``stems`` built."""
    s0 = stem(x)
    return s0, s0 if stem1 is None else stem1(s0)


def cell_plan(variant: str, C: int, layers: int, nodes: int, stem_multiplier: int) -> list[CellShape]:
    """Every cell's shape: reductions at layers//3 and 2*layers//3, each doubling C."""
    imagenet = variant == "imagenet"
    C_prev_prev = C_prev = C if imagenet else stem_multiplier * C
    C_curr, reduction_prev, plan = C, imagenet, []
    for i in range(layers):
        reduction = i in (layers // 3, 2 * layers // 3)
        if reduction:
            C_curr *= 2
        plan.append(CellShape(C_prev_prev, C_prev, C_curr, reduction, reduction_prev, nodes * C_curr))
        reduction_prev = reduction
        C_prev_prev, C_prev = C_prev, nodes * C_curr
    return plan
