"""The one schema of a run's config: the engine's keys here, each space's and strategy's own from its plugin."""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

from nasframe.interfaces.errors import ConfigError
from nasframe.interfaces.keys import Key
from nasframe.interfaces.text import shorten

STRUCTURE = ("preset", "versions", "arch", "archs")
"""Top-level entries a config.json holds besides keys: the preset, the versions that ran it, the arch(s) trained."""

DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def _device(value: str) -> str:
    if not DEVICE.fullmatch(value):
        raise ValueError(value)
    return value


def _val_size(value: float) -> float | int:
    """A fraction below 1 stays a fraction; 1 or more must be a whole count of images."""
    if value >= 1:
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    return value


def _channel_values(positive: bool) -> Any:
    """``data.mean``/``data.std``: one number for every channel, or a list of three (RGB)."""

    def rule(value: Any) -> float | list[float]:
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and len(value) != 3:
            raise ValueError(value)
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or (positive and v <= 0):
                raise ValueError(value)
        return [float(v) for v in value] if isinstance(value, list) else float(value)

    return rule


def _folder(value: str) -> str:
    """A path that names a folder: an empty one would silently mean "the default folder" downstream."""
    if not value.strip():
        raise ValueError(value)
    return value


ENGINE_KEYS: tuple[Key, ...] = (
    Key("seed", 0, "seed of every random stream of the run", low=0, high=2**63 - 1),
    Key(
        "device",
        "auto",
        "where to train: auto (CUDA when there is one), cpu, cuda, cuda:N, mps",
        rule=_device,
        allowed_text="auto, cpu, mps, cuda or cuda:N",
    ),
    Key(
        "data.dataset",
        None,
        "the data set, by its registered name (`nasframe list`; null: the default one)",
        type=str,
        optional=True,
    ),
    Key(
        "data.dir",
        None,
        "folder holding the data set; null: $NASFRAME_DATA, else the user cache",
        type=str,
        optional=True,
        rule=_folder,
        allowed_text="a folder's path",
    ),
    Key("data.limit", None, "use only the first N training images (null: all)", type=int, low=1, optional=True),
    Key(
        "data.val_size",
        0.5,
        "validation images held out of the training set: a fraction below 1 or a count",
        type=float,
        low=0,
        rule=_val_size,
        allowed_text="0, a fraction below 1, or a whole count >= 1",
    ),
    Key("data.test_limit", None, "use only the first N test images (null: all)", type=int, low=1, optional=True),
    Key("data.cutout", 0, "cutout square side in pixels for training images (0: off)", low=0),
    Key(
        "data.mean",
        None,
        "input normalisation mean: one number for all channels or three (null: the data set's)",
        type=object,
        optional=True,
        rule=_channel_values(positive=False),
        allowed_text="a number or a list of 3",
    ),
    Key(
        "data.std",
        None,
        "input normalisation std: one number for all channels or three (null: the data set's)",
        type=object,
        optional=True,
        rule=_channel_values(positive=True),
        allowed_text="a positive number or a list of 3",
    ),
    Key(
        "data.download",
        True,
        "download the data set when it is missing and its plugin can (into the default folder, or an existing --data-dir)",
    ),
    Key("data.workers", 4, "image-decoding processes (data sets read from image folders)", low=0),
    Key("train.epochs", 50, "epochs to train (a cap when budget.seconds is set)", low=0),
    Key("train.batch_size", 64, "training images per step (over all processes)", low=1),
    Key(
        "train.eval_batch_size",
        256,
        "images per validation or test batch (null: the training batch size)",
        type=int,
        low=1,
        optional=True,
    ),
    Key("train.lr", 0.025, "SGD learning rate at the start of the schedule", low=0, low_open=True),
    Key("train.lr_min", 0.001, "learning rate the cosine schedule ends at", low=0),
    Key(
        "train.schedule",
        "cosine",
        "learning-rate schedule: cosine to lr_min, exponential (x gamma per epoch), step (x gamma every step_epochs)",
        choices=("cosine", "exponential", "step"),
    ),
    Key("train.gamma", 0.97, "decay factor of the exponential and step schedules", low=0, low_open=True, high=1),
    Key("train.step_epochs", 1, "epochs between decays of the step schedule", low=1),
    Key(
        "train.nonfinite",
        "stop",
        "when a training loss becomes NaN or infinite: stop the run (keeping the last good checkpoint), "
        "or continue training on it",
        choices=("stop", "continue"),
    ),
    Key("train.label_smoothing", 0.0, "label smoothing of the training loss", low=0, high=1, high_open=True),
    Key("train.momentum", 0.9, "SGD momentum", low=0, high=1, high_open=True),
    Key("train.weight_decay", 3e-4, "SGD weight decay", low=0, high=1),
    Key(
        "train.grad_clip",
        5.0,
        "clip the gradient norm to this (0 or null: no clipping)",
        type=float,
        low=0,
        optional=True,
    ),
    Key("train.amp", True, "bf16 autocast on CUDA"),
    Key("train.channels_last", True, "channels-last memory format on CUDA"),
    Key("train.compile", False, "torch.compile the network trained from scratch"),
    Key(
        "budget.seconds",
        None,
        "wall-clock budget of search training in seconds (null: epochs only)",
        type=float,
        low=0,
        low_open=True,
        optional=True,
    ),
    Key(
        "constraint.max_latency_ms",
        None,
        "hard limit on the cost model's predicted latency (ms, at cost.batch_size "
        "on the run's device) of every architecture trained and returned (null: none)",
        type=float,
        low=0,
        low_open=True,
        optional=True,
    ),
    Key(
        "constraint.max_flops",
        None,
        "hard limit on multiply-adds (counted) of every architecture trained and returned (null: none)",
        type=int,
        low=1,
        optional=True,
    ),
    Key(
        "constraint.max_params",
        None,
        "hard limit on parameters (counted) of every architecture trained and returned (null: none)",
        type=int,
        low=1,
        optional=True,
    ),
    Key("constraint.tries", 1000, "draws a budgeted sampler makes before it gives up with one line", low=1),
    Key("cost.model", "lookup", "latency predictor: a registered cost model (built-in: lookup, a per-block table)"),
    Key(
        "cost.table",
        None,
        "lookup table JSON written by `nasframe latency` (null: measure the space's blocks on the "
        "run's device when a prediction is first needed)",
        type=str,
        optional=True,
    ),
    Key("cost.batch_size", 1, "images per forward pass the latency is predicted for", low=1),
    Key("evaluator.name", "supernet", "the evaluator that scores architectures (see `nasframe list`)"),
)

IDENTITY_HELP = {
    "space": "the search space (chosen with --space or by arch.json)",
    "strategy": "the search strategy (chosen with --strategy)",
}
PLUGIN_SECTIONS = ("space", "strategy", "evaluator")
"""Config sections a plugin declares the keys of (``evaluator.name`` itself is the engine's: a choice, not an identity)."""


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"train.lr": 0.1}`` -> ``{"train": {"lr": 0.1}}``."""
    out: dict[str, Any] = {}
    for dotted, value in flat.items():
        *parents, leaf = dotted.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The leaves of a nested config by dotted key."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


ENGINE_DEFAULTS: dict[str, Any] = nest({key.name: key.default for key in ENGINE_KEYS})


@dataclass(frozen=True)
class Schema:
    """Every key a run's config may hold, by dotted name: the engine's, and its space's, strategy's and evaluator's own."""

    keys: dict[str, Key]

    @classmethod
    def of(
        cls, space_cls: type | None = None, strategy_cls: type | None = None, evaluator_cls: type | None = None
    ) -> Schema:
        keys = {key.name: key for key in ENGINE_KEYS}
        for section, plugin in zip(PLUGIN_SECTIONS, (space_cls, strategy_cls, evaluator_cls)):
            if plugin is None:
                continue
            if section in IDENTITY_HELP:
                keys[f"{section}.name"] = Key("name", plugin.name, IDENTITY_HELP[section], settable=False)
            for key in plugin.keys:
                keys[f"{section}.{key.name}"] = key
        return cls(keys)

    def defaults(self) -> dict[str, Any]:
        """The nested config of every key at its default."""
        return nest({name: key.default for name, key in self.keys.items()})

    def key(self, name: str, source: str) -> Key:
        """The declared key ``name``, or ConfigError with the closest names."""
        if name not in self.keys:
            close = difflib.get_close_matches(name, list(self.keys), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else "; see `nasframe config` for the keys"
            raise ConfigError(f"unknown config key {shorten(repr(name))} in {source}{hint}")
        return self.keys[name]

    def apply(self, config: dict[str, Any], overrides: Mapping[str, Any], source: str) -> None:
        """Set checked values of declared keys; an identity key (``space.name``) keeps the value it has."""
        for name, value in overrides.items():
            key = self.key(name, source)
            if not key.settable and value != _get(config, name):
                section = name.split(".")[0]
                raise ConfigError(
                    f"config key {name!r} is not settable: it names the run's {section}; pass --{section} instead"
                )
            _set(config, name, key.check(value, name))

    def check(self, config: Mapping[str, Any], source: str) -> dict[str, Any]:
        """A whole config (config.json on resume) checked key by key: an unknown key is refused, a missing one
        takes its default (a config written before the key was declared ran with that default)."""
        checked = {k: v for k, v in config.items() if k in STRUCTURE}
        leaves = flatten({k: v for k, v in config.items() if k not in STRUCTURE})
        values = {name: key.default for name, key in self.keys.items() if name not in leaves}
        values.update({name: self.key(name, source).check(value, name) for name, value in leaves.items()})
        return {**nest(values), **checked}


def _get(config: Mapping[str, Any], dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _set(config: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = config
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
