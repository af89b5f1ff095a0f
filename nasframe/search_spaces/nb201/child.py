"""The network of one cell as the benchmark trained it: NAS-Bench-201's ``TinyNetwork`` with ``InferCell`` cells.

AutoDL-Projects ``xautodl/models/cell_infers/tiny_network.py`` and ``cell_infers/cells.py``: a 3x3 stem
conv + BN; three stages of N cells at C, 2C, 4C channels joined by ``ResidualReduction`` blocks;
BN + ReLU, global average pool, linear classifier. BatchNorm is affine and tracks running statistics.

Every op of the cell is a module and runs in the forward pass, also one whose output no later node
uses (its node feeds only ``none`` edges): ``InferCell`` builds and sums every edge's op, so the
benchmark's parameter and multiply-add counts include them, and so do this network's. ``none`` has
no parameters and no multiply-adds; a node whose edges are all ``none`` is zeros.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from .cell import DECISIONS, EDGES, NODES, NONE, OPS
from .ops import head, make_op, stages, stem


class Cell(nn.Module):
    """One ``InferCell`` on ``C`` channels: node ``i`` is the sum of its edges' ops on the earlier nodes."""

    def __init__(self, arch: Mapping[str, int], C: int) -> None:
        super().__init__()
        self.ops = nn.ModuleDict(
            {name: make_op(OPS[arch[name]], C, affine=True) for name in DECISIONS if arch[name] != NONE}
        )
        self._node_edges = [
            [(name, j) for name, (i, j) in zip(DECISIONS, EDGES) if i == node and name in self.ops]
            for node in range(1, NODES)
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for edges in self._node_edges:
            acc = None
            for name, j in edges:
                y = self.ops[name](nodes[j])
                acc = y if acc is None else acc + y
            nodes.append(torch.zeros_like(x) if acc is None else acc)
        return nodes[-1]


class ChildNetwork(nn.Module):
    """``TinyNetwork(C, N, genotype, num_classes)``: returns the logits."""

    def __init__(self, arch: Mapping[str, int], C: int, N: int, num_classes: int, in_channels: int = 3) -> None:
        super().__init__()
        self.stem = stem(in_channels, C)
        self.cells, C_last = stages(C, N, lambda channels: Cell(arch, channels))
        self.head = head(C_last, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        return self.head(x)


__all__ = ["Cell", "ChildNetwork"]
