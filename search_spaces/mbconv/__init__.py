"""The MBConv search space (SPEC §2), registered as a plugin like any third-party space."""
from __future__ import annotations

import nasframe
from nasframe.search_spaces.mbconv.blocks import SKIP, Choice, MBConv
from nasframe.search_spaces.mbconv.layout import BlockSpec, Layout, build_layout, round_width
from nasframe.search_spaces.mbconv.networks import MBConvNet, MBConvSupernet
from nasframe.search_spaces.mbconv.space import MBConvSpace

__all__ = [
    "SKIP",
    "BlockSpec",
    "Choice",
    "Layout",
    "MBConv",
    "MBConvNet",
    "MBConvSpace",
    "MBConvSupernet",
    "build_layout",
    "round_width",
]


@nasframe.hookimpl
def register_search_spaces(register):
    register(MBConvSpace)
