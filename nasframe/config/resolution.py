"""Resolved run configuration: engine defaults, then the space's and strategy's presets, then --set."""
from __future__ import annotations

import copy
import difflib
import json
from typing import Any, Iterable, Mapping

from nasframe.interfaces.errors import ConfigError

PRESETS = ("paper", "tiny")

ENGINE_DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "device": "auto",
    "data": {
        "dataset": "cifar10",
        "dir": None,
        "limit": None,
        "val_size": 0.5,
        "test_limit": None,
        "cutout": 0,
        "download": True,
        "workers": 4,
    },
    "train": {
        "epochs": 50,
        "batch_size": 64,
        "eval_batch_size": 256,
        "lr": 0.025,
        "lr_min": 0.001,
        "momentum": 0.9,
        "weight_decay": 3e-4,
        "grad_clip": 5.0,
        "amp": True,
        "channels_last": True,
        "compile": False,
    },
    "budget": {"seconds": None},
    # Hard limits on the architectures a search trains and returns (null: none). Latency is the cost
    # model's prediction at cost.batch_size on the run's device; multiply-adds and parameters are counted.
    "constraint": {"max_latency_ms": None, "max_flops": None, "max_params": None, "tries": 1000},
    # The latency predictor: a registered cost model (built-in: lookup) and the lookup table to read
    # (null: measure the space's blocks on the run's device when a prediction is first needed).
    "cost": {"model": "lookup", "table": None, "batch_size": 1},
    "evaluator": {"name": "supernet"},
}


def get_key(config: Mapping[str, Any], key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        node = node[part]
    return node


def has_key(config: Mapping[str, Any], key: str) -> bool:
    try:
        get_key(config, key)
    except (KeyError, TypeError):
        return False
    return True


def set_key(config: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = config
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def flat_keys(config: Mapping[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for k, v in config.items():
        if isinstance(v, Mapping):
            keys.extend(flat_keys(v, f"{prefix}{k}."))
        else:
            keys.append(f"{prefix}{k}")
    return keys


def parse_value(text: str) -> Any:
    """A --set value: JSON when it parses (numbers, true, null, lists), else the plain string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _coerce(key: str, old: Any, value: Any) -> Any:
    if old is None or value is None:
        return value
    if isinstance(old, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"config key {key!r} takes true or false, not {value!r}")
        return value
    if isinstance(old, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(old, int) and isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(old, (int, float)) and isinstance(value, str):
        raise ConfigError(f"config key {key!r} takes a number, not {value!r}")
    return value


def apply_overrides(config: dict[str, Any], overrides: Mapping[str, Any], source: str) -> None:
    """Set dotted keys that must already exist, so a typo is an error rather than ignored."""
    keys = flat_keys(config)
    for key, value in overrides.items():
        if not has_key(config, key) or isinstance(get_key(config, key), Mapping):
            close = difflib.get_close_matches(key, keys, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else f"; known keys: {', '.join(keys)}"
            raise ConfigError(f"unknown config key {key!r} in {source}{hint}")
        set_key(config, key, _coerce(key, get_key(config, key), value))


def parse_sets(items: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set takes key=value, got {item!r}")
        out[key.strip()] = parse_value(value.strip())
    return out


def resolve(
    space_cls: type,
    strategy_cls: type | None,
    preset: str,
    overrides: Mapping[str, Any] = {},
    *,
    strategy_presets: bool = True,
    train: bool = False,
) -> dict[str, Any]:
    """The fully resolved config of a run: every key the engine, space and strategy read."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; available: {', '.join(PRESETS)}")
    config = copy.deepcopy(ENGINE_DEFAULTS)
    config["space"] = {"name": space_cls.name, **copy.deepcopy(space_cls.defaults)}
    if strategy_cls is not None:
        config["strategy"] = {"name": strategy_cls.name, **copy.deepcopy(strategy_cls.defaults)}
    space_presets = space_cls.train_presets if train else space_cls.presets
    apply_overrides(config, space_presets.get(preset, {}), f"the {space_cls.name} space's {preset} preset")
    if strategy_cls is not None:
        own = strategy_cls.presets.get(preset, {})
        if not strategy_presets:  # a comparison: only the strategy's own keys, the training setting stays shared
            own = {k: v for k, v in own.items() if k.startswith("strategy.")}
        # a strategy paper's cell count means nothing to a space without cells
        own = {k: v for k, v in own.items() if not k.startswith("space.") or has_key(config, k)}
        apply_overrides(config, own, f"the {strategy_cls.name} strategy's {preset} preset")
    config["preset"] = preset
    apply_overrides(config, overrides, "the command line")
    return config
