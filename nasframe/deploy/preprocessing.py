"""What a deployment must do to an image before the exported network sees it, read from the run's config: the
size, the scaling, and the per-channel mean and std training normalised with.

A network trained on inputs normalised one way gives wrong answers on inputs normalised another; the card
and export.json state it so a consumer without nasframe can reproduce it.
"""

from __future__ import annotations

from typing import Any, Mapping

from nasframe.data import cifar, imagenet
from nasframe.data.normalisation import normalisation
from nasframe.interfaces.space import DataInfo

STATISTICS = {"cifar10": (cifar.MEAN, cifar.STD), "imagenet": (imagenet.MEAN, imagenet.STD)}
"""Each data set's default normalisation (what ``data.mean``/``data.std`` null means)."""


def preprocessing(config: Mapping[str, Any], data: DataInfo) -> dict[str, Any]:
    """Input layout, resizing and normalisation of the network's input, as numbers."""
    default_mean, default_std = STATISTICS.get(data.name, ((0.0,) * data.channels, (1.0,) * data.channels))
    mean, std = normalisation(config["data"], default_mean, default_std)
    record: dict[str, Any] = {
        "dataset": data.name,
        "layout": "NCHW float32, RGB",
        "input_shape": ["batch", data.channels, data.image_size, data.image_size],
        "scale": "pixel values / 255, then (x - mean) / std per channel",
        "mean": [round(m, 8) for m in mean],
        "std": [round(s, 8) for s in std],
        "num_classes": data.num_classes,
    }
    if data.name == "imagenet":
        record["resize"] = f"shorter side to {imagenet.RESIZE}, centre crop {imagenet.IMAGE_SIZE}x{imagenet.IMAGE_SIZE}"
    return record
