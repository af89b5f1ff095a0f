"""Accuracy against cost over a bench's trials: which trials no other beats on both, and the drawing of it.

A trial is on the Pareto front when no other trial is at most as costly and at least as accurate,
and strictly better in one of the two. Under a hardware budget this is what a user picks from: the
most accurate network at each latency.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from nasframe.studies.metrics import BY_KEY, primary_metric

COSTS = (
    ("latency_ms", "measured latency (ms)", 1.0),
    ("predicted_latency_ms", "predicted latency (ms)", 1.0),
    ("flops", "multiply-adds (M)", 1e-6),
    ("search_seconds", "search time (s)", 1.0),
)
"""Row key, axis label and scale of each cost the drawing plots accuracy against: the network's (latency, size)
and the search's own (its seconds: which strategy finds better architectures at the same cost)."""


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the ``(cost, accuracy)`` points no other point dominates, cheapest first (ties: input order)."""
    front: list[int] = []
    best = float("-inf")
    for i in sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1], i)):
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def bench_front(rows: Sequence[Mapping[str, Any]], cost: str = "latency_ms") -> dict[str, Any] | None:
    """The trials on the front of accuracy against ``cost``, cheapest first; None when no trial has both values."""
    accuracy = primary_metric(rows)
    usable = [r for r in rows if r.get(cost) is not None and r.get(accuracy) is not None]
    if not usable:
        return None
    front = pareto_front([(float(r[cost]), float(r[accuracy])) for r in usable])
    return {
        "accuracy": accuracy,
        "cost": cost,
        "trials": [
            {
                "trial": Path(usable[i]["trial"]).name,
                "strategy": usable[i]["strategy"],
                cost: usable[i][cost],
                accuracy: usable[i][accuracy],
            }
            for i in front
        ],
    }


def draw_pareto(path: Path, rows: Sequence[Mapping[str, Any]]) -> bool:
    """One panel per cost the rows have: every trial by strategy, the front as a step line. False: nothing to draw."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    accuracy = primary_metric(rows)
    panels = [(key, label, scale) for key, label, scale in COSTS if any(r.get(key) is not None for r in rows)]
    if not panels:
        return False
    fig = Figure(figsize=(5.5 * len(panels), 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    strategies = list(dict.fromkeys(r["strategy"] for r in rows))
    for ax, (key, label, scale) in zip(axes, panels):
        usable = [r for r in rows if r.get(key) is not None and r.get(accuracy) is not None]
        for colour, strategy in enumerate(strategies):
            mine = [r for r in usable if r["strategy"] == strategy]
            ax.scatter(
                [scale * r[key] for r in mine],
                [BY_KEY[accuracy].scale * r[accuracy] for r in mine],
                color=f"C{colour}",
                label=strategy,
                zorder=3,
            )
        front = [usable[i] for i in pareto_front([(float(r[key]), float(r[accuracy])) for r in usable])]
        ax.step(
            [scale * r[key] for r in front],
            [BY_KEY[accuracy].scale * r[accuracy] for r in front],
            where="post",
            color="0.3",
            linestyle="--",
            label="Pareto front",
            zorder=2,
        )
        ax.set(xlabel=label, ylabel=BY_KEY[accuracy].label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    fig.suptitle("Accuracy against cost, one point per trial")
    fig.savefig(path, format="png", dpi=100)
    return True
