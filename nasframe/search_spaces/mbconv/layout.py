"""The backbones (skeletons) of the MBConv space: where the searchable blocks sit, their widths and strides."""

from __future__ import annotations

from dataclasses import dataclass

from nasframe import DataInfo

from .blocks import SKIP, Choice

VARIANTS = ("cifar", "imagenet")


def network_variant(variant: str, data: DataInfo) -> str:
    """``auto``: the ImageNet network for large images (224 pixels), the CIFAR one up to 64 (16-pixel ImageNet too)."""
    return variant if variant != "auto" else "imagenet" if data.image_size > 64 else "cifar"


@dataclass(frozen=True)
class Skeleton:
    """A backbone at width_mult 1: stem, optional fixed first block, searchable stages, head."""

    stem_width: int
    first_width: int | None
    """Width of the fixed MBConv(3, 1) block after the stem; None: the first searchable block follows the stem."""
    stages: tuple[tuple[int, int, int], ...]
    """(width, blocks, stride of the first block) of the searchable stages."""
    head_width: int
    bn_eps: float


SKELETONS = {
    # ProxylessNAS's released GPU net with its zero layers dropped (docs/reproduce.md cites the config).
    "gpu": Skeleton(
        40, None, ((24, 1, 1), (32, 1, 2), (56, 2, 2), (112, 2, 2), (128, 3, 1), (256, 4, 2), (432, 1, 1)), 1728, 1e-3
    ),
    # ProxylessNAS's released CPU net with its two zero layers (in the 88-wide stage) dropped.
    "cpu": Skeleton(
        40, None, ((24, 1, 1), (32, 4, 2), (48, 4, 2), (88, 2, 2), (104, 4, 1), (216, 4, 2), (360, 1, 1)), 1432, 1e-3
    ),
    # ProxylessNAS's search backbone: 21 searchable blocks after a fixed 16-wide first block.
    "search": Skeleton(32, 16, ((24, 4, 2), (40, 4, 2), (80, 4, 2), (96, 4, 1), (192, 4, 2), (320, 1, 1)), 1280, 1e-5),
}
"""``space.skeleton``: ``gpu`` (14 positions), ``cpu`` (20) and ``search`` (21)."""

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
    """0-based position among the searchable blocks."""
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
    skeleton: str
    stem_stride: int
    stem_width: int
    first_width: int | None
    head_width: int
    bn_eps: float
    blocks: tuple[BlockSpec, ...]


def build_layout(variant: str, width_mult: float, skeleton: str = "search") -> Layout:
    """``skeleton``'s backbone; CIFAR sets the stem stride and the first stride-2 stage's stride to 1 (total stride 8)."""
    w = lambda c: round_width(c * width_mult)  # noqa: E731
    plan = SKELETONS[skeleton]
    cifar = variant == "cifar"
    downsampling = [s for s, (_, _, stride) in enumerate(plan.stages) if stride == 2]
    blocks = []
    nominal_in = plan.first_width or plan.stem_width
    cin = w(nominal_in)
    for s, (width, count, first_stride) in enumerate(plan.stages):
        if cifar and s == downsampling[0]:
            first_stride = 1
        for j in range(count):
            stride = first_stride if j == 0 else 1
            residual = stride == 1 and nominal_in == width
            blocks.append(BlockSpec(len(blocks), s + 1, cin, w(width), stride, residual))
            nominal_in, cin = width, w(width)
    return Layout(
        variant=variant,
        skeleton=skeleton,
        stem_stride=1 if cifar else 2,
        stem_width=w(plan.stem_width),
        first_width=None if plan.first_width is None else w(plan.first_width),
        head_width=w(plan.head_width),
        bn_eps=plan.bn_eps,
        blocks=tuple(blocks),
    )


def block_choices(spec: BlockSpec, choice_set: str) -> tuple[Choice, ...]:
    """The candidates at one position: the set's MBConvs, then ``skip`` if the set has it and the block allows it."""
    choices = CHOICE_SETS[choice_set]
    if SKIPPABLE_SETS[choice_set] and spec.residual:
        choices = choices + (SKIP,)
    return choices
