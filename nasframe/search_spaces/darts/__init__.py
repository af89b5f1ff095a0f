"""The DARTS cell search space (``--space darts``, SPEC §1), registered as a nasframe plugin.

Modules: ``ops`` (the eight edge ops and the preprocessing blocks), ``genotype`` (decision layout,
genotype <-> Arch, arch.json, ``derive``), ``supernet`` (the search network), ``child`` (the
evaluation network). Shipped genotypes: ``genotypes/darts_v1.json`` and ``darts_v2.json``.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch

import nasframe
from nasframe import Arch, ArchError, DataInfo, Decision, Key, SearchSpace

from . import genotype as _genotype
from .child import ChildNetwork
from .genotype import DARTS_V1, DARTS_V2, GENOTYPES_DIR, cell_edges, decision_names, load_genotype
from .ops import CHOICES
from .supernet import SearchNetwork

__all__ = [
    "CHOICES",
    "DARTS_V1",
    "DARTS_V2",
    "GENOTYPES_DIR",
    "ChildNetwork",
    "DartsSpace",
    "SearchNetwork",
    "load_genotype",
    "register_search_spaces",
]


def _even(channels: int) -> int:
    if channels % 2:
        raise ValueError(channels)
    return channels


class DartsSpace(SearchSpace):
    """DARTS cells: 14 edges per cell type, 8 choices per edge, two cell types (normal, reduce)."""

    name = "darts"
    keys = (
        Key("channels", 16, "initial channels C (even: FactorizedReduce halves it)", low=2, high=1024, rule=_even,
            allowed_text="an even integer from 2 to 1024"),
        Key("layers", 8, "cells in the network", low=1, high=100),
        Key("nodes", 4, "intermediate nodes per cell", low=1, high=12),
        Key("stem_multiplier", 3, "stem channels = stem_multiplier * C", low=1, high=16),
        Key("auxiliary", True, "auxiliary head when training from scratch"),
        Key("auxiliary_weight", 0.4, "weight of the auxiliary loss", low=0),
        Key("drop_path", 0.2, "drop-path probability at the end of training from scratch", low=0, high=1),
    )
    presets = {
        "paper": {
            "space.layers": 6,
            "space.channels": 16,
            "train.batch_size": 512,
            "train.epochs": 100,
            "train.lr_min": 0.0,
            "data.val_size": 5000,
        },
        "tiny": {
            "space.layers": 3,
            "space.channels": 4,
            "train.batch_size": 32,
            "train.epochs": 2,
            "data.limit": 1000,
            "data.val_size": 0.5,
        },
    }
    train_presets = {
        "paper": {
            "space.layers": 20,
            "space.channels": 36,
            "train.batch_size": 96,
            "train.epochs": 600,
            "train.lr_min": 0.0,
            "train.weight_decay": 3e-4,
            "data.cutout": 16,
        },
        "tiny": {
            "space.layers": 3,
            "space.channels": 8,
            "space.auxiliary": True,
            "train.batch_size": 64,
            "train.epochs": 1,
            "train.lr": 0.05,
            "data.limit": 2000,
            "data.test_limit": 500,
            "data.cutout": 16,
        },
    }

    def __init__(self, config: Mapping[str, Any], data: DataInfo) -> None:
        super().__init__(config, data)
        self.channels: int = self.config["channels"]
        self.layers: int = self.config["layers"]
        self.nodes: int = self.config["nodes"]
        self.stem_multiplier: int = self.config["stem_multiplier"]
        self._decisions = tuple(Decision(name, CHOICES) for name in decision_names(self.nodes))

    @property
    def decisions(self) -> tuple[Decision, ...]:
        return self._decisions

    @property
    def edges_per_cell(self) -> int:
        return len(cell_edges(self.nodes))

    def _network_size(self) -> dict[str, int]:
        """What the supernet and the child share: cells, channels, nodes, classes."""
        return {"C": self.channels, "layers": self.layers, "nodes": self.nodes, "stem_multiplier": self.stem_multiplier,
                "num_classes": self.data.num_classes, "in_channels": self.data.channels}

    def build_supernet(self) -> SearchNetwork:
        return SearchNetwork(**self._network_size())

    def build_child(self, arch: Arch) -> ChildNetwork:
        self.check_arch(arch)
        return ChildNetwork(arch, auxiliary=bool(self.config["auxiliary"]), **self._network_size())

    def derive(self, scores: Mapping[str, torch.Tensor]) -> Arch:
        return _genotype.derive(scores, self.nodes)

    def sample_final(self, generator: torch.Generator) -> Arch:
        return _genotype.sample_final(generator, self.nodes)

    def arch_to_json(self, arch: Arch) -> dict[str, Any]:
        self.check_arch(arch)
        return _genotype.arch_to_json(arch, self.nodes)

    def arch_from_json(self, obj: Any) -> Arch:
        return _genotype.arch_from_json(obj, self.nodes)

    def is_genotype(self, arch: Arch) -> bool:
        """Whether every node has exactly two non-``none`` incoming edges (what ``derive`` returns)."""
        try:
            self.arch_to_json(arch)
        except ArchError:
            return False
        return True


@nasframe.hookimpl
def register_search_spaces(register):
    register(DartsSpace)
