"""The DARTS edge choices and the cells' preprocessing, built from the shared ``nasframe.layers`` ops
(docs/algorithms.md#edge-choices)."""

from __future__ import annotations

from torch import nn

from nasframe.layers import DilConv, FactorizedReduce, Identity, Op, Pool, ReLUConvBN, SepConv, Zero

CHOICES: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
"""The choices of every edge, in the fixed order of docs/algorithms.md#edge-choices (index 0 is ``none``)."""

NONE = 0
"""Index of ``none`` in ``CHOICES``."""


def cell_preprocessing(
    C_prev_prev: int, C_prev: int, C: int, reduction_prev: bool, affine: bool
) -> tuple[nn.Module, nn.Module]:
    """What brings a cell's two inputs to ``C`` channels (halving the older one after a reduction cell)."""
    if reduction_prev:
        first: nn.Module = FactorizedReduce(C_prev_prev, C, affine=affine)
    else:
        first = ReLUConvBN(C_prev_prev, C, 1, 1, 0, affine=affine)
    return first, ReLUConvBN(C_prev, C, 1, 1, 0, affine=affine)


def make_op(name: str, C: int, stride: int, affine: bool, pool_bn: bool) -> Op:
    """The edge op ``name`` on ``C`` channels; ``pool_bn``: follow pools by BatchNorm (the supernet)."""
    if name == "none":
        return Zero(stride)
    if name == "max_pool_3x3":
        return Pool("max", C, stride, pool_bn, affine)
    if name == "avg_pool_3x3":
        return Pool("avg", C, stride, pool_bn, affine)
    if name == "skip_connect":
        return Identity() if stride == 1 else FactorizedReduce(C, C, affine)
    if name == "sep_conv_3x3":
        return SepConv(C, 3, stride, affine)
    if name == "sep_conv_5x5":
        return SepConv(C, 5, stride, affine)
    if name == "dil_conv_3x3":
        return DilConv(C, 3, stride, affine)
    if name == "dil_conv_5x5":
        return DilConv(C, 5, stride, affine)
    raise ValueError(f"unknown DARTS op {name!r}; valid: {', '.join(CHOICES)}")
