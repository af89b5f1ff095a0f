"""The NAS-Bench-201 search space (``--space nb201``): one cell of six edges over five ops, and the benchmark's table."""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from nasframe import Arch, Block, Blocks, CellDrawing, DataInfo, Decision, Key, SearchSpace

from . import cell as _cell
from .cell import DECISIONS, EDGES, NONE, OPS
from .child import ChildNetwork
from .ops import make_op, stage_plan
from .supernet import SearchNetwork
from .table import DATASETS, load_table

CIFAR_MEAN = [v / 255 for v in (125.3, 123.0, 113.9)]
CIFAR_STD = [v / 255 for v in (63.0, 62.1, 66.7)]
"""The benchmark's CIFAR-10 normalisation (AutoDL-Projects ``xautodl/datasets/get_dataset_with_transform.py``),
within 0.001 of nasframe's own CIFAR-10 statistics, written out so the recipe is the released one."""

PAPER_SEARCH = {
    "space.channels": 16,
    "space.cells_per_stage": 5,
    "train.batch_size": 64,
    "train.epochs": 100,
    "train.lr": 0.025,
    "train.lr_min": 0.001,
    "train.schedule": "cosine",
    "train.momentum": 0.9,
    "train.weight_decay": 5e-4,
    "train.grad_clip": 5.0,
    "data.val_size": 0.5,
    "data.cutout": 0,
    "data.mean": CIFAR_MEAN,
    "data.std": CIFAR_STD,
}
"""The benchmark's weight-sharing search (AutoDL-Projects ``configs/nas-benchmark/algos/weight-sharing.config``,
NATS-Bench's ``exps/NATS-algos/search-cell.py`` default: 100 epochs, SGD 0.025 cosine to 0.001, momentum 0.9,
weight decay 5e-4, batch 64, gradient norm clipped at 5; C=16, N=5; CIFAR-10's training set split into two
halves of 25,000, one trains the weights, the other scores or trains the architecture: ``get_nas_search_loaders``
with ``configs/nas-benchmark/cifar-split.txt``). The released SGD is Nesterov; nasframe's is not."""


class NB201Space(SearchSpace):
    """NAS-Bench-201's cell space (docs/algorithms.md#nas-bench-201-space): 6 edges x 5 ops = 15,625 cells.

    ``space.channels`` (C) and ``space.cells_per_stage`` (N) size both the supernet and the child
    (the benchmark: C=16, N=5); ``space.track_running_stats``: whether the supernet's cell BatchNorms
    keep running statistics (the benchmark's search scripts' ``--track_running_stats``). Every cell's
    published 200-epoch accuracy is shipped: ``ground_truth`` scores a search's result.
    """

    name = "nb201"
    shortcuts = frozenset({"skip_connect"})
    keys = (
        Key("channels", 16, "channels C of the first stage (2C, 4C after the reductions)", low=1, high=1024),
        Key("cells_per_stage", 5, "cells N per stage (three stages)", low=1, high=100),
        Key(
            "track_running_stats",
            False,
            "supernet cell BatchNorms keep running statistics (false: batch statistics, NATS-Bench's default)",
        ),
    )
    presets = {
        "paper": PAPER_SEARCH,
        # DARTS-V1 on NAS-Bench-201: scripts-search/NAS-Bench-201-algos/DARTS-V1.sh, configs/nas-benchmark/algos/DARTS.config
        "paper@darts": {
            "train.epochs": 50,
            "strategy.order": 1,
            "strategy.arch_lr": 3e-4,
            "strategy.arch_beta1": 0.5,
            "strategy.arch_beta2": 0.999,
            "strategy.arch_weight_decay": 1e-3,
        },
        # RANDOM-NAS (Li & Talwalkar): scripts-search/NAS-Bench-201-algos/RANDOM-NAS.sh (--select_num 100),
        # configs/nas-benchmark/algos/RANDOM.config (250 epochs, test batch 512); each candidate is scored on
        # one validation batch and the best one returned (exps/NAS-Bench-201-algos/RANDOM-NAS.py search_find_best)
        "paper@random": {
            "train.epochs": 250,
            "train.eval_batch_size": 512,
            "strategy.candidates": 100,
            "strategy.screen_batches": 1,
            "strategy.top": 1,
        },
        "tiny": {
            "space.channels": 4,
            "space.cells_per_stage": 1,
            "train.batch_size": 32,
            "train.epochs": 2,
            "data.limit": 400,
            "data.val_size": 0.5,
        },
    }
    train_presets = {
        # The benchmark's own training of every cell: configs/nas-benchmark/hyper-opts/200E.config (SGD Nesterov
        # 0.1, cosine to 0, momentum 0.9, weight decay 5e-4, batch 256, 200 epochs; random crop and flip, no
        # cutout, no gradient clipping: exps/NAS-Bench-201/functions.py); C=16, N=5.
        "paper": {
            "space.channels": 16,
            "space.cells_per_stage": 5,
            "train.batch_size": 256,
            "train.epochs": 200,
            "train.lr": 0.1,
            "train.lr_min": 0.0,
            "train.schedule": "cosine",
            "train.momentum": 0.9,
            "train.weight_decay": 5e-4,
            "train.grad_clip": None,
            "train.label_smoothing": 0.0,
            "data.cutout": 0,
            "data.mean": CIFAR_MEAN,
            "data.std": CIFAR_STD,
        },
        "tiny": {
            "space.channels": 8,
            "space.cells_per_stage": 1,
            "train.batch_size": 64,
            "train.epochs": 1,
            "train.lr": 0.05,
            "data.limit": 2000,
            "data.test_limit": 500,
        },
    }

    def __init__(self, config: Mapping[str, Any], data: DataInfo) -> None:
        super().__init__(config, data)
        self.channels: int = self.config["channels"]
        self.cells_per_stage: int = self.config["cells_per_stage"]
        self.track_running_stats: bool = bool(self.config["track_running_stats"])
        self._decisions = tuple(Decision(name, OPS) for name in DECISIONS)

    @property
    def decisions(self) -> tuple[Decision, ...]:
        return self._decisions

    def build_supernet(self) -> SearchNetwork:
        return SearchNetwork(
            self.channels,
            self.cells_per_stage,
            self.data.num_classes,
            self.data.channels,
            track_running_stats=self.track_running_stats,
        )

    def build_child(self, arch: Arch) -> ChildNetwork:
        arch = self.check_arch(arch)
        return ChildNetwork(arch, self.channels, self.cells_per_stage, self.data.num_classes, self.data.channels)

    def derive(self, scores: Mapping[str, torch.Tensor], generator: torch.Generator | None = None) -> Arch:
        """Arg-max per edge over all five ops, ``none`` included (the benchmark's ``genotype()``); ties from ``generator``."""
        return _cell.derive(scores, generator)

    def arch_to_json(self, arch: Arch) -> dict[str, Any]:
        """``{"space": "nb201", "arch": "<the benchmark's string>", "code": n}``: the string pastes into the benchmark's
        API (``api.query_index_by_arch``); the index is left to it (the shipped table's row order is the
        extraction's, not checked against the API's indices)."""
        return _cell.arch_to_json(self.check_arch(arch))

    def arch_from_json(self, obj: Any) -> Arch:
        return _cell.arch_from_json(obj)

    @classmethod
    def arch_from_text(cls, text: str) -> dict[str, Any] | None:
        """A benchmark string (``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``) as arch.json; None for text not starting with '|'."""
        if not isinstance(text, str) or not _cell.looks_like_string(text):
            return None
        return _cell.arch_to_json(_cell.arch_from_string(text))

    def table_index(self, arch: Arch) -> int:
        """The row of ``arch`` in the shipped table (the extraction's order)."""
        return load_table().index(self.check_arch(arch))

    def arch_at(self, index: int) -> Arch:
        """The cell in row ``index`` of the shipped table."""
        return load_table().arch(index)

    def ground_truth(self, arch: Arch) -> dict[str, Any]:
        """The 200-epoch test accuracy (%) on CIFAR-10, CIFAR-100, ImageNet16-120, and the regret to the table's best."""
        return load_table().record(self.check_arch(arch))

    def references(self) -> dict[str, Arch]:
        """The table's best CIFAR-10 cell and the all-``skip_connect`` cell (where DARTS collapses on this benchmark)."""
        table = load_table()
        skip = OPS.index("skip_connect")
        return {
            f"best cell ({DATASETS[0]})": table.arch(table.best(DATASETS[0])),
            "all skip_connect": dict.fromkeys(DECISIONS, skip),
        }

    def drawing(self, arch: Arch) -> tuple[CellDrawing, ...]:
        """The cell: input ``0``, nodes ``1`` and ``2``, output ``3``; ``none`` edges left out."""
        arch = self.check_arch(arch)
        edges = tuple((str(j), str(i), OPS[arch[name]]) for name, (i, j) in zip(DECISIONS, EDGES) if arch[name] != NONE)
        return (CellDrawing("NAS-Bench-201 cell", ("0",), ("1", "2"), "3", edges),)

    def cost_blocks(self) -> Blocks:
        """Stem, reductions and head fixed; each choice of an edge adds its op in every cell, stage by stage.

        The N cells of a stage hold the same op at the same input shape, so a choice's block per stage is
        its N ops in sequence (one timing, the same count as N). Costs add up exactly: the child runs every
        op of its cell (see ``child.py``), and the node sums cost nothing a counter counts. ``skip_connect``
        and ``none`` add nothing.
        """
        C, N = self.channels, self.cells_per_stage
        size = self.data.image_size
        net = ChildNetwork(dict.fromkeys(DECISIONS, NONE), C, N, self.data.num_classes, self.data.channels)
        fixed = [Block(net.stem, (self.data.channels, size, size))]
        stages: list[tuple[int, ...]] = []
        C_prev = C
        for (C_curr, reduction), layer in zip(stage_plan(C, N), net.cells):
            if reduction:
                fixed.append(Block(layer, (C_prev, size, size)))
                size = (size + 1) // 2
            elif not stages or stages[-1] != (C_curr, size, size):
                stages.append((C_curr, size, size))
            C_prev = C_curr
        fixed.append(Block(net.head, (C_prev, size, size)))

        def per_stage(op: str) -> tuple[Block, ...]:
            if op in ("none", "skip_connect"):
                return ()
            return tuple(
                Block(nn.Sequential(*(make_op(op, shape[0], affine=True) for _ in range(N))), shape) for shape in stages
            )

        return Blocks(tuple(fixed), tuple(tuple(per_stage(op) for op in OPS) for _ in DECISIONS))


__all__ = ["PAPER_SEARCH", "NB201Space"]
