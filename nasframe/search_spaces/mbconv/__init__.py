"""The MBConv search space (docs/algorithms.md#mbconv-space), registered as a plugin like any third-party space."""

from __future__ import annotations

import nasframe

from .blocks import SKIP, Choice
from .layout import BlockSpec, Layout, build_layout, round_width
from .networks import MBConvNet, MBConvSupernet
from .space import MBConvSpace

__all__ = [
    "SKIP",
    "BlockSpec",
    "Choice",
    "Layout",
    "MBConvNet",
    "MBConvSpace",
    "MBConvSupernet",
    "build_layout",
    "round_width",
]


@nasframe.hookimpl
def register_search_spaces(register):
    register(MBConvSpace)
