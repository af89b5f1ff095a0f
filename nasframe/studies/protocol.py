"""A bench's protocol record: the settings whose absence makes published NAS numbers incomparable.

``bench.json`` stores it under ``protocol`` and the report prints it above the tables: the budget
(epochs, seconds, training images), the data split sizes, the seeds, how each strategy selects its
architecture, how the supernet is evaluated (BN mode), the retraining recipe, versions and device.
"""

from __future__ import annotations

import platform
import sys
from typing import Any, Mapping, Sequence

import torch

from nasframe.data.batches import split_sizes
from nasframe.engine.device import resolve_device
from nasframe.interfaces import __version__
from nasframe.interfaces.errors import NasframeError
from nasframe.interfaces.evaluator import Evaluator
from nasframe.interfaces.space import SearchSpace
from nasframe.interfaces.strategy import Strategy
from nasframe.registry import own_keys

RETRAIN_KEYS = (
    "train.epochs",
    "train.batch_size",
    "train.lr",
    "train.lr_min",
    "train.momentum",
    "train.weight_decay",
    "train.grad_clip",
    "data.cutout",
)
"""The engine's parts of a from-scratch training config that make up its recipe (the space's own keys join them)."""


def search_split(data: Mapping[str, Any], sizes: Mapping[str, int]) -> dict[str, int | None]:
    """Training and validation images of a search's split; ``sizes`` are the data set's (``Dataset.sizes``):
    None where only loading the data can tell."""
    if "train" not in sizes:
        return {"train_images": None, "val_images": None}
    total = min(int(data.get("limit") or sizes["train"]), sizes["train"])
    try:
        train, val = split_sizes(total, data.get("val_size"))
    except NasframeError:
        return {"train_images": None, "val_images": None}
    return {"train_images": train, "val_images": val}


def retrain_recipe(config: Mapping[str, Any], sizes: Mapping[str, int]) -> dict[str, Any]:
    """The recipe of a resolved from-scratch training config (the space's keys and the engine's), with its image
    counts where the data set's ``sizes`` tell them."""
    space = {f"space.{k}": v for k, v in config["space"].items() if k != "name"}
    recipe: dict[str, Any] = {
        **space,
        **{key: config[key.split(".")[0]].get(key.split(".")[1]) for key in RETRAIN_KEYS},
    }
    data = config["data"]
    if "train" in sizes and "test" in sizes:
        recipe["train_images"] = min(int(data.get("limit") or sizes["train"]), sizes["train"])
        recipe["test_images"] = min(int(data.get("test_limit") or sizes["test"]), sizes["test"])
    return recipe


def selection_rule(space_cls: type[SearchSpace], strategy_cls: type[Strategy], config: Mapping[str, Any]) -> str:
    """How a strategy's final architecture is chosen, in words (its ``selection`` and the space's ``derive``)."""
    text = strategy_cls.selection or f"{strategy_cls.name}.final() (the strategy does not describe its selection)"
    try:
        text = text.format(**{**strategy_cls.defaults, **own_keys(config)})
    except (KeyError, IndexError, ValueError):  # a description with braces of its own stays as written
        pass
    if "derive" in text:
        doc = (space_cls.derive.__doc__ or "").strip().splitlines()
        rule = doc[0].rstrip(".") if doc else "not described"
        text += f"; {space_cls.name} derive: {rule[:1].lower()}{rule[1:]}"
    return text


def evaluation(evaluator_cls: type[Evaluator], config: Mapping[str, Any]) -> dict[str, Any]:
    """The evaluator and its settings (the supernet evaluator's ``bn``: batch or running statistics)."""
    return {"name": evaluator_cls.name, **evaluator_cls.defaults, **own_keys(config)}


def device_record(name: str) -> dict[str, Any]:
    """The device the bench was started on, as hardware, and the CPU threads torch uses."""
    try:
        device = resolve_device(name)
    except NasframeError:
        return {"device": name}
    hardware = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    return {"device": str(device), "hardware": hardware, "threads": torch.get_num_threads()}


def cpu_name() -> str:
    """The CPU model (Linux ``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    return {
        "nasframe": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": sys.platform,
    }


def protocol_record(
    space_cls: type[SearchSpace],
    strategies: Mapping[str, tuple[type[Strategy], Mapping[str, Any]]],
    evaluator_cls: type[Evaluator],
    shared: Mapping[str, Any],
    seeds: Sequence[int],
    budget: Mapping[str, Any],
    retrain: Mapping[str, Any] | None,
    sizes: Mapping[str, int],
) -> dict[str, Any]:
    """bench.json's ``protocol``: ``strategies`` maps a name to its class and resolved ``strategy`` config;
    ``sizes`` are the data set's (``Dataset.sizes``)."""
    split = search_split(shared["data"], sizes)
    epochs = None if budget.get("epochs_capped") else budget.get("epochs")
    images = epochs * split["train_images"] if epochs and split["train_images"] else None
    return {
        "budget": {"epochs": epochs, "seconds": budget.get("seconds"), "train_images_seen": images},
        "data": {"dataset": shared["data"].get("dataset"), **split},
        "seeds": list(seeds),
        "selection": {name: selection_rule(space_cls, cls, config) for name, (cls, config) in strategies.items()},
        "evaluation": evaluation(evaluator_cls, shared["evaluator"]),
        "retrain": retrain_recipe(retrain, sizes) if retrain else None,
        "versions": versions(),
        **device_record(str(shared.get("device", "auto"))),
    }
