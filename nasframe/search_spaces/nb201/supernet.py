"""The NAS-Bench-201 search supernet: the benchmark's network with every edge holding all five ops.

As the benchmark's weight-sharing models build it (AutoDL-Projects ``xautodl/models/cell_searchs/
search_model_darts.py`` and ``search_cells.py`` ``NAS201SearchCell``): the stem, the two
``ResidualReduction`` blocks and the head as in the child (affine BN); the cells' ops with BatchNorm
``affine=False`` and ``track_running_stats`` as the search scripts pass it (``space.track_running_stats``;
NATS-Bench's ``exps/NATS-algos/search-cell.py`` defaults it to 0: batch statistics in training and
evaluation alike). One set of weights per cell (cells do not share weights with each other).

``forward(x, arch, gates, probe)`` (see ``nasframe.Supernet``) takes

- an Arch (or a 1-D integer tensor of choice indices in decision order): single path. Each edge runs
  only its chosen op; ``none`` edges are skipped; a node whose edges are all ``none`` is zeros; a node
  whose output reaches the cell's output through no non-``none`` edge is not computed at all (it
  cannot change the logits). With ``gates`` (``[6]``) each chosen op's output is multiplied by its
  edge's gate in every cell (``skip_connect`` too: on an edge the identity is a path whose output
  the node sums, as in the DARTS supernet); with ``probe`` and ``gates`` ``[6, 2]``, ``gates[e, 1]``
  times the probe op's output, computed without a graph, is added (ProxylessNAS);
- a Relaxed float tensor ``[6, 5]``: each edge returns ``sum_o w_o * o(x)`` (DARTS's mixed op, the
  benchmark's ``NAS201SearchCell.forward``). ``none`` adds zero and is not computed, nor is an op whose
  weight is exactly 0 (on CPU); the ReLU the convs start with is computed once per edge and each weight
  is folded into its op's BatchNorm (``forward_mixed`` of ``nasframe.layers``).

On CPU the network runs in channels-last memory format (``cpu_channels_last``), markedly faster there.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from nasframe import ArchError, Supernet, choice_indices
from nasframe.layers import MixedEdge

from .cell import DECISIONS, EDGES, NODES, NONE, OPS
from .ops import ResidualReduction, head, make_op, stages, stem

NUM_CHOICES = len(OPS)
_INTO = [[e for e, (i, _) in enumerate(EDGES) if i == node] for node in range(NODES)]
"""Edge indices into each node."""


def live_nodes(choice: Sequence[int]) -> list[bool]:
    """Which nodes reach the cell output (node 3) through non-``none`` edges: only those are computed."""
    live = [False] * NODES
    live[NODES - 1] = True
    for node in range(NODES - 1, 0, -1):
        if live[node]:
            for e in _INTO[node]:
                if choice[e] != NONE:
                    live[EDGES[e][1]] = True
    return live


class SearchEdge(MixedEdge):
    """One edge of a search cell: every op but ``none``, BatchNorm affine=False."""

    def __init__(self, C: int, track_running_stats: bool) -> None:
        ops = {name: make_op(name, C, affine=False, track_running_stats=track_running_stats) for name in OPS[1:]}
        super().__init__(ops)


class SearchCell(nn.Module):
    """``NAS201SearchCell``: six ``SearchEdge``s on ``C`` channels, nodes summing their edges."""

    def __init__(self, C: int, track_running_stats: bool) -> None:
        super().__init__()
        self.C = C
        self.edges = nn.ModuleList(SearchEdge(C, track_running_stats) for _ in EDGES)

    def forward(
        self,
        x: torch.Tensor,
        choice: Sequence[int],
        gates: torch.Tensor | None = None,
        probe: Sequence[int] | None = None,
    ) -> torch.Tensor:
        """Single path: ``choice`` holds the choice index per edge, ``gates`` its gate(s), ``probe`` a second choice."""
        live = live_nodes(choice)
        nodes: list[torch.Tensor | None] = [x]
        for node in range(1, NODES):
            if not live[node]:
                nodes.append(None)
                continue
            acc: torch.Tensor | None = None
            for e in _INTO[node]:
                k = choice[e]
                if k == NONE:
                    continue
                inp = nodes[EDGES[e][1]]
                gate = None if gates is None else gates[e]
                y = self.edges[e].forward_path(inp, k, gate, None if probe is None or gate is None else probe[e])
                acc = y if acc is None else acc + y
            nodes.append(torch.zeros_like(x) if acc is None else acc)
        return nodes[-1]  # type: ignore[return-value]

    def forward_mixed(
        self,
        x: torch.Tensor,
        active: Sequence[Sequence[int]],
        ws: Sequence[Sequence[torch.Tensor]],
        wc: Sequence[Sequence[torch.Tensor]],
    ) -> torch.Tensor:
        nodes = [x]
        for node in range(1, NODES):
            acc: torch.Tensor | None = None
            for e in _INTO[node]:
                if active[e]:
                    acc = self.edges[e].forward_mixed(nodes[EDGES[e][1]], active[e], ws[e], wc[e], acc)
            nodes.append(torch.zeros_like(x) if acc is None else acc)
        return nodes[-1]


class SearchNetwork(Supernet):
    """Stem, N search cells at C, a reduction, N at 2C, a reduction, N at 4C, head (``TinyNetworkDarts``)."""

    def __init__(
        self, C: int, N: int, num_classes: int, in_channels: int = 3, track_running_stats: bool = False
    ) -> None:
        super().__init__()
        self.stem = stem(in_channels, C)
        self.cells, C_last = stages(C, N, lambda channels: SearchCell(channels, track_running_stats))
        self.head = head(C_last, num_classes)

    def _choices(self, arch: Any) -> list[int]:
        return choice_indices(arch, DECISIONS, NUM_CHOICES, "nb201")

    cpu_channels_last = True
    """Run in channels-last memory format on CPU, where its convolutions are markedly faster (as the DARTS supernet)."""

    def forward(self, x: torch.Tensor, arch: Any, gates: torch.Tensor | None = None, probe: Any = None) -> torch.Tensor:
        if self.cpu_channels_last and x.device.type == "cpu" and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.stem(x)
        if isinstance(arch, torch.Tensor) and arch.is_floating_point():
            x = self._forward_mixed(x, arch)
        else:
            choice = self._choices(arch)
            other = None if probe is None else self._choices(probe)
            for cell in self.cells:
                x = cell(x) if isinstance(cell, ResidualReduction) else cell(x, choice, gates, other)
        return self.head(x)

    def _forward_mixed(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        if tuple(weights.shape) != (len(DECISIONS), NUM_CHOICES):
            raise ArchError(
                f"relaxed nb201 weights must have shape [{len(DECISIONS)}, {NUM_CHOICES}], got {list(weights.shape)}"
            )
        # On CPU one host read finds the exact zeros to skip; on CUDA it would stall the device every
        # step, so every op but `none` runs there (a zero weight still contributes nothing).
        nonzero = [[True] * (NUM_CHOICES - 1)] * len(weights) if weights.is_cuda else (weights[:, 1:] != 0).tolist()
        active = [[k + 1 for k, nz in enumerate(row) if nz] for row in nonzero]
        weights = weights.to(device=x.device, dtype=self.head[-1].weight.dtype)
        scalars = [row.unbind(0) for row in weights.unbind(0)]
        per_channel: dict[int, list] = {}
        for cell in self.cells:
            if isinstance(cell, ResidualReduction):
                x = cell(x)
                continue
            if cell.C not in per_channel:  # each weight repeated over the cell's channels, for BatchNorm
                wc = weights.unsqueeze(-1).expand(-1, -1, cell.C).contiguous()
                per_channel[cell.C] = [row.unbind(0) for row in wc.unbind(0)]
            x = cell.forward_mixed(x, active, scalars, per_channel[cell.C])
        return x


__all__ = ["SearchCell", "SearchEdge", "SearchNetwork", "live_nodes"]
