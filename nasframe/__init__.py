"""nasframe: pluggable neural architecture search with fair, reproducible comparisons."""
from __future__ import annotations

from typing import Any

from nasframe.errors import ArchError, CheckpointError, ConfigError, DataError, NasframeError, PluginError
from nasframe.evaluator import Evaluator
from nasframe.gradient import GradientStrategy
from nasframe.hookspecs import hookimpl
from nasframe.space import Arch, ArchLike, Cost, DataInfo, Decision, Relaxed, SearchSpace, Supernet
from nasframe.strategy import Feedback, Strategy

__version__ = "0.1.0"

__all__ = [
    "Arch",
    "ArchError",
    "ArchLike",
    "CheckpointError",
    "ConfigError",
    "Cost",
    "DataError",
    "DataInfo",
    "Decision",
    "Evaluator",
    "Feedback",
    "GradientStrategy",
    "NasframeError",
    "PluginError",
    "Relaxed",
    "SearchSpace",
    "Strategy",
    "Supernet",
    "hookimpl",
    "load_model",
    "load_run",
]


def __getattr__(name: str) -> Any:
    """Import the run-loading API on first use, so plugins importing nasframe stay light."""
    if name in ("load_run", "load_model"):
        from nasframe import runs

        return getattr(runs, name)
    raise AttributeError(f"module 'nasframe' has no attribute {name!r}")
