"""The ProxylessNAS backbone: where the 21 searchable blocks sit, their widths and strides, per variant."""
from __future__ import annotations

from dataclasses import dataclass

from .blocks import SKIP, Choice

VARIANTS = ("cifar", "imagenet")
IMAGE_SIZE = {"cifar": 32, "imagenet": 224}

STEM_WIDTH = 32
FIRST_BLOCK_WIDTH = 16
HEAD_WIDTH = 1280
STAGES = ((24, 4, 2), (40, 4, 2), (80, 4, 2), (96, 4, 1), (192, 4, 2), (320, 1, 1))
"""(width, blocks, stride of the first block) of the searchable stages, at width_mult 1."""

KERNELS = (3, 5, 7)
CHOICE_SETS = {
    "mdenas": tuple(Choice(k, e) for k in KERNELS for e in (1, 3, 6)),
    "proxyless": tuple(Choice(k, e) for k in KERNELS for e in (3, 6)),
}
"""The MBConv candidates of every block; ``proxyless`` also offers ``skip`` where a block can be dropped."""
SKIPPABLE_SETS = {"mdenas": False, "proxyless": True}


def round_width(width: float) -> int:
    """Nearest multiple of 8, at least 8."""
    return max(8, int(width / 8 + 0.5) * 8)


@dataclass(frozen=True)
class BlockSpec:
    """One searchable block position."""

    index: int
    """0-based position among the 21 searchable blocks."""
    stage: int
    """1-based stage number."""
    cin: int
    cout: int
    stride: int
    residual: bool
    """Stride 1 and equal widths at width_mult 1 (so it does not change with width_mult): residual add, skippable."""

    @property
    def name(self) -> str:
        return f"block{self.index + 1:02d}"


@dataclass(frozen=True)
class Layout:
    variant: str
    stem_stride: int
    stem_width: int
    first_width: int
    head_width: int
    blocks: tuple[BlockSpec, ...]


def build_layout(variant: str, width_mult: float) -> Layout:
    """The backbone of ``variant``; CIFAR sets the stem stride and the 24-stage stride to 1 (total stride 8)."""
    w = lambda c: round_width(c * width_mult)  # noqa: E731
    cifar = variant == "cifar"
    blocks = []
    nominal_in, cin = FIRST_BLOCK_WIDTH, w(FIRST_BLOCK_WIDTH)
    for s, (width, count, first_stride) in enumerate(STAGES):
        if cifar and s == 0:
            first_stride = 1
        for j in range(count):
            stride = first_stride if j == 0 else 1
            residual = stride == 1 and nominal_in == width
            blocks.append(BlockSpec(len(blocks), s + 1, cin, w(width), stride, residual))
            nominal_in, cin = width, w(width)
    return Layout(
        variant=variant,
        stem_stride=1 if cifar else 2,
        stem_width=w(STEM_WIDTH),
        first_width=w(FIRST_BLOCK_WIDTH),
        head_width=w(HEAD_WIDTH),
        blocks=tuple(blocks),
    )


def block_choices(spec: BlockSpec, choice_set: str) -> tuple[Choice, ...]:
    """The candidates at one position: the set's MBConvs, then ``skip`` if the set has it and the block allows it."""
    choices = CHOICE_SETS[choice_set]
    if SKIPPABLE_SETS[choice_set] and spec.residual:
        choices = choices + (SKIP,)
    return choices
