"""nasframe: pluggable neural architecture search with fair, reproducible comparisons.

Everything a plugin needs is exported here; plugins (the built-in ones too) import nothing else. The
names load on first use, so ``nasframe --help`` starts without importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from nasframe.interfaces import __version__

_HOMES = {
    "nasframe.interfaces.context": ("Batch", "Batches", "SearchContext", "Splits"),
    "nasframe.interfaces.cost_model": ("CostModel", "CostTable", "CostTerm"),
    "nasframe.data": (
        "DataModule",
        "TensorBatches",
        "default_data_dir",
        "load_pickled_batch",
        "normalisation",
        "split_sizes",
    ),
    "nasframe.data.image_folders": ("image_folder_splits",),
    "nasframe.interfaces.dataset": ("Dataset",),
    "nasframe.interfaces.decidedness": ("NEAR_TIE_MARGIN", "distribution_metrics", "ranked_choices"),
    "nasframe.interfaces.errors": (
        "ArchError",
        "CheckpointError",
        "ConfigError",
        "DataError",
        "NasframeError",
        "PluginError",
    ),
    "nasframe.interfaces.evaluator": ("Evaluator",),
    "nasframe.interfaces.feedback": ("Feedback",),
    "nasframe.interfaces.gradient_strategy": ("GradientStrategy", "grads_or_zeros", "masked_softmax"),
    "nasframe.interfaces.hooks": ("hookimpl",),
    "nasframe.interfaces.keys": ("Key",),
    "nasframe.interfaces.launcher": ("Launcher", "Outcome", "Task"),
    "nasframe.interfaces.meter": ("ClassificationMeter", "LossAccuracy"),
    "nasframe.interfaces.space": (
        "Arch",
        "ArchLike",
        "Block",
        "Blocks",
        "CellDrawing",
        "ChildExtras",
        "Cost",
        "DataInfo",
        "Decision",
        "Drawing",
        "Relaxed",
        "SearchSpace",
        "StripDrawing",
        "Supernet",
        "choice_indices",
    ),
    "nasframe.interfaces.strategy": ("Strategy", "mean_entropy"),
    "nasframe.interfaces.text": ("first_line",),
    "nasframe.interfaces.world": ("World",),
    "nasframe.engine.device": ("resolve_device",),
    "nasframe.storage.loading": ("load_model", "load_run"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "Arch",
    "ArchError",
    "ArchLike",
    "Batch",
    "Batches",
    "Block",
    "Blocks",
    "CellDrawing",
    "CheckpointError",
    "ChildExtras",
    "ClassificationMeter",
    "ConfigError",
    "Cost",
    "CostModel",
    "CostTable",
    "CostTerm",
    "DataError",
    "DataInfo",
    "DataModule",
    "Dataset",
    "Decision",
    "Drawing",
    "Evaluator",
    "Feedback",
    "GradientStrategy",
    "Key",
    "Launcher",
    "LossAccuracy",
    "NEAR_TIE_MARGIN",
    "NasframeError",
    "Outcome",
    "PluginError",
    "Relaxed",
    "SearchContext",
    "SearchSpace",
    "Splits",
    "Strategy",
    "StripDrawing",
    "Supernet",
    "Task",
    "TensorBatches",
    "World",
    "__version__",
    "choice_indices",
    "default_data_dir",
    "distribution_metrics",
    "first_line",
    "grads_or_zeros",
    "hookimpl",
    "image_folder_splits",
    "load_model",
    "load_pickled_batch",
    "load_run",
    "masked_softmax",
    "mean_entropy",
    "normalisation",
    "ranked_choices",
    "resolve_device",
    "split_sizes",
]

if TYPE_CHECKING:
    from nasframe.data import (
        DataModule,
        TensorBatches,
        default_data_dir,
        load_pickled_batch,
        normalisation,
        split_sizes,
    )
    from nasframe.data.image_folders import image_folder_splits
    from nasframe.engine.device import resolve_device
    from nasframe.interfaces.context import Batch, Batches, SearchContext, Splits
    from nasframe.interfaces.cost_model import CostModel, CostTable, CostTerm
    from nasframe.interfaces.dataset import Dataset
    from nasframe.interfaces.decidedness import NEAR_TIE_MARGIN, distribution_metrics, ranked_choices
    from nasframe.interfaces.errors import (
        ArchError,
        CheckpointError,
        ConfigError,
        DataError,
        NasframeError,
        PluginError,
    )
    from nasframe.interfaces.evaluator import Evaluator
    from nasframe.interfaces.feedback import Feedback
    from nasframe.interfaces.gradient_strategy import GradientStrategy, grads_or_zeros, masked_softmax
    from nasframe.interfaces.hooks import hookimpl
    from nasframe.interfaces.keys import Key
    from nasframe.interfaces.launcher import Launcher, Outcome, Task
    from nasframe.interfaces.meter import ClassificationMeter, LossAccuracy
    from nasframe.interfaces.space import (
        Arch,
        ArchLike,
        Block,
        Blocks,
        CellDrawing,
        ChildExtras,
        Cost,
        DataInfo,
        Decision,
        Drawing,
        Relaxed,
        SearchSpace,
        StripDrawing,
        Supernet,
        choice_indices,
    )
    from nasframe.interfaces.strategy import Strategy, mean_entropy
    from nasframe.interfaces.text import first_line
    from nasframe.interfaces.world import World
    from nasframe.storage.loading import load_model, load_run


def __getattr__(name: str) -> Any:
    """Import an exported name's module on first use (torch loads with the first interface a plugin touches)."""
    if name not in _HOME_OF:
        raise AttributeError(f"module 'nasframe' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME_OF[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
