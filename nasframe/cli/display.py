"""Rich output: a progress display for runs and the summary table at the end."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from nasframe.engine.loop import Observer

console = Console(stderr=True)

SHOWN = (("train_loss", "loss"), ("train_accuracy", "train acc"), ("val_accuracy", "val acc"), ("entropy", "entropy"))


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


class ProgressDisplay:
    """The bars of every long command (run, train, bench, rank), built one way and used as a context manager."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TimeRemainingColumn(), TextColumn("{task.fields[status]}"), console=console, transient=False,
        )

    def __enter__(self) -> ProgressDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


class RunDisplay(ProgressDisplay, Observer):
    """One progress bar over epochs and one over the current epoch's steps, with the last metrics."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title = title
        self.epochs = self.steps = None

    def on_run_start(self, run: Any) -> None:
        self.epochs = self.progress.add_task(self.title, total=run.job.num_epochs, completed=run.epoch, status="")
        self.steps = self.progress.add_task("  steps", total=None, status="")

    def on_step_end(self, run: Any, step: int, steps: int) -> None:
        self.progress.update(self.steps, completed=step, total=steps)

    def on_epoch_end(self, run: Any, epoch: int, metrics: dict[str, Any]) -> None:
        status = "  ".join(f"{label} {fmt(metrics[key])}" for key, label in SHOWN if key in metrics)
        self.progress.update(self.epochs, completed=epoch + 1, status=status)


def print_summary(summary: dict[str, Any], path: Path) -> None:
    table = Table(title=f"Run {path}", show_header=False)
    table.add_column("metric", style="bold")
    table.add_column("value")
    for key, value in summary.items():
        if key == "strategy_metrics" and isinstance(value, dict):  # how decided the search ended
            for name, metric in value.items():
                table.add_row(f"{key}.{name}", fmt(metric))
        elif not isinstance(value, (dict, list)):
            table.add_row(key, fmt(value))
    Console().print(table)
