"""The op library every space builds from (as timm's ``layers/`` serves its model families): a space imports these
instead of copying another space's ops.

``ops``: cell operations with a weighted form for mixed (DARTS) supernets; ``inverted_residual``: the MobileNetV2
inverted-residual block and its conv-BN-ReLU6 layers.
"""

from __future__ import annotations

from nasframe.layers.inverted_residual import InvertedResidual, conv_bn
from nasframe.layers.ops import (
    DilConv,
    FactorizedReduce,
    Identity,
    MixedEdge,
    Op,
    Pool,
    ReLUConvBN,
    ReluOp,
    SepConv,
    Zero,
    batch_norm,
    drop_path,
)

__all__ = [
    "DilConv",
    "FactorizedReduce",
    "Identity",
    "InvertedResidual",
    "MixedEdge",
    "Op",
    "Pool",
    "ReLUConvBN",
    "ReluOp",
    "SepConv",
    "Zero",
    "batch_norm",
    "conv_bn",
    "drop_path",
]
