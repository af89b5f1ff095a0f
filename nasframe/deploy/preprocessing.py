"""What a deployment must do to an image before the exported network sees it, read from the run's config and its
data set's plugin: the size, the scaling, and the per-channel mean and std training normalised with.

A network trained on inputs normalised one way gives wrong answers on inputs normalised another; the card
and export.json state it so a consumer without nasframe can reproduce it.
"""

from __future__ import annotations

from typing import Any, Mapping

from nasframe.data import normalisation
from nasframe.interfaces.space import DataInfo
from nasframe.registry import Registry, get_registry


def preprocessing(config: Mapping[str, Any], data: DataInfo, registry: Registry | None = None) -> dict[str, Any]:
    """Input layout, resizing and normalisation of the network's input, as numbers.

    The data set's own statistics (its plugin's ``mean``/``std``) apply where ``data.mean``/``data.std`` are null;
    a data set that declares none is fed as it is (mean 0, std 1).
    """
    dataset = (registry or get_registry()).dataset(config["data"].get("dataset"))
    default_mean = getattr(dataset, "mean", None) or (0.0,) * data.channels
    default_std = getattr(dataset, "std", None) or (1.0,) * data.channels
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
    resize = getattr(dataset, "resize", None)
    if resize:
        record["resize"] = f"shorter side to {resize}, centre crop {data.image_size}x{data.image_size}"
    return record
