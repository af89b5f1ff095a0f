"""Data sets in memory as uint8 tensors, batched and augmented on the training device."""

from __future__ import annotations

from typing import Any, Mapping

import torch

from nasframe.data.batches import DataModule, TensorBatches, split_sizes
from nasframe.data.cifar import build_cifar
from nasframe.interfaces.errors import ConfigError
from nasframe.interfaces.space import DataInfo
from nasframe.interfaces.world import World

__all__ = ["DataModule", "TensorBatches", "build_data", "data_info", "split_sizes"]


def build_data(config: Mapping[str, Any], device: torch.device, *, purpose: str, world: World = World()) -> DataModule:
    """The data module named by ``data.dataset``; with several processes each batch is this rank's shard."""
    name = config["data"]["dataset"]
    if name == "cifar10":
        return build_cifar(config, device, purpose=purpose, world=world)
    if world.active:
        raise ConfigError(f"data-parallel runs read cifar10 only for now, not {name!r}")
    if name == "imagenet":
        from nasframe.data.imagenet import build_imagenet

        return build_imagenet(config, device, purpose=purpose)
    raise ConfigError(f"unknown data.dataset {name!r}; available: cifar10, imagenet")


def data_info(config: Mapping[str, Any]) -> DataInfo:
    """What a space needs of the data set, without reading it (for ``nasframe train --epochs 0``)."""
    name = config["data"]["dataset"]
    if name == "imagenet":
        return DataInfo("imagenet", num_classes=int(config["data"].get("num_classes") or 1000), image_size=224)
    return DataInfo("cifar10", num_classes=10, image_size=32)
