"""The benchmark's edge ops and the fixed parts of its network, from the shared ``nasframe.layers`` ops.

Each follows the released code (AutoDL-Projects ``xautodl/models/cell_operations.py``): ``nor_conv_kxk``
is ReLU -> k x k conv -> BN (``ReLUConvBN``); ``avg_pool_3x3`` is a 3x3 average pool without BN
(``POOLING`` adds a 1x1 ReLUConvBN only when the channels change, which no cell edge does); ``skip_connect``
is the identity at stride 1; ``none`` outputs zeros. The released ``ReLUConvBN`` gives its conv a bias
when ``affine=False`` (``bias=not affine``): in the search supernet a BatchNorm follows at once and
subtracts any constant per channel, so the bias changes no output and is left out here.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from nasframe.layers import Identity, Op, Pool, ReLUConvBN, Zero

from .cell import OPS


def make_op(name: str, C: int, affine: bool, track_running_stats: bool = True) -> Op:
    """The edge op ``name`` on ``C`` channels at stride 1 (every cell edge of the benchmark's network)."""
    if name == "none":
        return Zero(1)
    if name == "skip_connect":
        return Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(C, C, 1, 1, 0, affine=affine, track_running_stats=track_running_stats)
    if name == "nor_conv_3x3":
        return ReLUConvBN(C, C, 3, 1, 1, affine=affine, track_running_stats=track_running_stats)
    if name == "avg_pool_3x3":
        return Pool("avg", C, 1, bn=False, affine=affine, track_running_stats=track_running_stats)
    raise ValueError(f"unknown NAS-Bench-201 op {name!r}; valid: {', '.join(OPS)}")


class ResidualReduction(nn.Module):
    """The stage transition: ``ResNetBasicblock(C_in, C_out, stride=2)`` of cell_operations.py.

    Two ReLU-conv3x3-BN (the first strided) plus a shortcut of 2x2 average pool and 1x1 conv (no BN);
    affine BatchNorm that tracks running statistics, in the child and the search network alike (the
    search models build it with its defaults).
    """

    def __init__(self, C_in: int, C_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(C_in, C_out, 3, 2, 1, affine=True)
        self.conv_b = ReLUConvBN(C_out, C_out, 3, 1, 1, affine=True)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(C_in, C_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


def stem(in_channels: int, C: int) -> nn.Sequential:
    """3x3 conv to ``C`` channels and affine BN (``TinyNetwork.stem``)."""
    return nn.Sequential(nn.Conv2d(in_channels, C, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(C))


def head(C: int, num_classes: int) -> nn.Sequential:
    """BN + ReLU (``lastact``), global average pool, linear classifier."""
    return nn.Sequential(
        nn.BatchNorm2d(C), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(C, num_classes)
    )


def stage_plan(C: int, N: int) -> list[tuple[int, bool]]:
    """``(channels, is_reduction)`` of every layer: N cells at C, a reduction, N at 2C, a reduction, N at 4C."""
    return [(C, False)] * N + [(2 * C, True)] + [(2 * C, False)] * N + [(4 * C, True)] + [(4 * C, False)] * N


def stages(C: int, N: int, cell: Callable[[int], nn.Module]) -> tuple[nn.ModuleList, int]:
    """The body between stem and head, as ``stage_plan`` lays it out: ``cell(channels)`` for each cell, a
    ``ResidualReduction`` between stages; returns the layers and the channels of the last one."""
    layers: list[nn.Module] = []
    C_prev = C
    for C_curr, reduction in stage_plan(C, N):
        layers.append(ResidualReduction(C_prev, C_curr) if reduction else cell(C_curr))
        C_prev = C_curr
    return nn.ModuleList(layers), C_prev


__all__ = ["ResidualReduction", "head", "make_op", "stage_plan", "stages", "stem"]
