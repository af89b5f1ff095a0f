"""Tables of a bench or a run directory, as rich tables, GitHub markdown or CSV (``nasframe report``).

A bench table has one row per strategy with the mean ± sample standard deviation over its seeds of
every metric. The best mean of a column is highlighted where "best" has a direction: higher is
better for the accuracies and images/s, lower for search seconds and peak memory. Params, multiply-adds,
latencies and epochs are *not* ranked: the size of a found network is a trade-off, not a score, and the epochs a
trial consumed are the budget (equal under an epoch budget; under a seconds budget more epochs
means a cheaper strategy, which images/s already ranks).
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from nasframe.interfaces.errors import NasframeError

FORMATS = ("table", "markdown", "csv")


def _pct(v: float) -> str:
    return f"{100 * v:.2f}"


def _si(v: float) -> str:
    """3,922 -> 3.92K; 1,505,920 -> 1.51M (params and FLOPs span orders of magnitude across presets)."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(v) >= scale:
            return f"{v / scale:.2f}{suffix}"
    return f"{v:.0f}"


def _mib(v: float) -> str:
    return f"{v / 2**20:,.0f}"


def _rate(v: float) -> str:
    return f"{v:,.1f}"


def _secs(v: float) -> str:
    return f"{v:,.2f}"


def _plain(v: float) -> str:
    if float(v).is_integer() and abs(v) < 1e6:
        return f"{int(v):,}"
    return f"{v:,.1f}" if abs(v) >= 100 else f"{v:.2f}"


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    better: str | None  # "higher", "lower" or None (not ranked)
    show: Callable[[float], str]


METRICS = (
    Metric("val_accuracy", "val acc %", "higher", _pct),
    Metric("retrain_test_accuracy", "retrain test acc %", "higher", _pct),
    Metric("params", "params", None, _si),
    Metric("flops", "mult-adds", None, _si),
    Metric("latency_ms", "latency ms", None, _plain),
    Metric("predicted_latency_ms", "predicted ms", None, _plain),
    Metric("latency_error", "prediction error %", None, lambda v: f"{100 * v:.1f}"),
    Metric("search_seconds", "search s", "lower", _secs),
    Metric("epochs", "epochs", None, _plain),
    Metric("images_per_second", "images/s", "higher", _rate),
    Metric("peak_memory_bytes", "peak mem MiB", "lower", _mib),
)


@dataclass
class TableData:
    """A table independent of its output format: display strings, raw values for CSV, best cells."""

    title: str
    caption: list[str]
    columns: list[str]
    rows: list[list[str]]
    raw_columns: list[str]
    raw_rows: list[list[Any]]
    best: set[tuple[int, int]] = field(default_factory=set)
    numeric_from: int = 1
    """Columns from this index on are right-aligned numbers."""


def mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (None with fewer than two values)."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return None, None
    mean = sum(vals) / len(vals)
    if len(vals) < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))


def aggregate(rows: Sequence[Mapping[str, Any]], strategies: Sequence[str]) -> list[dict[str, Any]]:
    """Per strategy (in ``strategies`` order, then any others): trials and mean/std of every metric."""
    order = list(strategies) + sorted({r["strategy"] for r in rows} - set(strategies))
    out = []
    for name in order:
        mine = [r for r in rows if r["strategy"] == name]
        entry: dict[str, Any] = {"strategy": name, "trials": len(mine), "seeds": [r["seed"] for r in mine]}
        for m in METRICS:
            entry[m.key] = mean_std([r.get(m.key) for r in mine])
        out.append(entry)
    return out


def _best_rows(values: list[float | None], better: str | None) -> set[int]:
    present = [(v, i) for i, v in enumerate(values) if v is not None]
    if better is None or len({v for v, _ in present}) < 2:  # nothing to choose between
        return set()
    target = max(v for v, _ in present) if better == "higher" else min(v for v, _ in present)
    return {i for v, i in present if v == target}


def _cell(mean: float | None, std: float | None, show: Callable[[float], str]) -> str:
    if mean is None:
        return "—"
    return f"{show(mean)} ± {show(std)}" if std is not None else show(mean)


# -- bench ------------------------------------------------------------------------------------------
def budget_text(record: Mapping[str, Any]) -> str:
    """The budget every trial of a bench was given, in words."""
    budget = record.get("budget", {})
    seconds, epochs = budget.get("seconds"), budget.get("epochs")
    if seconds:
        text = f"{seconds:g} s of search per trial (wall clock of the training epochs, checked at each epoch end)"
        if budget.get("epochs_capped"):
            return text + "; epochs uncapped, so a cheaper strategy trains more epochs"
        return text + f", or {epochs} epochs if that comes first"
    return f"{epochs} epoch{'s' if epochs != 1 else ''} of supernet training per trial"


def bench_caption(record: Mapping[str, Any]) -> list[str]:
    settings = record.get("settings", {})
    cfg = record.get("shared_config", {})
    data, train, space = cfg.get("data", {}), cfg.get("train", {}), cfg.get("space", {})
    seeds = ", ".join(str(s) for s in settings.get("seeds", []))
    space_bits = ", ".join(f"{k}={v}" for k, v in space.items() if k in ("layers", "channels", "nodes", "width_mult", "choices"))
    lines = [
        f"Budget: {budget_text(record)}.",
        "val acc %: the final arch with the shared supernet weights (validation split); "
        "retrain test acc %: the arch trained from scratch, on the test set.",
        f"Shared by every strategy: space {settings.get('space')} ({space_bits}), preset {settings.get('preset')}, "
        f"seeds {seeds}, data {data.get('dataset')} (limit={data.get('limit')}, val_size={data.get('val_size')}), "
        f"batch {train.get('batch_size')}, lr {train.get('lr')}→{train.get('lr_min')} cosine.",
    ]
    limits = {k: v for k, v in cfg.get("constraint", {}).items() if k.startswith("max_") and v is not None}
    if limits:
        lines.append("Hardware budget, the same for every strategy: "
                     + ", ".join(f"constraint.{k}={v:,}" for k, v in limits.items())
                     + " (sampling strategies train and return only architectures inside it).")
    retrain = settings.get("retrain_epochs") or 0
    lines.append(f"Retraining: {retrain} epoch{'s' if retrain != 1 else ''} from scratch with the space's train preset."
                 if retrain else "Retraining: none (--retrain-epochs 0).")
    sets = {**settings.get("overrides", {}), **{f"retrain:{k}": v for k, v in settings.get("retrain_overrides", {}).items()}}
    if sets:
        lines.append("Overrides: " + " ".join(f"{k}={json.dumps(v)}" for k, v in sets.items()) + ".")
    lines.append("mean ± std over seeds; best highlighted: higher accuracy and images/s, lower seconds and memory "
                 "(params, mult-adds, latencies, epochs not ranked); latency: measured at batch 1 on the trial's "
                 "device, predicted by the cost model (prediction error = predicted / measured - 1).")
    return lines


def bench_table(record: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> TableData:
    settings = record.get("settings", {})
    agg = aggregate(rows, settings.get("strategies", []))
    total = len(settings.get("strategies", [])) * len(settings.get("seeds", []))
    title = (f"nasframe bench: {settings.get('space')} space, {settings.get('preset')} preset, "
             f"{len(rows)}/{total} trials")
    columns = ["strategy", "trials"] + [m.label for m in METRICS]
    raw_columns = ["strategy", "trials"] + [f"{m.key}_{s}" for m in METRICS for s in ("mean", "std")]
    table = TableData(title, bench_caption(record), columns, [], raw_columns, [], numeric_from=1)
    for entry in agg:
        table.rows.append([entry["strategy"], str(entry["trials"])]
                          + [_cell(*entry[m.key], m.show) for m in METRICS])
        table.raw_rows.append([entry["strategy"], entry["trials"]] + [v for m in METRICS for v in entry[m.key]])
    for j, m in enumerate(METRICS):
        for i in _best_rows([e[m.key][0] for e in agg], m.better):
            table.best.add((i, j + 2))
    return table


TRIAL_KEYS = ("strategy", "seed", "val_accuracy", "retrain_test_accuracy", "params", "flops", "latency_ms",
              "predicted_latency_ms", "latency_error", "search_seconds",
              "epochs", "images_per_second", "peak_memory_bytes")


def trials_table(record: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> TableData:
    """One row per trial, in bench order."""
    shows = {m.key: m for m in METRICS}
    columns = [shows[k].label if k in shows else k for k in TRIAL_KEYS]
    raw_columns = list(TRIAL_KEYS) + ["trial", "arch"]
    table = TableData("nasframe bench trials", bench_caption(record)[:1], columns, [], raw_columns, [], numeric_from=1)
    for r in rows:
        table.rows.append([str(r.get("strategy")), str(r.get("seed"))]
                          + [_cell(r.get(k), None, shows[k].show) for k in TRIAL_KEYS[2:]])
        table.raw_rows.append([r.get(k) for k in TRIAL_KEYS] + [r.get("trial"), json.dumps(r.get("arch"))])
    return table


def load_bench(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from nasframe.studies.bench import RESULTS_FILE, read_bench, read_results

    return read_bench(path), read_results(Path(path) / RESULTS_FILE)


# -- single run -------------------------------------------------------------------------------------
def _flatten(obj: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in obj.items():
        if isinstance(value, Mapping):
            out += _flatten(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out


def _show_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, list):
        return json.dumps(value)
    return "—" if value is None else str(value)


def run_table(path: Path) -> TableData:
    """A run directory's summary.json as a two-column table (the arch only in CSV)."""
    from nasframe.storage.run_directory import RunDir

    rundir = RunDir(Path(path))
    if not rundir.summary.exists():
        if rundir.config.exists():
            epochs = len(rundir.read_events())
            raise NasframeError(f"{path} is an unfinished run ({epochs} epochs in events.jsonl, no summary.json yet)")
        raise NasframeError(f"{path} is neither a bench directory (bench.json) nor a run directory (summary.json)")
    try:
        summary = rundir.read_summary()
    except (OSError, ValueError) as exc:
        raise NasframeError(f"cannot read {rundir.summary}: {exc}") from None
    arch = summary.get("arch")
    items = _flatten({k: v for k, v in summary.items() if k != "arch"})
    table = TableData(f"Run {path}", [], ["metric", "value"], [], ["metric", "value"], [], numeric_from=1)
    for key, value in items:
        table.rows.append([key, _show_value(value)])
        table.raw_rows.append([key, value])
    if arch is not None:
        table.raw_rows.append(["arch", json.dumps(arch)])
    return table


def tables_for(path: Path, trials: bool = False) -> list[TableData]:
    """The tables ``nasframe report`` shows for a bench or run directory."""
    from nasframe.studies.bench import BENCH_FILE

    path = Path(path)
    if not path.is_dir():
        raise NasframeError(f"{path} is not a directory")
    if (path / BENCH_FILE).exists():
        record, rows = load_bench(path)
        return [trials_table(record, rows) if trials else bench_table(record, rows)]
    return [run_table(path)]


# -- rendering --------------------------------------------------------------------------------------
def to_rich(table: TableData):
    from rich.table import Table

    out = Table(title=table.title, caption="\n".join(table.caption) or None, caption_justify="left")
    for j, name in enumerate(table.columns):
        out.add_column(name, justify="right" if j >= table.numeric_from else "left", no_wrap=j == 0)
    for i, row in enumerate(table.rows):
        out.add_row(*[f"[bold green]{c}[/]" if (i, j) in table.best else _escape(c) for j, c in enumerate(row)])
    return out


def print_rich(table: TableData) -> None:
    """Print on stdout; when that is not a terminal, as wide as the table needs rather than 80 columns."""
    from rich.console import Console

    console = Console()
    rendered = to_rich(table)
    if not console.is_terminal:
        wide = console.measure(rendered, options=console.options.update_width(400)).maximum
        console = Console(width=max(80, wide))
    console.print(rendered)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def to_markdown(table: TableData) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [f"**{cell(table.title)}**", ""]
    lines += [f"{line}  " for line in table.caption[:-1]] + table.caption[-1:]
    if table.caption:
        lines.append("")
    lines.append("| " + " | ".join(cell(c) for c in table.columns) + " |")
    lines.append("|" + "|".join(":---" if j < table.numeric_from else "---:" for j in range(len(table.columns))) + "|")
    for i, row in enumerate(table.rows):
        cells = [f"**{cell(c)}**" if (i, j) in table.best else cell(c) for j, c in enumerate(row)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_csv(table: TableData) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.raw_columns)
    for row in table.raw_rows:
        writer.writerow(["" if v is None else v for v in row])
    return buf.getvalue()
