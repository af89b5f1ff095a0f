"""The child network of one architecture and the weight-sharing supernet over all of them."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from nasframe import Arch, ArchLike, Supernet
from nasframe.layers import InvertedResidual, conv_bn

from .blocks import Choice, init_weights
from .layout import BlockSpec, Layout


def make_block(spec: BlockSpec, choice: Choice) -> nn.Module:
    """The module of ``choice`` at ``spec``'s position; ``skip`` is the identity."""
    if choice.is_skip:
        if not spec.residual:
            raise ValueError(f"{spec.name} cannot be skipped: its stride or widths change")
        return nn.Identity()
    return InvertedResidual(spec.cin, spec.cout, choice.kernel, choice.expand, spec.stride, spec.residual)


class _Backbone(nn.Module):
    """Stem, the fixed first block (``search`` skeleton only), and head + classifier: what every architecture shares."""

    def __init__(self, layout: Layout, num_classes: int, in_channels: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(in_channels, layout.stem_width, 3, layout.stem_stride))
        self.first: nn.Module = nn.Identity()
        if layout.first_width is not None:
            self.first = InvertedResidual(layout.stem_width, layout.first_width, 3, 1, 1, residual=False)
        last = layout.blocks[-1].cout
        self.head = nn.Sequential(*conv_bn(last, layout.head_width, 1))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(layout.head_width, num_classes)

    def features_in(self, x: torch.Tensor) -> torch.Tensor:
        return self.first(self.stem(x))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.head(x)), 1))


class MBConvNet(_Backbone):
    """A standalone network: only the chosen blocks (skipped blocks are absent)."""

    def __init__(self, layout: Layout, choices: Sequence[Choice], num_classes: int, in_channels: int = 3) -> None:
        super().__init__(layout, num_classes, in_channels)
        if len(choices) != len(layout.blocks):
            raise ValueError(f"expected {len(layout.blocks)} block choices, got {len(choices)}")
        self.blocks = nn.Sequential(*(make_block(spec, c) for spec, c in zip(layout.blocks, choices) if not c.is_skip))
        init_weights(self, layout.bn_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(self.blocks(self.features_in(x)))


class MBConvSupernet(_Backbone, Supernet):
    """One independent candidate module per choice per position (as ProxylessNAS); BN layers are affine.

    ``forward(x, arch, gates, probe)``: an Arch runs only each position's chosen candidate (its branch
    times ``gates[i]`` when given; ``skip`` has no branch; with ``probe``, plus ``gates[i, 1]`` times the
    probe candidate's branch run without a graph, see ``nasframe.Supernet``); Relaxed weights
    ``[num_blocks, max_choices]`` run sum_o w_o * candidate_o(x) over the candidates with nonzero weight.
    """

    def __init__(
        self,
        layout: Layout,
        choices: Sequence[Sequence[Choice]],
        names: Sequence[str],
        num_classes: int,
        in_channels: int = 3,
    ) -> None:
        super().__init__(layout, num_classes, in_channels)
        self.names = tuple(names)
        self.candidates = nn.ModuleList(
            nn.ModuleList(make_block(spec, c) for c in position) for spec, position in zip(layout.blocks, choices)
        )
        init_weights(self, layout.bn_eps)

    def forward(
        self, x: torch.Tensor, arch: ArchLike, gates: torch.Tensor | None = None, probe: Arch | None = None
    ) -> torch.Tensor:
        x = self.features_in(x)
        if isinstance(arch, torch.Tensor):
            x = self._mixed(x, arch)
        else:
            for i, (name, position) in enumerate(zip(self.names, self.candidates)):
                block = position[arch[name]]
                if gates is None or not isinstance(block, InvertedResidual):
                    x = block(x)
                elif probe is None:
                    x = block(x, gates[i])
                else:
                    x = block(x, gates[i, 0], self._probe(position[probe[name]], block, x, gates[i, 1]))
        return self.logits(x)

    @staticmethod
    def _probe(other: nn.Module, block: nn.Module, x: torch.Tensor, gate: torch.Tensor) -> torch.Tensor | None:
        """``gate`` times the probe candidate's branch on ``x``, without a graph through its weights."""
        if not isinstance(other, InvertedResidual) or other is block:
            return None
        with torch.no_grad():
            y = other.body(x)
        return gate * y

    def _mixed(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        n = len(self.candidates)
        widest = max(len(p) for p in self.candidates)
        if weights.dim() != 2 or weights.shape[0] != n or weights.shape[1] < widest:
            raise ValueError(f"relaxed weights must have shape [{n}, {widest}], got {list(weights.shape)}")
        # On CPU skipping zero weights saves whole blocks; on CUDA reading them would stall the device
        # every step, so every real choice runs there (a zero weight still contributes nothing).
        active = (weights != 0).tolist() if not weights.is_cuda else None
        for i, position in enumerate(self.candidates):
            used = [o for o in range(len(position)) if active is None or active[i][o]]
            if not used:  # every weight zero: a zero output of the right shape, still wired to the weights
                used = [0]
            out = None
            for o in used:
                y = weights[i, o] * position[o](x)
                out = y if out is None else out + y
            x = out
        return x
