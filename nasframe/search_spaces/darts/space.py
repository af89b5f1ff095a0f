"""The DARTS cell space: decisions, presets, networks and arch.json (``--space darts``)."""

from __future__ import annotations

from typing import Any, Mapping

import torch

from nasframe import Arch, CellDrawing, ChildExtras, DataInfo, Decision, Key, SearchSpace

from . import genotype as _genotype
from .child import ChildNetwork
from .genotype import (
    ARCHS_DIR,
    CELL_TYPES,
    cell_pairs,
    decision_names,
)
from .layout import VARIANTS, network_variant
from .ops import CHOICES
from .supernet import SearchNetwork

TINY_IMAGENET = {"space.channels": 16}
"""At C < 16 the ImageNet network reduces 8 or fewer channels at 56x56, where PyTorch's CPU channels-last
1x1 stride-2 convolution crashes in its backward pass (seen with torch 2.14)."""


def _even(channels: int) -> int:
    if channels % 2:
        raise ValueError(channels)
    return channels


class DartsSpace(SearchSpace):
    """DARTS cells: 14 edges per cell type, 8 choices per edge, two cell types (normal, reduce).

    ``space.variant``: ``auto`` (ImageNet data -> ``imagenet``, anything else -> ``cifar``), ``cifar``
    (DARTS's NetworkCIFAR) or ``imagenet`` (NetworkImageNet: three stride-2 stem convs, 14 cells at
    C=48 in the ``paper`` preset). ``space.pool_bn``: pools followed by BatchNorm (MdeNAS's network).
    The ``paper`` presets are MdeNAS's: pixels in [-1, 1] and drop-path 0.3 on CIFAR; DARTS's
    ImageNet recipe (250 epochs, SGD 0.1 decayed x0.97 per epoch, label smoothing 0.1) on ImageNet.
    """

    name = "darts"
    default = True
    published_dir = ARCHS_DIR
    shortcuts = frozenset({"skip_connect"})
    keys = (
        Key(
            "channels",
            16,
            "initial channels C (even: FactorizedReduce halves it)",
            low=2,
            high=1024,
            rule=_even,
            allowed_text="an even integer from 2 to 1024",
        ),
        Key("layers", 8, "cells in the network", low=1, high=100),
        Key("nodes", 4, "intermediate nodes per cell", low=1, high=12),
        Key("stem_multiplier", 3, "stem channels = stem_multiplier * C", low=1, high=16),
        Key("auxiliary", True, "auxiliary head when training from scratch"),
        Key("auxiliary_weight", 0.4, "weight of the auxiliary loss", low=0),
        Key("drop_path", 0.2, "drop-path probability at the end of training from scratch", low=0, high=1),
        Key(
            "variant",
            "auto",
            "cifar (NetworkCIFAR), imagenet (NetworkImageNet), auto: by the data set",
            choices=("auto", *VARIANTS),
        ),
        Key("pool_bn", False, "BatchNorm after the pooling choices (MdeNAS's network)"),
    )
    presets = {
        "paper": {
            "space.layers": 6,
            "space.channels": 16,
            "train.batch_size": 512,
            "train.epochs": 100,
            "train.lr_min": 0.0,
            "data.val_size": 5000,
            "data.mean": 0.5,
            "data.std": 0.5,
        },
        "tiny": {
            "space.layers": 3,
            "space.channels": 4,
            "train.batch_size": 32,
            "train.epochs": 2,
            "data.limit": 1000,
            "data.val_size": 0.5,
        },
        "tiny/imagenet": TINY_IMAGENET,
    }
    train_presets = {
        "paper": {
            "space.layers": 20,
            "space.channels": 36,
            "train.batch_size": 96,
            "train.epochs": 600,
            "train.lr_min": 0.0,
            "train.weight_decay": 3e-4,
            "space.drop_path": 0.3,
            "data.cutout": 16,
            "data.mean": 0.5,
            "data.std": 0.5,
        },
        "paper/imagenet": {
            "space.layers": 14,
            "space.channels": 48,
            "space.drop_path": 0.0,
            "train.batch_size": 128,
            "train.epochs": 250,
            "train.lr": 0.1,
            "train.schedule": "exponential",
            "train.gamma": 0.97,
            "train.weight_decay": 3e-5,
            "train.label_smoothing": 0.1,
            "data.cutout": 0,
            "data.mean": None,
            "data.std": None,
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
        "tiny/imagenet": TINY_IMAGENET,
    }

    def __init__(self, config: Mapping[str, Any], data: DataInfo) -> None:
        super().__init__(config, data)
        self.channels: int = self.config["channels"]
        self.layers: int = self.config["layers"]
        self.nodes: int = self.config["nodes"]
        self.stem_multiplier: int = self.config["stem_multiplier"]
        self.variant: str = network_variant(self.config["variant"], data)
        self.pool_bn: bool = self.config["pool_bn"]
        self._decisions = tuple(Decision(name, CHOICES) for name in decision_names(self.nodes))

    @property
    def decisions(self) -> tuple[Decision, ...]:
        return self._decisions

    def _network_size(self) -> dict[str, int | str]:
        """What the supernet and the child share: variant, cells, channels, nodes, classes."""
        return {
            "C": self.channels,
            "layers": self.layers,
            "nodes": self.nodes,
            "stem_multiplier": self.stem_multiplier,
            "num_classes": self.data.num_classes,
            "in_channels": self.data.channels,
            "variant": self.variant,
        }

    def build_supernet(self) -> SearchNetwork:
        return SearchNetwork(**self._network_size())

    def build_child(self, arch: Arch) -> ChildNetwork:
        self.check_arch(arch)
        return ChildNetwork(
            arch, auxiliary=bool(self.config["auxiliary"]), pool_bn=self.pool_bn, **self._network_size()
        )

    def child_extras(self) -> ChildExtras:
        """The auxiliary head's loss weight (when the head is on) and drop-path, as DARTS trains its networks."""
        weight = float(self.config["auxiliary_weight"]) if self.config["auxiliary"] else 0.0
        return ChildExtras(auxiliary_weight=weight, drop_path=float(self.config["drop_path"]))

    def drawing(self, arch: Arch) -> tuple[CellDrawing, ...]:
        """The normal and the reduction cell, as the DARTS paper draws them: inputs c_{k-2}, c_{k-1}, output c_{k}."""
        self.check_arch(arch)
        nodes = tuple(str(i) for i in range(self.nodes))

        def source(src: int) -> str:
            return {0: "c_{k-2}", 1: "c_{k-1}"}.get(src, str(src - 2))

        return tuple(
            CellDrawing(
                title=f"{cell} cell",
                inputs=("c_{k-2}", "c_{k-1}"),
                nodes=nodes,
                output="c_{k}",
                edges=tuple(
                    (source(src), str(node), CHOICES[k])
                    for node, chosen in enumerate(cell_pairs(arch, cell, self.nodes))
                    for k, src in chosen
                ),
                concat=True,
            )
            for cell in CELL_TYPES
        )

    def derive(self, scores: Mapping[str, torch.Tensor], generator: torch.Generator | None = None) -> Arch:
        """Per edge the best op but none, per node its two best edges (DARTS); ties drawn from the search's seeded generator."""
        return _genotype.derive(scores, self.nodes, generator)

    def sample_final(self, generator: torch.Generator) -> Arch:
        return _genotype.sample_final(generator, self.nodes)

    def arch_to_json(self, arch: Arch) -> dict[str, Any]:
        self.check_arch(arch)
        obj = _genotype.arch_to_json(arch, self.nodes)
        return {**obj, "pool_bn": True} if self.pool_bn else obj

    @classmethod
    def arch_config(cls, obj: Mapping[str, Any]) -> dict[str, Any]:
        """A genotype written with ``"pool_bn": true`` (MdeNAS's released network) is trained with pool BN."""
        return {"space.pool_bn": True} if obj.get("pool_bn") is True else {}

    def arch_from_json(self, obj: Any) -> Arch:
        return _genotype.arch_from_json(obj, self.nodes)
