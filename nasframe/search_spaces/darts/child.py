"""The DARTS evaluation network of an architecture, as ``nasframe train`` trains it (docs/algorithms.md#evaluation-child-network).

Each node sums its non-``none`` edges: exactly two for a genotype, any number for an arbitrary arch
(ranking studies); a node without any outputs zeros. Ops run in the order the genotype lists them
(the arch's dict order). BatchNorm is affine; pools have no BatchNorm unless ``pool_bn`` (as in DARTS's
``model.py``, which the published parameter counts assume). Drop-path hits every op except the identity, in
training mode, with probability ``model.drop_path_prob`` (the trainer sets it each epoch).
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from nasframe.layers import Identity, drop_path

from .genotype import CELL_TYPES, cell_pairs
from .layout import cell_plan, first_inputs, stems
from .ops import CHOICES, cell_preprocessing, make_op


class ChildCell(nn.Module):
    def __init__(
        self,
        pairs: list[list[tuple[int, int]]],
        C_prev_prev: int,
        C_prev: int,
        C: int,
        reduction: bool,
        reduction_prev: bool,
        pool_bn: bool = False,
    ) -> None:
        super().__init__()
        self.reduction = reduction
        self.C = C
        self.preprocess0, self.preprocess1 = cell_preprocessing(C_prev_prev, C_prev, C, reduction_prev, affine=True)
        ops = []
        self._plan: list[list[tuple[int, int, bool]]] = []  # per node: (op index, input state, droppable)
        for node_pairs in pairs:
            plan = []
            for k, src in node_pairs:
                op = make_op(CHOICES[k], C, 2 if reduction and src < 2 else 1, affine=True, pool_bn=pool_bn)
                plan.append((len(ops), src, not isinstance(op, Identity)))
                ops.append(op)
            self._plan.append(plan)
        self.ops = nn.ModuleList(ops)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for plan in self._plan:
            acc: torch.Tensor | None = None
            for i, src, droppable in plan:
                y = self.ops[i](states[src])
                if droppable and drop_prob > 0.0:
                    y = drop_path(y, drop_prob)
                acc = y if acc is None else acc + y
            if acc is None:
                n, _, h, w = states[1].shape
                if self.reduction:
                    h, w = (h + 1) // 2, (w + 1) // 2
                acc = states[1].new_zeros(n, self.C, h, w)
            states.append(acc)
        return torch.cat(states[2:], dim=1)


class AuxiliaryHead(nn.Module):
    """ReLU -> 5x5 avg pool -> 1x1 conv 128 -> BN -> ReLU -> 2x2 conv 768 (-> BN) -> ReLU -> linear.

    ``cifar`` (8x8 in): pool stride 3, BN after the 768 conv. ``imagenet`` (7x7 in): pool stride 2 and
    no BN after the 768 conv, as DARTS's AuxiliaryHeadImageNet (its paper's experiments omitted it).
    """

    def __init__(self, C: int, num_classes: int, variant: str = "cifar") -> None:
        super().__init__()
        imagenet = variant == "imagenet"
        top: list[nn.Module] = [] if imagenet else [nn.BatchNorm2d(768)]
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=2 if imagenet else 3, padding=0, count_include_pad=False),
            nn.Conv2d(C, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),
            *top,
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class ChildNetwork(nn.Module):
    """Stem(s), ``layers`` cells of the arch, auxiliary head at cell 2*layers//3, global pool, linear.

    ``variant`` ``cifar`` is DARTS's NetworkCIFAR, ``imagenet`` its NetworkImageNet (three stride-2
    stem convs, ImageNet auxiliary head; the global pool is adaptive, DARTS's 7x7 pool at 224x224).
    ``pool_bn`` follows every pool op by an affine BatchNorm, as MdeNAS's released network (pt.darts).

    ``forward(x)`` returns ``(logits, aux_logits)`` in training mode when the auxiliary head is on,
    else ``logits``.
    """

    def __init__(
        self,
        arch: Mapping[str, int],
        C: int,
        layers: int,
        nodes: int,
        stem_multiplier: int,
        num_classes: int,
        in_channels: int = 3,
        auxiliary: bool = True,
        variant: str = "cifar",
        pool_bn: bool = False,
    ) -> None:
        super().__init__()
        self.drop_path_prob = 0.0
        self.aux_position = 2 * layers // 3
        pairs = {cell: cell_pairs(arch, cell, nodes) for cell in CELL_TYPES}
        self.stem, self.stem1 = stems(variant, in_channels, C, stem_multiplier)
        plan = cell_plan(variant, C, layers, nodes, stem_multiplier)
        self.cells = nn.ModuleList(
            ChildCell(
                pairs[CELL_TYPES[s.reduction]], s.C_prev_prev, s.C_prev, s.C, s.reduction, s.reduction_prev, pool_bn
            )
            for s in plan
        )
        self.auxiliary_head = AuxiliaryHead(plan[self.aux_position].C_out, num_classes, variant) if auxiliary else None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(plan[-1].C_out, num_classes)

    cpu_channels_last = True
    """Run in channels-last memory format on CPU, where its depthwise and 1x1 convs are much faster."""

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if self.cpu_channels_last and x.device.type == "cpu" and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        drop_prob = float(self.drop_path_prob) if self.training else 0.0
        aux = None
        s0, s1 = first_inputs(self.stem, self.stem1, x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, drop_prob)
            if i == self.aux_position and self.training and self.auxiliary_head is not None:
                aux = self.auxiliary_head(s1)
        logits = self.classifier(self.global_pooling(s1).flatten(1))
        return logits if aux is None else (logits, aux)
