"""The one registry of a study's metrics: each row key's label, unit, direction of better and display format.

Bench rows, report tables, the CSV and JSON forms, the pairwise tests and the Pareto front all read it, so a
metric is declared once (``Metric``) and a new one (a benchmark's ground truth) appears everywhere at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence


def pct(v: float) -> str:
    """A fraction in [0, 1] as a percentage with two decimals."""
    return f"{100 * v:.2f}"


def percent(v: float) -> str:
    """A number already in % (a benchmark's published accuracy) with two decimals."""
    return f"{v:.2f}"


def si(v: float) -> str:
    """3,922 -> 3.92K; 1,505,920 -> 1.51M (params and FLOPs span orders of magnitude across presets)."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(v) >= scale:
            return f"{v / scale:.2f}{suffix}"
    return f"{v:.0f}"


def mib(v: float) -> str:
    return f"{v / 2**20:,.0f}"


def rate(v: float) -> str:
    return f"{v:,.1f}"


def secs(v: float) -> str:
    return f"{v:,.2f}"


def plain(v: float) -> str:
    if float(v).is_integer() and abs(v) < 1e6:
        return f"{int(v):,}"
    return f"{v:,.1f}" if abs(v) >= 100 else f"{v:.2f}"


@dataclass(frozen=True)
class Metric:
    """A row key: ``label`` (with its unit) in tables, ``show`` formats a value, ``better`` is ``higher``,
    ``lower`` or None (a trade-off such as a network's size: never ranked), ``winner`` how a verdict names the
    better strategy."""

    key: str
    label: str
    show: Callable[[float], str]
    better: str | None = None
    winner: str = ""
    scale: float = 1.0
    """Factor from the stored value to the label's unit (100: a fraction shown in %), for plots."""
    optional: bool = False
    """Shown only where a row has it (ground truth exists on a tabular benchmark's space only)."""


METRICS: tuple[Metric, ...] = (
    Metric("benchmark_accuracy", "ground truth %", percent, "higher", "finds more accurate cells", optional=True),
    Metric("benchmark_regret", "regret %", percent, "lower", "finds more accurate cells", optional=True),
    Metric("val_accuracy", "val acc %", pct, "higher", "more accurate", 100.0),
    Metric("retrain_test_accuracy", "retrain test acc %", pct, "higher", "more accurate", 100.0),
    Metric("params", "params", si),
    Metric("flops", "mult-adds", si),
    Metric("latency_ms", "latency ms", plain),
    Metric("predicted_latency_ms", "predicted ms", plain),
    Metric("latency_error", "prediction error %", lambda v: f"{100 * v:.1f}"),
    Metric("search_seconds", "search s", secs, "lower", "faster"),
    Metric("selection_seconds", "select s", secs),
    Metric("epochs", "epochs", plain),
    Metric("images_per_second", "images/s", rate),
    Metric("peak_memory_bytes", "peak mem MiB", mib),
)
"""Every metric a bench row holds, in table order; a metric no row has is left out of the tables."""

BY_KEY: dict[str, Metric] = {m.key: m for m in METRICS}

ACCURACIES = ("benchmark_accuracy", "retrain_test_accuracy", "val_accuracy")
"""The candidates for a bench's primary metric, best evidence first: a benchmark's ground truth, a retrained
network's test accuracy, the supernet's validation accuracy."""


def primary_metric(rows: Sequence[Mapping[str, Any]]) -> str:
    """The first of ``ACCURACIES`` that every row has (the supernet's validation accuracy as the last resort)."""
    for key in ACCURACIES:
        if rows and all(r.get(key) is not None for r in rows):
            return key
    return ACCURACIES[-1]


def shown(rows: Sequence[Mapping[str, Any]], metrics: Sequence[Metric] = METRICS) -> list[Metric]:
    """The metrics a table of ``rows`` shows: every one but the optional ones no row holds."""
    return [m for m in metrics if not m.optional or any(r.get(m.key) is not None for r in rows)]
