"""TensorBoard logging through the observer hooks: every numeric metric of every epoch as a scalar.

Opt-in, as a built-in must not write files nobody asked for: set ``NASFRAME_TENSORBOARD=1`` and the
run writes ``<run dir>/tensorboard/`` (``tensorboard --logdir runs`` shows every run). It needs the
``tensorboard`` package (``pip install tensorboard``); when it is enabled but missing, the run says
so once on stderr and goes on without it.
"""

from __future__ import annotations

import os
import weakref
from typing import Any, Iterator, Mapping

import nasframe

ENV = "NASFRAME_TENSORBOARD"
SUBDIR = "tensorboard"
INSTALL_HINT = (
    f"{ENV} is set but TensorBoard is not installed, so this run writes no TensorBoard logs. "
    "Install it with `pip install tensorboard` (the run goes on without it)."
)

_writers: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_hint_shown = False


def enabled() -> bool:
    """Whether the user asked for TensorBoard logs (``NASFRAME_TENSORBOARD`` = 1/true/yes/on)."""
    return os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _summary_writer() -> Any | None:
    """``torch.utils.tensorboard.SummaryWriter``, or None (after one hint on stderr) when not installed."""
    global _hint_shown
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        if not _hint_shown:
            _hint_shown = True
            from rich.console import Console

            Console(stderr=True).print(f"[yellow]warning:[/] {INSTALL_HINT}", highlight=False, soft_wrap=True)
        return None
    return SummaryWriter


def scalars(metrics: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, float]]:
    """``(tag, value)`` for every number in ``metrics``; nested mappings become ``outer/inner`` tags."""
    for key, value in metrics.items():
        tag = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from scalars(value, f"{tag}/")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield tag, float(value)


def _writes_the_run_directory(run: Any) -> bool:
    """In a data-parallel run every rank sees the hooks; rank 0 alone writes, as for the checkpoint."""
    return bool(getattr(getattr(run, "world", None), "is_main", True))


@nasframe.hookimpl
def on_run_start(run: Any) -> None:
    if not enabled() or not _writes_the_run_directory(run):
        return
    writer_cls = _summary_writer()
    if writer_cls is not None:
        _writers[run] = writer_cls(log_dir=str(run.path / SUBDIR))


@nasframe.hookimpl
def on_epoch_end(run: Any, epoch: int, metrics: dict[str, Any]) -> None:
    writer = _writers.get(run)
    if writer is None:
        return
    for tag, value in scalars(metrics):
        if tag != "epoch":
            writer.add_scalar(tag, value, epoch)
    writer.flush()


@nasframe.hookimpl
def on_run_end(run: Any, summary: dict[str, Any]) -> None:
    writer = _writers.pop(run, None)
    if writer is None:
        return
    for tag, value in scalars(summary, "summary/"):
        writer.add_scalar(tag, value, run.epoch)
    writer.close()


@nasframe.hookimpl
def on_exception(run: Any, exception: BaseException) -> None:
    """A failed or interrupted run keeps the epochs it logged: the writer is flushed and closed."""
    writer = _writers.pop(run, None)
    if writer is not None:
        writer.close()
