"""Run configuration: one schema of every key, presets and overrides resolved into one dict, and how two compare."""

from nasframe.config.compare import PORTABLE_KEYS, config_difference, config_hash, is_portable, run_hash
from nasframe.config.resolution import PRESETS, parse_sets, parse_value, resolve
from nasframe.config.schema import ENGINE_DEFAULTS, ENGINE_KEYS, Schema

__all__ = [
    "ENGINE_DEFAULTS",
    "ENGINE_KEYS",
    "PORTABLE_KEYS",
    "PRESETS",
    "Schema",
    "config_difference",
    "config_hash",
    "is_portable",
    "parse_sets",
    "parse_value",
    "resolve",
    "run_hash",
]
