"""Rich output: progress displays (bars on a terminal, one line per epoch in a log) and summaries in human units."""

from __future__ import annotations

import time
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
from nasframe.interfaces.text import count
from nasframe.studies.bench import EPOCH_CAP, Bench, BenchObserver, Trial
from nasframe.studies.launching import TaskObserver
from nasframe.studies.rank import StudyObserver

console = Console(stderr=True)

SHOWN = (
    ("train_loss", "loss"),
    ("train_accuracy", "train acc"),
    ("val_accuracy", "val acc"),
    ("test_accuracy", "test acc"),
    ("entropy", "entropy"),
    ("expected_latency_us", "expected latency"),
    ("expected_flops", "expected"),
    ("expected_params", "expected params"),
)

SECTIONS = ("strategy_metrics", "constraint", "benchmark")
"""Summary entries that are records: each of their values is a row."""
SHARES = ("near_ties", "skip_share")
"""Strategy metrics that are fractions of the decisions (shown as %)."""
LOG_EVERY = 30.0
"""Seconds between the lines a log gets inside a long epoch."""


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 07 min``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def human(key: str, value: Any) -> str:
    """A summary value in the unit a reader thinks in: %, s, MiB/GiB, M params, M multiply-adds."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return fmt(value)
    if key.endswith("accuracy") or key in SHARES:
        return f"{100 * value:.2f} %"
    if key.startswith("benchmark."):  # a benchmark's published figures are in % already
        return f"{value:.2f} %"
    if key.endswith("_error"):
        return f"{100 * value:+.1f} %"
    if key.endswith("_bytes"):
        return f"{value / 2**30:.2f} GiB" if value >= 2**30 else f"{value / 2**20:.1f} MiB"
    if key.endswith("params"):
        return f"{value / 1e6:.2f} M ({value:,})" if value >= 100_000 else f"{value:,}"
    if key.endswith("flops"):
        return f"{value / 1e6:.1f} M multiply-adds"
    if key.endswith("seconds"):
        return duration(value) if value >= 60 else f"{value:.1f} s"
    if key.endswith("_ms"):
        return f"{value:.2f} ms"
    if key.endswith("latency_us"):
        return f"{value / 1000:.2f} ms"
    if key.endswith("per_second"):
        return f"{value:,.0f} images/s"
    return fmt(value)


def epoch_line(metrics: dict[str, Any]) -> str:
    """The metrics of an epoch a reader compares across epochs: losses as numbers, accuracies as %."""
    return "  ".join(f"{label} {human(key, metrics[key])}" for key, label in SHOWN if key in metrics)


class ProgressDisplay:
    """The bars of every long command (run, train, bench, rank), built one way and used as a context manager.

    Bars only on a terminal: in a log they would print nothing until the end, so there ``with_log`` adds
    a :class:`RunLog` that writes lines instead.
    """

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=console,
            transient=False,
        )

    def __enter__(self) -> ProgressDisplay:
        if console.is_terminal:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if console.is_terminal:
            self.progress.stop()

    def note(self, text: str) -> None:
        """A line for a log, where the bars (and their status text) do not show."""
        if text and not console.is_terminal:
            console.print(text, highlight=False, soft_wrap=True)

    def with_log(self, title: str) -> list[Observer]:
        """This display, and on anything but a terminal the log lines that stand in for its bars."""
        return [self] if console.is_terminal else [self, RunLog(title)]


class RunDisplay(ProgressDisplay, Observer):
    """One progress bar over epochs and one over the current epoch's steps, with the last metrics and an ETA."""

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
        self.progress.update(self.epochs, completed=epoch + 1, status=epoch_line(metrics))


class RunLog(Observer):
    """Progress for a log file or a cluster job: one line per epoch, and one every ~30 s inside a long epoch."""

    def __init__(self, title: str, every: float = LOG_EVERY) -> None:
        self.title = title
        self.every = every
        self.first_epoch = 0
        self.started = self.epoch_started = self.last_line = 0.0

    def line(self, text: str) -> None:
        console.print(text, highlight=False, soft_wrap=True)

    def on_run_start(self, run: Any) -> None:
        self.first_epoch = run.epoch
        self.started = self.last_line = time.monotonic()
        resumed = f", resumed after epoch {run.epoch}" if run.epoch else ""
        self.line(f"{self.title}: {count(run.job.num_epochs, 'epoch')}{resumed}, writing {run.path}")

    def on_epoch_start(self, run: Any, epoch: int) -> None:
        self.epoch_started = time.monotonic()

    def _eta(self, run: Any, done: float) -> str:
        """Time left at this session's pace, over the epochs this session has done (``done`` may be fractional)."""
        elapsed = time.monotonic() - self.started
        remaining = run.job.num_epochs - self.first_epoch - done
        if done <= 0:
            return "?"
        return duration(elapsed / done * remaining)

    def on_step_end(self, run: Any, step: int, steps: int) -> None:
        now = time.monotonic()
        if now - self.last_line < self.every:
            return
        self.last_line = now
        done = run.epoch - self.first_epoch + step / max(steps, 1)
        self.line(
            f"epoch {run.epoch + 1}/{run.job.num_epochs}  step {step}/{steps}  "
            f"elapsed {duration(now - self.started)}  ETA {self._eta(run, done)}"
        )

    def on_epoch_end(self, run: Any, epoch: int, metrics: dict[str, Any]) -> None:
        self.last_line = time.monotonic()
        speed = metrics.get("images_per_second")
        parts = [
            f"epoch {epoch + 1}/{run.job.num_epochs}",
            epoch_line(metrics),
            f"{speed:,.0f} img/s" if speed else "",
            f"elapsed {duration(self.last_line - self.started)}",
            f"ETA {self._eta(run, epoch + 1 - self.first_epoch)}",
        ]
        self.line("  ".join(p for p in parts if p))


class TaskLines(TaskObserver):
    """Tasks that run elsewhere (Ray, Slurm, a local pool): one line per change of state, with the node and the
    count of queued / running / done / failed. A failure gets its line wherever the task ran."""

    def __init__(self, tasks: bool) -> None:
        self.tasks = tasks
        self.states: dict[str, str] = {}

    def on_task(self, name: str, state: str, node: str = "", detail: str = "") -> None:
        if not self.tasks and state != "failed":  # in this process the bars show the rest
            return
        self.states[name] = state
        if state == "queued":
            return
        counts = {s: sum(1 for v in self.states.values() if v == s) for s in ("queued", "running", "done", "failed")}
        where = f" on {node}" if node else ""
        extra = f": {detail}" if detail else ""
        tally = f"  [{', '.join(f'{n} {s}' for s, n in counts.items())}]" if self.tasks else ""
        console.print(f"{name} {state}{where}{extra}{tally}", highlight=False, soft_wrap=True)


class BenchProgress(ProgressDisplay, BenchObserver, TaskLines):
    """One display for the whole bench: trials done of all, the current trial's epochs and steps."""

    def __init__(self, tasks: bool = False) -> None:
        ProgressDisplay.__init__(self)
        TaskLines.__init__(self, tasks)
        self.bench_task = self.epoch_task = self.step_task = None
        self.seconds: float | None = None

    def on_bench_start(self, bench: Bench, pending: int) -> None:
        total = len(bench.trials)
        finished = total - pending
        status = f"{finished} finished earlier, skipped" if finished else ""
        self.bench_task = self.progress.add_task("bench trials", total=total, completed=finished, status=status)
        self.note(f"bench trials: {total}" + (f", {status}" if status else ""))
        self.epoch_task = self.progress.add_task("  trial", total=None, status="")
        self.step_task = self.progress.add_task("  steps", total=None, status="")

    def on_trial_start(self, bench: Bench, trial: Trial, phase: str) -> None:
        label = f"  {trial.index + 1}/{len(bench.trials)} {trial.name}" + (" retrain" if phase == "retrain" else "")
        self.progress.reset(self.epoch_task, total=None, description=label, status="")
        self.note(f"trial{label}")
        self.progress.reset(self.step_task, total=None, status="")

    def on_run_start(self, run: Any) -> None:
        self.seconds = run.config.get("budget", {}).get("seconds")
        epochs = run.job.num_epochs
        self.progress.update(self.epoch_task, total=None if epochs >= EPOCH_CAP else epochs, completed=run.epoch)

    def on_step_end(self, run: Any, step: int, steps: int) -> None:
        self.progress.update(self.step_task, completed=step, total=steps)

    def on_epoch_end(self, run: Any, epoch: int, metrics: dict[str, Any]) -> None:
        parts = [f"epoch {epoch + 1}"]
        for key, label in (("train_loss", "loss"), ("val_accuracy", "val acc"), ("test_accuracy", "test acc")):
            if key in metrics:
                parts.append(f"{label} {fmt(metrics[key])}")
        if self.seconds and run.job.kind == "search":
            parts.append(f"{run.elapsed:.0f}/{self.seconds:g} s")
        self.progress.update(self.epoch_task, completed=epoch + 1, status="  ".join(parts))

    def on_trial_end(self, bench: Bench, trial: Trial, row: dict[str, Any], skipped: bool) -> None:
        if skipped:
            return
        status = f"last: {trial.name} val acc {fmt(row.get('val_accuracy'))}"
        if row.get("retrain_test_accuracy") is not None:
            status += f" test acc {fmt(row['retrain_test_accuracy'])}"
        self.progress.update(self.bench_task, advance=1, status=status)
        self.note(f"trial {trial.index + 1}/{len(bench.trials)} done, {status[len('last: ') :]}")


class StudyDisplay(ProgressDisplay, StudyObserver, TaskLines):
    """Bars over the architectures, the current one's epochs, and the current epoch's steps."""

    def __init__(self, title: str, tasks: bool = False) -> None:
        ProgressDisplay.__init__(self)
        TaskLines.__init__(self, tasks)
        self.title = title
        self.archs = self.epochs = self.steps = None

    def on_arch_start(self, index: int, total: int, finished: bool) -> None:
        if self.archs is None:
            self.archs = self.progress.add_task(self.title, total=total, completed=0, status="")
            self.epochs = self.progress.add_task("  epochs", total=None, status="")
            self.steps = self.progress.add_task("  steps", total=None, status="")
        self.progress.update(
            self.archs, completed=index + int(finished), status="done, skipped" if finished else f"arch {index}"
        )
        self.note(f"{self.title}: arch {index + 1}/{total}" + (", done, skipped" if finished else ""))

    def on_run_start(self, run: Any) -> None:
        self.progress.update(self.epochs, completed=run.epoch, total=run.job.num_epochs, status="")

    def on_step_end(self, run: Any, step: int, steps: int) -> None:
        self.progress.update(self.steps, completed=step, total=steps)

    def on_epoch_end(self, run: Any, epoch: int, metrics: dict[str, Any]) -> None:
        acc = metrics.get("val_accuracy")
        status = f"val acc {100 * acc:.2f} %" if isinstance(acc, float) else ""
        self.progress.update(self.epochs, completed=epoch + 1, status=status)

    def on_run_end(self, run: Any, summary: dict[str, Any]) -> None:
        if self.archs is not None:
            self.progress.advance(self.archs)

    def on_task(self, name: str, state: str, node: str = "", detail: str = "") -> None:
        super().on_task(name, state, node, detail)
        if self.tasks and state == "done":  # trained elsewhere: no run hooks here, the outcome moves the bar
            if self.archs is None:
                self.archs = self.progress.add_task(self.title, total=None, completed=0, status="")
            self.progress.advance(self.archs)


def print_summary(summary: dict[str, Any], path: Path) -> None:
    """The summary in human units; summary.json keeps the raw values."""
    table = Table(title=f"Run {path}", show_header=False)
    table.add_column("metric", style="bold")
    table.add_column("value")
    for key, value in summary.items():
        if key in SECTIONS and isinstance(value, dict):  # how decided the search ended; the hardware budget
            if key == "constraint" and not any(v for name, v in value.items() if name.startswith("max_")):
                continue  # no budget: nothing was constrained or projected
            for name, metric in value.items():
                if metric is not None:
                    table.add_row(f"{key}.{name}", human(f"{key}.{name}" if key == "benchmark" else name, metric))
        elif not isinstance(value, (dict, list)):
            table.add_row(key, human(key, value))
    Console().print(table)
