"""ImageNet in torchvision's ImageFolder layout, registered as a data set plugin like any third party's."""

from __future__ import annotations

from typing import Any, Mapping

import torch

import nasframe
from nasframe import ConfigError, DataInfo, DataModule, Dataset, World, image_folder_splits


class ImageNet(Dataset):
    """ImageNet (ILSVRC-2012) folders, 224x224 crops, decoded by ``data.workers`` processes.

    The class count is the folders found when the data is read; without reading it is ``data.num_classes``
    (1000 when unset), enough to size a network for ``nasframe train --epochs 0``.
    """

    name = "imagenet"
    description = "ImageNet, DIR/train/<class>/*.JPEG and DIR/val/<class>/*.JPEG (torchvision's ImageFolder layout)"
    sizes = {"train": 1_281_167, "test": 50_000}
    mean = (0.485, 0.456, 0.406)
    std = (0.229, 0.224, 0.225)
    image_size = 224
    resize = 256

    @classmethod
    def info(cls, config: Mapping[str, Any]) -> DataInfo:
        return DataInfo(cls.name, num_classes=int(config["data"].get("num_classes") or 1000), image_size=cls.image_size)

    @classmethod
    def build(cls, config: Mapping[str, Any], device: torch.device, *, purpose: str, world: World) -> DataModule:
        if world.active:
            raise ConfigError(f"data-parallel runs cannot read {cls.name} yet: its folders are not sharded by rank")
        return image_folder_splits(
            config,
            device,
            purpose=purpose,
            info=cls.info(config),
            title="ImageNet",
            mean=cls.mean,
            std=cls.std,
            resize=cls.resize,
        )


@nasframe.hookimpl
def register_datasets(register):
    register(ImageNet)
