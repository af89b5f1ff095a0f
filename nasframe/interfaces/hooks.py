"""Plugin hooks: verbs with a callback, as in ``llm`` and ``datasette``."""

from __future__ import annotations

from typing import Any, Callable

import pluggy

ENTRY_POINT_GROUP = "nasframe"
"""The entry-point group plugins are found by, and the pluggy project name of their hooks."""
BUILTIN_DISTRIBUTION = "nasframe"
"""The distribution of the built-in plugins (listed first; ``NASFRAME_PLUGINS`` never filters them)."""

hookspec = pluggy.HookspecMarker(ENTRY_POINT_GROUP)
hookimpl = pluggy.HookimplMarker(ENTRY_POINT_GROUP)


@hookspec
def register_strategies(register: Callable[[type], None]) -> None:
    """Call ``register(StrategySubclass)`` for every strategy the plugin provides."""


@hookspec
def register_search_spaces(register: Callable[[type], None]) -> None:
    """Call ``register(SearchSpaceSubclass)`` for every search space the plugin provides."""


@hookspec
def register_evaluators(register: Callable[[type], None]) -> None:
    """Call ``register(EvaluatorSubclass)`` for every evaluator the plugin provides."""


@hookspec
def register_cost_models(register: Callable[[type], None]) -> None:
    """Call ``register(CostModelSubclass)`` for every latency predictor the plugin provides."""


@hookspec
def register_datasets(register: Callable[[type], None]) -> None:
    """Call ``register(DatasetSubclass)`` for every data set the plugin provides."""


@hookspec
def register_launchers(register: Callable[[type], None]) -> None:
    """Call ``register(LauncherSubclass)`` for every launcher (where a study's tasks run) the plugin provides."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands to the ``nasframe`` command group."""


@hookspec
def on_run_start(run: Any) -> None:
    """A search or training run starts (also when it resumes)."""


@hookspec
def on_epoch_end(run: Any, epoch: int, metrics: dict[str, Any]) -> None:
    """An epoch ended; ``metrics`` is the record just written to events.jsonl."""


@hookspec
def on_run_end(run: Any, summary: dict[str, Any]) -> None:
    """A run finished; ``summary`` is what summary.json holds."""


@hookspec
def on_exception(run: Any, exception: BaseException) -> None:
    """A started run stopped on ``exception`` (an error, Ctrl-C or SIGTERM, out of memory): close what
    ``on_run_start`` opened. The exception goes on to the caller; the last checkpoint is on disk."""
