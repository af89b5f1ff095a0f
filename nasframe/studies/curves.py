"""A bench's learning curves: per strategy, mean ± one standard deviation over seeds of each epoch's values.

Drawn against epochs and against search seconds (the mean cumulative seconds at each epoch), so a
strategy that is cheaper per epoch shows it. The normalised entropy and the skip share of the
distribution per epoch make a collapse (skip connections taking over, a distribution frozen early or
never moving) visible beside the accuracy.
"""

from __future__ import annotations

from pathlib import Path
from statistics import fmean, pstdev
from typing import Any, Mapping, Sequence

Curve = tuple[list[float], list[float], list[float]]
"""x, mean and standard deviation over seeds."""


def mean_band(series: Sequence[Sequence[float | None]]) -> tuple[list[float], list[float]]:
    """Per position, mean and population std of the seeds that have a value there."""
    means, stds = [], []
    for i in range(max((len(s) for s in series), default=0)):
        values = [float(s[i]) for s in series if i < len(s) and s[i] is not None]
        if not values:
            break
        means.append(fmean(values))
        stds.append(pstdev(values) if len(values) > 1 else 0.0)
    return means, stds


def epoch_series(events: Sequence[Mapping[str, Any]], key: str) -> list[float | None]:
    """The values of ``key`` per epoch (``entropy`` is divided by ``entropy_max`` when a record has it)."""
    out: list[float | None] = []
    for e in events:
        value = e.get(key)
        if key == "entropy" and value is not None and e.get("entropy_max"):
            value = value / e["entropy_max"]
        out.append(value)
    return out


def cumulative_seconds(events: Sequence[Mapping[str, Any]]) -> list[float]:
    total, out = 0.0, []
    for e in events:
        total += float(e.get("seconds") or 0.0)
        out.append(total)
    return out


PANELS = (("val_accuracy", "validation accuracy (%)", 100.0), ("val_loss", "validation loss", 1.0))


def draw_curves(path: Path, trials: Mapping[str, Sequence[Sequence[Mapping[str, Any]]]]) -> None:
    """``trials``: strategy -> the events.jsonl records of each of its seeds. Writes a PNG to ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(14, 7.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3)
    for colour, (strategy, runs) in enumerate(trials.items()):
        style = {"color": f"C{colour}"}
        seconds, _ = mean_band([cumulative_seconds(events) for events in runs])
        for col, (key, label, scale) in enumerate(PANELS):
            mean, std = mean_band([epoch_series(events, key) for events in runs])
            for row, xs in enumerate((list(range(1, len(mean) + 1)), seconds[: len(mean)])):
                ax = axes[row][col]
                ys = [scale * m for m in mean]
                ax.plot(xs, ys, marker=".", label=f"{strategy} (n={len(runs)})", **style)
                ax.fill_between(
                    xs,
                    [y - scale * s for y, s in zip(ys, std)],
                    [y + scale * s for y, s in zip(ys, std)],
                    alpha=0.2,
                    **style,
                )
                ax.set(ylabel=label, xlabel="epoch" if row == 0 else "search seconds")
        for row, (key, label) in enumerate((("entropy", "entropy / uniform entropy"), ("skip_share", "skip share"))):
            mean, std = mean_band([epoch_series(events, key) for events in runs])
            if mean:
                xs = list(range(1, len(mean) + 1))
                axes[row][2].plot(xs, mean, marker=".", label=strategy, **style)
                axes[row][2].fill_between(
                    xs, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)], alpha=0.2, **style
                )
            axes[row][2].set(ylabel=label, xlabel="epoch", ylim=(0, 1.05))
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    for ax in (*axes[0], axes[1][2]):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0][0].legend(fontsize="small")
    fig.suptitle("Mean ± one std over seeds, per strategy")
    fig.savefig(path, format="png", dpi=100)
