"""Run configuration: engine defaults, presets and overrides resolved into one dict, and how two compare."""
from nasframe.config.compare import PORTABLE_KEYS, config_difference, config_hash, is_portable, run_hash
from nasframe.config.resolution import (
    ENGINE_DEFAULTS,
    PRESETS,
    apply_overrides,
    flat_keys,
    get_key,
    has_key,
    parse_sets,
    parse_value,
    resolve,
    set_key,
)

__all__ = [
    "ENGINE_DEFAULTS",
    "PORTABLE_KEYS",
    "PRESETS",
    "apply_overrides",
    "config_difference",
    "config_hash",
    "flat_keys",
    "get_key",
    "has_key",
    "is_portable",
    "parse_sets",
    "parse_value",
    "resolve",
    "run_hash",
    "set_key",
]
