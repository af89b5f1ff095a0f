"""nasframe: pluggable neural architecture search with fair, reproducible comparisons.

Everything a plugin needs is exported here; plugins (the built-in ones too) import nothing else.
"""
from __future__ import annotations

from typing import Any

from nasframe.interfaces import __version__
from nasframe.interfaces.context import Batch, Batches, SearchContext, Splits
from nasframe.interfaces.cost_model import CostModel, CostTable, CostTerm
from nasframe.interfaces.errors import ArchError, CheckpointError, ConfigError, DataError, NasframeError, PluginError
from nasframe.interfaces.evaluator import Evaluator
from nasframe.interfaces.feedback import Feedback
from nasframe.interfaces.gradient_strategy import GradientStrategy, grads_or_zeros, masked_softmax
from nasframe.interfaces.hooks import hookimpl
from nasframe.interfaces.meter import ClassificationMeter, LossAccuracy
from nasframe.interfaces.space import (
    Arch,
    ArchLike,
    Block,
    Blocks,
    Cost,
    DataInfo,
    Decision,
    Relaxed,
    SearchSpace,
    Supernet,
)
from nasframe.interfaces.strategy import Strategy, mean_entropy
from nasframe.interfaces.world import World

__all__ = [
    "Arch",
    "ArchError",
    "ArchLike",
    "Batch",
    "Batches",
    "Block",
    "Blocks",
    "CheckpointError",
    "ClassificationMeter",
    "ConfigError",
    "Cost",
    "CostModel",
    "CostTable",
    "CostTerm",
    "DataError",
    "DataInfo",
    "Decision",
    "Evaluator",
    "Feedback",
    "GradientStrategy",
    "LossAccuracy",
    "NasframeError",
    "PluginError",
    "Relaxed",
    "SearchContext",
    "SearchSpace",
    "Splits",
    "Strategy",
    "Supernet",
    "World",
    "__version__",
    "grads_or_zeros",
    "hookimpl",
    "load_model",
    "load_run",
    "masked_softmax",
    "mean_entropy",
]


def __getattr__(name: str) -> Any:
    """Import the run-loading API on first use, so plugins importing nasframe stay light."""
    if name in ("load_run", "load_model"):
        from nasframe.storage import loading

        return getattr(loading, name)
    raise AttributeError(f"module 'nasframe' has no attribute {name!r}")
