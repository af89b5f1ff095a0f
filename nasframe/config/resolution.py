"""Resolved run configuration: the schema's defaults, then the space's and strategy's presets, then --set."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Mapping

from nasframe.config.schema import ENGINE_DEFAULTS, Schema
from nasframe.interfaces.errors import ConfigError

PRESETS = ("paper", "tiny")


def parse_value(text: str) -> Any:
    """A --set value: JSON when it parses (numbers, true, null, lists), else the plain string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_sets(items: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set takes key=value, got {item!r}")
        out[key.strip()] = parse_value(value.strip())
    return out


def preset_for(presets: Mapping[str, Mapping[str, Any]], preset: str, dataset: str) -> dict[str, Any]:
    """A preset's overrides on ``dataset``: ``presets[preset]``, then ``presets["<preset>/<dataset>"]`` over it."""
    return {**presets.get(preset, {}), **presets.get(f"{preset}/{dataset}", {})}


def resolve(
    space_cls: type,
    strategy_cls: type | None,
    preset: str,
    overrides: Mapping[str, Any] = {},
    *,
    strategy_presets: bool = True,
    train: bool = False,
    evaluators: Callable[[str], type] | None = None,
    datasets: Callable[[str | None], type] | None = None,
) -> dict[str, Any]:
    """The fully resolved config of a run: every key the engine, space, strategy and evaluator read, each one checked.

    ``evaluators`` looks up the evaluator ``evaluator.name`` names (a registry's ``evaluator``); without it the
    config has no evaluator keys but the name (training from scratch evaluates nothing). ``datasets`` (a
    registry's ``dataset``) names the default data set in the config when ``data.dataset`` is not set, and
    refuses an unknown one.
    """
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; available: {', '.join(PRESETS)}")
    evaluator_cls = None
    if evaluators is not None:
        name = overrides.get("evaluator.name", ENGINE_DEFAULTS["evaluator"]["name"])
        evaluator_cls = evaluators(name) if isinstance(name, str) else None
    schema = Schema.of(space_cls, strategy_cls, evaluator_cls)
    config = schema.defaults()
    dataset = overrides.get("data.dataset", config["data"]["dataset"])
    space_presets = space_cls.train_presets if train else space_cls.presets
    schema.apply(config, preset_for(space_presets, preset, dataset), f"the {space_cls.name} space's {preset} preset")
    if strategy_cls is not None:
        own = preset_for(strategy_cls.presets, preset, dataset)
        if not strategy_presets:  # a comparison: only the strategy's own keys, the training setting stays shared
            own = {k: v for k, v in own.items() if k.startswith("strategy.")}
        # a strategy paper's cell count means nothing to a space without cells
        own = {k: v for k, v in own.items() if not k.startswith("space.") or k in schema.keys}
        schema.apply(config, own, f"the {strategy_cls.name} strategy's {preset} preset")
        # the space's recipe for this strategy (a benchmark's released search scripts); a comparison keeps its strategy.* keys
        pair = {k: v for k, v in space_presets.get(f"{preset}@{strategy_cls.name}", {}).items() if k in schema.keys}
        if not strategy_presets:
            pair = {k: v for k, v in pair.items() if k.startswith("strategy.")}
        schema.apply(config, pair, f"the {space_cls.name} space's {preset} preset for {strategy_cls.name}")
    config["preset"] = preset
    if train:  # a budget limits what a search trains; training from scratch takes the architecture it is given
        limit = next((k for k, v in overrides.items() if k.startswith("constraint.max_") and v is not None), None)
        if limit:
            raise ConfigError(
                f"{limit} limits the architectures a search trains and returns; `nasframe train` trains "
                "the one it is given (its parameters, multiply-adds and latency are in the summary)"
            )
    schema.apply(config, overrides, "the command line")
    if datasets is not None:
        config["data"]["dataset"] = datasets(config["data"]["dataset"]).name
    return config
