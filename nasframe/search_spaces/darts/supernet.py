"""The DARTS search supernet: cells whose every edge holds all seven real ops (docs/algorithms.md#supernet-forward).

``SearchNetwork.forward(x, arch)`` takes
- an Arch (decision name -> choice index), or a 1-D integer tensor of indices in decision order:
  each edge runs only its chosen op; ``none`` edges are skipped entirely; a node whose edges are all
  ``none`` outputs zeros; a cell input that no chosen edge reads is not even preprocessed. With
  ``gates`` (``[num_decisions]``), each chosen op's output is multiplied by its decision's gate, in
  every cell of that type (ProxylessNAS's binary gates; ``none`` has no output to gate); with
  ``probe`` (a second Arch) and ``gates`` ``[num_decisions, 2]``, ``gates[d, 1]`` times the probe's op,
  run without a graph, is added too (see ``nasframe.Supernet``);
- a Relaxed float tensor ``[num_decisions, 8]`` (rows in decision order): each edge returns
  ``sum_o w_o * o(x)``. ``none`` is never computed (it adds zero) and neither is any op whose weight
  is exactly 0 (its weight then gets no gradient); the ReLU that the conv ops and FactorizedReduce
  start with is computed once per edge, and each weight is folded into its op's last BatchNorm.
  Finding the exact zeros reads the weights on the host once per forward.
On CPU the network runs in channels-last memory format (``cpu_channels_last``), markedly faster there.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from nasframe import ArchError, Supernet, choice_indices
from nasframe.layers import MixedEdge

from .genotype import cell_edges, decision_names
from .layout import cell_plan, first_inputs, stems
from .ops import CHOICES, NONE, cell_preprocessing, make_op

NUM_CHOICES = len(CHOICES)


class SearchEdge(MixedEdge):
    """One edge of a search cell: every op but ``none``, with BatchNorm affine=False."""

    def __init__(self, C: int, stride: int) -> None:
        super().__init__({name: make_op(name, C, stride, affine=False, pool_bn=True) for name in CHOICES[1:]})
        self.stride = stride


class SearchCell(nn.Module):
    """A search cell: preprocess both inputs to C channels, then ``nodes`` nodes over all earlier states."""

    def __init__(
        self, nodes: int, C_prev_prev: int, C_prev: int, C: int, reduction: bool, reduction_prev: bool
    ) -> None:
        super().__init__()
        self.reduction = reduction
        self.nodes = nodes
        self.C = C
        self.preprocess0, self.preprocess1 = cell_preprocessing(C_prev_prev, C_prev, C, reduction_prev, affine=False)
        layout = cell_edges(nodes)
        self.edges = nn.ModuleList(SearchEdge(C, 2 if reduction and src < 2 else 1) for _, src in layout)
        self._layout = layout
        self._node_edges = [[e for e, (n, _) in enumerate(layout) if n == node] for node in range(nodes)]
        self._input_edges = [[e for e, (_, s) in enumerate(layout) if s == j] for j in (0, 1)]

    def _inputs(self, s0: torch.Tensor, s1: torch.Tensor, used: Sequence[bool]) -> list[torch.Tensor | None]:
        return [self.preprocess0(s0) if used[0] else None, self.preprocess1(s1) if used[1] else None]

    def _zeros(self, s1: torch.Tensor) -> torch.Tensor:
        n, _, h, w = s1.shape
        if self.reduction:
            h, w = (h + 1) // 2, (w + 1) // 2
        return s1.new_zeros(n, self.C, h, w)

    def forward(
        self,
        s0: torch.Tensor,
        s1: torch.Tensor,
        choice: Sequence[int],
        gates: torch.Tensor | None = None,
        probe: Sequence[int] | None = None,
    ) -> torch.Tensor:
        """Single path: ``choice`` holds this cell type's choice index per edge, ``gates`` its gate(s), ``probe`` a second choice."""
        used = [any(choice[e] != NONE for e in edges) for edges in self._input_edges]
        states = self._inputs(s0, s1, used)
        for node in range(self.nodes):
            acc: torch.Tensor | None = None
            for e in self._node_edges[node]:
                k = choice[e]
                if k == NONE:
                    continue
                x = states[self._layout[e][1]]
                gate = None if gates is None else gates[e]
                y = self.edges[e].forward_path(x, k, gate, None if probe is None or gate is None else probe[e])
                acc = y if acc is None else acc + y
            states.append(self._zeros(s1) if acc is None else acc)
        return torch.cat(states[2:], dim=1)

    def forward_mixed(
        self,
        s0: torch.Tensor,
        s1: torch.Tensor,
        active: Sequence[Sequence[int]],
        ws: Sequence[Sequence[torch.Tensor]],
        wc: Sequence[Sequence[torch.Tensor]],
    ) -> torch.Tensor:
        used = [any(active[e] for e in edges) for edges in self._input_edges]
        states = self._inputs(s0, s1, used)
        for node in range(self.nodes):
            acc: torch.Tensor | None = None
            for e in self._node_edges[node]:
                if active[e]:
                    acc = self.edges[e].forward_mixed(states[self._layout[e][1]], active[e], ws[e], wc[e], acc)
            states.append(self._zeros(s1) if acc is None else acc)
        return torch.cat(states[2:], dim=1)


class SearchNetwork(Supernet):
    """Stem(s) of the variant, ``layers`` search cells (reductions at layers//3 and 2*layers//3), global pool, linear."""

    def __init__(
        self,
        C: int,
        layers: int,
        nodes: int,
        stem_multiplier: int,
        num_classes: int,
        in_channels: int = 3,
        variant: str = "cifar",
    ) -> None:
        super().__init__()
        self.nodes = nodes
        self.num_edges = len(cell_edges(nodes))
        self.decision_names = decision_names(nodes)
        self.stem, self.stem1 = stems(variant, in_channels, C, stem_multiplier)
        plan = cell_plan(variant, C, layers, nodes, stem_multiplier)
        self.cells = nn.ModuleList(
            SearchCell(nodes, s.C_prev_prev, s.C_prev, s.C, s.reduction, s.reduction_prev) for s in plan
        )
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(plan[-1].C_out, num_classes)

    # -- arch handling -------------------------------------------------------------------------
    def _choices(self, arch: Any) -> list[int]:
        return choice_indices(arch, self.decision_names, NUM_CHOICES, "darts")

    cpu_channels_last = True
    """Run in channels-last memory format on CPU, where its depthwise and 1x1 convs are much faster."""

    def forward(self, x: torch.Tensor, arch: Any, gates: torch.Tensor | None = None, probe: Any = None) -> torch.Tensor:
        if self.cpu_channels_last and x.device.type == "cpu" and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        if isinstance(arch, torch.Tensor) and arch.is_floating_point():
            s1 = self._forward_mixed(x, arch)
        else:
            s1 = self._forward_discrete(x, self._choices(arch), gates, None if probe is None else self._choices(probe))
        return self.classifier(self.global_pooling(s1).flatten(1))

    def _forward_discrete(
        self, x: torch.Tensor, choice: list[int], gates: torch.Tensor | None, probe: list[int] | None
    ) -> torch.Tensor:
        E = self.num_edges
        per_type = (choice[:E], choice[E:])
        gates_per_type = (None, None) if gates is None else (gates[:E], gates[E:])
        probe_per_type = (None, None) if probe is None else (probe[:E], probe[E:])
        s0, s1 = first_inputs(self.stem, self.stem1, x)
        for cell in self.cells:
            t = int(cell.reduction)
            s0, s1 = s1, cell(s0, s1, per_type[t], gates_per_type[t], probe_per_type[t])
        return s1

    def _forward_mixed(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        E = self.num_edges
        if tuple(weights.shape) != (2 * E, NUM_CHOICES):
            raise ArchError(
                f"relaxed darts weights must have shape [{2 * E}, {NUM_CHOICES}], got {list(weights.shape)}"
            )
        # On CPU, one host read finds the exact zeros to skip; on CUDA that read would stall the device
        # every step, so every op but `none` runs there (a zero weight still contributes nothing).
        if weights.is_cuda:
            nonzero = [[True] * (NUM_CHOICES - 1)] * len(weights)
        else:
            nonzero = (weights[:, 1:] != 0).tolist()
        active = [[k + 1 for k, nz in enumerate(row) if nz] for row in nonzero]
        weights = weights.to(device=x.device, dtype=self.classifier.weight.dtype)
        per_type = (weights[:E], weights[E:])
        scalars = [[row.unbind(0) for row in w.unbind(0)] for w in per_type]
        per_channel: dict[tuple[int, int], list] = {}
        s0, s1 = first_inputs(self.stem, self.stem1, x)
        for cell in self.cells:
            t = int(cell.reduction)
            key = (t, cell.C)
            if key not in per_channel:  # each weight repeated over the cell's channels, for BatchNorm
                wc = per_type[t].unsqueeze(-1).expand(-1, -1, cell.C).contiguous()
                per_channel[key] = [row.unbind(0) for row in wc.unbind(0)]
            a = active[t * E : (t + 1) * E]
            s0, s1 = s1, cell.forward_mixed(s0, s1, a, scalars[t], per_channel[key])
        return s1


__all__ = ["SearchCell", "SearchEdge", "SearchNetwork"]
