"""Reports of a bench or a run directory as plain data (``nasframe report``); ``nasframe.cli.tables`` renders them.

A bench report has a protocol header, one row per strategy with the mean ± sample standard
deviation over its seeds of every metric, the per-strategy statistics and pairwise comparisons of
:mod:`nasframe.studies.comparison` (intervals, t-tests, Holm, verdicts), how decided each strategy's
distribution was, and warnings. A cell is highlighted only where a test backs it: the strategy that
beats every other on the primary metric or on search seconds with Holm-adjusted p < 0.05. Params,
multiply-adds, latencies and epochs are never ranked (a network's size is a trade-off, not a score), nor
are images/s and peak memory (measured once per trial, not tested). Rendering on a terminal lives in
``nasframe.cli``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from nasframe.interfaces.decidedness import NEAR_TIE_MARGIN
from nasframe.interfaces.errors import NasframeError
from nasframe.studies.comparison import DECISION_MEANS, bench_comparison, significant_best
from nasframe.studies.metrics import BY_KEY, METRICS, Metric, pct, plain, primary_metric, shown
from nasframe.studies.pareto import bench_front
from nasframe.studies.statistics import sample_std
from nasframe.studies.tables import Report, TableData


def mean_std(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation of the values present (std None with fewer than two)."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return None, None
    return sum(vals) / len(vals), sample_std(vals) if len(vals) > 1 else None


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


def schedule_text(train: Mapping[str, Any]) -> str:
    """The learning-rate schedule in words: ``→0.0 cosine`` (older bench records have no schedule: cosine)."""
    schedule = train.get("schedule", "cosine")
    if schedule == "cosine":
        return f"→{train.get('lr_min')} cosine"
    every = "epoch" if schedule == "exponential" else f"{train.get('step_epochs')} epochs"
    return f"×{train.get('gamma')} every {every}"


def _count(value: Any) -> str:
    return "?" if value is None else f"{value:,}"


def protocol_lines(record: Mapping[str, Any]) -> list[str]:
    """The protocol record of bench.json in words (a bench written before it existed says so)."""
    protocol = record.get("protocol")
    if not protocol:
        return ["Protocol: not recorded (bench.json predates protocol records)."]
    data, evaluation = protocol.get("data", {}), protocol.get("evaluation", {})
    images = protocol.get("budget", {}).get("train_images_seen")
    lines = [
        f"Data: {data.get('dataset')}, search split {_count(data.get('train_images'))} training / "
        f"{_count(data.get('val_images'))} validation images"
        + (f"; {images:,} training images seen per trial." if images else ".")
    ]
    bn = evaluation.get("bn")
    bn_text = {"batch": "BN with each validation batch's statistics", "running": "BN with running statistics"}.get(
        bn, f"bn={bn}" if bn else "BN mode not stated"
    )
    lines.append(f"Evaluation: {evaluation.get('name')} evaluator, {bn_text}.")
    for name, rule in protocol.get("selection", {}).items():
        lines.append(f"Selection, {name}: {rule}.")
    retrain = protocol.get("retrain")
    if retrain:
        recipe = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in retrain.items())
        lines.append(f"Retraining recipe: {recipe}.")
    versions = ", ".join(f"{k} {v}" for k, v in protocol.get("versions", {}).items())
    device = protocol.get("device")
    hardware = f" ({protocol['hardware']}, {protocol.get('threads')} threads)" if protocol.get("hardware") else ""
    lines.append(f"Versions: {versions}; device {device}{hardware}.")
    launches = launch_texts(record.get("launches") or [])
    if launches:
        lines.append(f"Launched by: {', then '.join(launches)} (each row names its node and device).")
    return lines


def launch_texts(launches: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each launch of a study as ``name (key=value, ...)``, a run of identical launches once with its count."""
    texts: list[str] = []
    for launch in launches:
        settings = ", ".join(f"{k}={v}" for k, v in launch.items() if k not in ("name", "at") and v not in (None, ""))
        text = f"{launch.get('name')}" + (f" ({settings})" if settings else "")
        if texts and texts[-1].split(" ×")[0] == text:
            count = int(texts[-1].split(" ×")[1]) + 1 if " ×" in texts[-1] else 2
            texts[-1] = f"{text} ×{count}"
        else:
            texts.append(text)
    return texts


def bench_caption(record: Mapping[str, Any], primary: str) -> list[str]:
    settings = record.get("settings", {})
    cfg = record.get("shared_config", {})
    data, train, space = cfg.get("data", {}), cfg.get("train", {}), cfg.get("space", {})
    seeds = ", ".join(str(s) for s in settings.get("seeds", []))
    space_bits = ", ".join(
        f"{k}={v}" for k, v in space.items() if k in ("layers", "channels", "nodes", "width_mult", "choices")
    )
    lines = [
        f"Budget: {budget_text(record)}.",
        "val acc %: the final arch with the shared supernet weights (validation split); "
        "retrain test acc %: the arch trained from scratch, on the test set.",
        f"Shared by every strategy: space {settings.get('space')} ({space_bits}), preset {settings.get('preset')}, "
        f"seeds {seeds}, data {data.get('dataset')} (limit={data.get('limit')}, val_size={data.get('val_size')}), "
        f"batch {train.get('batch_size')}, lr {train.get('lr')} {schedule_text(train)}.",
    ]
    limits = {k: v for k, v in cfg.get("constraint", {}).items() if k.startswith("max_") and v is not None}
    if limits:
        lines.append(
            "Hardware budget, the same for every strategy: "
            + ", ".join(f"constraint.{k}={v:,}" for k, v in limits.items())
            + " (sampling strategies train and return only architectures inside it)."
        )
    retrain = settings.get("retrain_epochs") or 0
    lines.append(
        f"Retraining: {retrain} epoch{'s' if retrain != 1 else ''} from scratch with the space's train preset."
        if retrain
        else "Retraining: none (--retrain-epochs 0)."
    )
    sets = {
        **settings.get("overrides", {}),
        **{f"retrain:{k}": v for k, v in settings.get("retrain_overrides", {}).items()},
    }
    if sets:
        lines.append("Overrides: " + " ".join(f"{k}={json.dumps(v)}" for k, v in sets.items()) + ".")
    lines += protocol_lines(record)
    label = next(m.label for m in METRICS if m.key == primary)
    lines.append(
        f"mean ± std over seeds; primary metric: {label}. Bold only where a test backs it: the strategy that "
        f"beats every other on {label} or search s with Holm-adjusted p < 0.05 (see the comparisons)."
    )
    lines.append(
        "Latency: measured at batch 1 on the trial's device, predicted by the cost model "
        "(prediction error = predicted / measured - 1)."
    )
    return lines


def bench_table(
    record: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], comparison: Mapping[str, Any]
) -> TableData:
    """One row per strategy: mean ± std of every metric; bold only a significant winner."""
    settings = record.get("settings", {})
    agg = aggregate(rows, settings.get("strategies", []))
    total = len(settings.get("strategies", [])) * len(settings.get("seeds", []))
    title = (
        f"nasframe bench: {settings.get('space')} space, {settings.get('preset')} preset, {len(rows)}/{total} trials"
    )
    metrics = shown(rows)
    columns = ["strategy", "trials"] + [m.label for m in metrics]
    raw_columns = ["strategy", "trials"] + [f"{m.key}_{s}" for m in metrics for s in ("mean", "std")]
    table = TableData(
        title, bench_caption(record, comparison["primary_metric"]), columns, [], raw_columns, [], numeric_from=1
    )
    for entry in agg:
        table.rows.append([entry["strategy"], str(entry["trials"])] + [_cell(*entry[m.key], m.show) for m in metrics])
        table.raw_rows.append([entry["strategy"], entry["trials"]] + [v for m in metrics for v in entry[m.key]])
    for j, m in enumerate(metrics):
        if m.key in (comparison["primary_metric"], "search_seconds"):
            winners = significant_best(comparison, m.key)
            table.best |= {(i, j + 2) for i, e in enumerate(agg) if e["strategy"] in winners}
    return table


STAT_KEYS = ("n", "mean", "std", "ci_low", "ci_high", "best", "best_seed", "worst", "worst_seed")


def statistics_table(comparison: Mapping[str, Any]) -> TableData:
    """Per strategy and compared metric: n, mean, std, 95 % interval, best and worst seed."""
    shows = {m.key: m for m in METRICS}
    table = TableData(
        "Per strategy (95 % t interval of the mean)",
        [],
        ["strategy", "metric", "n", "mean", "std", "95% CI", "best (seed)", "worst (seed)"],
        [],
        ["strategy", "metric", *STAT_KEYS],
        [],
        numeric_from=2,
    )
    for entry in comparison["strategies"]:
        for metric in (comparison["primary_metric"], "search_seconds"):
            st, show = entry[metric], shows[metric].show
            interval = f"[{show(st['ci_low'])}, {show(st['ci_high'])}]" if st["ci_low"] is not None else "—"
            table.rows.append(
                [
                    entry["strategy"],
                    shows[metric].label,
                    str(st["n"]),
                    _cell(st["mean"], None, show),
                    _cell(st["std"], None, show),
                    interval,
                    f"{_cell(st['best'], None, show)} ({st['best_seed']})" if st["n"] else "—",
                    f"{_cell(st['worst'], None, show)} ({st['worst_seed']})" if st["n"] else "—",
                ]
            )
            table.raw_rows.append([entry["strategy"], metric] + [st[k] for k in STAT_KEYS])
    return table


PAIR_KEYS = (
    "a",
    "b",
    "metric",
    "mean_diff",
    "ci_low",
    "ci_high",
    "test",
    "p",
    "p_holm",
    "winner",
    "seeds_needed",
    "verdict",
)


def _p(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def pairs_table(comparison: Mapping[str, Any]) -> TableData:
    """Every pair on every compared metric: difference a - b, its interval, the test, p, Holm's p, verdict."""
    shows = {m.key: m for m in METRICS}
    caption = [
        f"difference a - b with its 95 % interval; p two-sided, Holm-adjusted across the pairs of each metric; "
        f"seeds needed: {comparison['power_method']}."
    ]
    table = TableData(
        "Comparisons",
        caption,
        ["a − b", "metric", "mean diff", "95% CI", "test", "p", "p (Holm)", "verdict"],
        [],
        list(PAIR_KEYS),
        [],
        numeric_from=2,
        text_from=7,
    )
    for pair in comparison["pairs"]:
        show = shows[pair["metric"]].show
        interval = f"[{show(pair['ci_low'])}, {show(pair['ci_high'])}]" if pair["ci_low"] is not None else "—"
        table.rows.append(
            [
                f"{pair['a']} − {pair['b']}",
                shows[pair["metric"]].label,
                _cell(pair["mean_diff"], None, show),
                interval,
                pair["test"] or "—",
                _p(pair["p"]),
                _p(pair["p_holm"]),
                pair["verdict"],
            ]
        )
        table.raw_rows.append([pair[k] for k in PAIR_KEYS])
    for i, pair in enumerate(comparison["pairs"]):
        if pair["winner"]:
            table.best.add((i, 7))
    return table


def decision_table(comparison: Mapping[str, Any]) -> TableData | None:
    """How decided each strategy's final distribution was (None when no strategy has one)."""
    entries = [e for e in comparison["strategies"] if e["decision"]]
    if not entries:
        return None
    caption = [
        f"mean over seeds; near ties: decisions whose top two choices are within {NEAR_TIE_MARGIN} in "
        "probability; skip share: probability mass on skip choices; samples: feedback each decision learned from."
    ]
    table = TableData(
        "How decided the searches were",
        caption,
        ["strategy", "entropy (max)", "near ties %", "skip share %", "samples", "choices"],
        [],
        ["strategy", *DECISION_MEANS],
        [],
        numeric_from=1,
    )
    for entry in entries:
        d = entry["decision"]
        table.rows.append(
            [
                entry["strategy"],
                f"{d['entropy']:.3f} ({d['entropy_max']:.3f})",
                pct(d["near_ties"]),
                pct(d["skip_share"]),
                plain(d["samples"]),
                plain(d["choices"]),
            ]
        )
        table.raw_rows.append([entry["strategy"]] + [d[k] for k in DECISION_MEANS])
    return table


def front_note(front: Mapping[str, Any] | None) -> list[str]:
    """The trials on the Pareto front of accuracy against latency, cheapest first."""
    if not front:
        return []
    cost, accuracy = front["cost"], front["accuracy"]
    metric = BY_KEY[accuracy]
    points = ", ".join(f"{t['trial']} ({t[cost]:.2f} ms, {metric.show(t[accuracy])} %)" for t in front["trials"])
    what = metric.label.removesuffix(" %")
    return [
        f"Pareto front of {what} against measured latency (no other trial is both faster and more accurate): {points}."
    ]


def comparison_notes(
    comparison: Mapping[str, Any], plots: Mapping[str, Any] | None, front: Mapping[str, Any] | None = None
) -> list[str]:
    """Warnings, Kendall's tau of supernet vs stand-alone accuracy, the Pareto front, and the drawings' paths."""
    notes = [f"Warning: {w}" for w in comparison["warnings"]]
    agreement = comparison.get("supernet_vs_standalone")
    if agreement:
        if agreement["tau"] is None:
            notes.append(
                f"Supernet vs stand-alone: Kendall τ undefined over {agreement['n']} trial(s) "
                "(fewer than two, or a constant accuracy)."
            )
        else:
            notes.append(
                f"Supernet vs stand-alone: Kendall τ-b = {agreement['tau']:.3f} (p = {agreement['p']:.3g}) "
                f"between supernet val acc and retrained test acc over {agreement['n']} trials."
            )
    notes += front_note(front)
    if plots:
        notes.append(f"Curves: {plots['curves']}")
        if plots.get("pareto"):
            notes.append(f"Accuracy against cost: {plots['pareto']}")
        notes += [f"Architecture of {trial}: {path}" for trial, path in plots.get("arch", {}).items()]
    return notes


TRIAL_METRICS = (*METRICS, Metric("entropy", "entropy", lambda v: f"{v:.3f}"), Metric("near_ties", "near ties %", pct))
TRIAL_KEYS = (
    "strategy",
    "seed",
    "val_accuracy",
    "retrain_test_accuracy",
    "params",
    "flops",
    "latency_ms",
    "predicted_latency_ms",
    "latency_error",
    "search_seconds",
    "selection_seconds",
    "epochs",
    "images_per_second",
    "peak_memory_bytes",
    "entropy",
    "near_ties",
)


def trials_table(record: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> TableData:
    """One row per trial, in bench order (ground truth first where the space publishes it)."""
    shows = {m.key: m for m in TRIAL_METRICS}
    keys = (*TRIAL_KEYS[:2], *(m.key for m in shown(rows) if m.optional), *TRIAL_KEYS[2:])
    columns = [shows[k].label if k in shows else k for k in keys]
    raw_columns = list(keys) + ["trial", "arch"]
    table = TableData(
        "nasframe bench trials",
        bench_caption(record, primary_metric(rows))[:1],
        columns,
        [],
        raw_columns,
        [],
        numeric_from=1,
    )
    for r in rows:
        table.rows.append(
            [str(r.get("strategy")), str(r.get("seed"))] + [_cell(r.get(k), None, shows[k].show) for k in keys[2:]]
        )
        table.raw_rows.append([r.get(k) for k in keys] + [r.get("trial"), json.dumps(r.get("arch"))])
    return table


def load_bench(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from nasframe.studies.bench import RESULTS_FILE, read_bench, read_results

    return read_bench(path), read_results(Path(path) / RESULTS_FILE)


def bench_report(
    record: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], plots: Mapping[str, Any] | None = None
) -> Report:
    """The bench's tables, verdicts and warnings; ``plots`` names drawings written beside it."""
    strategies = list(record.get("settings", {}).get("strategies", []))
    strategies += sorted({r["strategy"] for r in rows} - set(strategies))
    comparison = bench_comparison(record, rows, strategies)
    tables = [bench_table(record, rows, comparison), statistics_table(comparison), pairs_table(comparison)]
    decided = decision_table(comparison)
    if decided:
        tables.append(decided)
    references = reference_rows(record)
    if references:
        tables.insert(1, reference_table(references, record["shared_config"]["data"]["dataset"]))
    means = {entry["strategy"]: entry for entry in aggregate(rows, strategies)}
    for entry in comparison["strategies"]:  # the per-strategy JSON also carries every metric's mean and std
        entry["trials"] = means[entry["strategy"]]["trials"]
        entry["metrics"] = {m.key: dict(zip(("mean", "std"), means[entry["strategy"]][m.key])) for m in METRICS}
    front = bench_front(rows)
    data = {
        "kind": "bench",
        "title": tables[0].title,
        "settings": record.get("settings", {}),
        "budget": record.get("budget"),
        "protocol": record.get("protocol"),
        "trials": len(rows),
        **comparison,
        "pareto": front,
        "plots": dict(plots) if plots else None,
        "references": references,
    }
    return Report(tables, comparison_notes(comparison, plots, front), data)


def reference_rows(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The space's reference architectures (``SearchSpace.references``: a table's best cell, a known collapse) with
    their ground truth, for reading a bench's numbers against; empty for a space without ground truth."""
    from nasframe.registry import get_registry

    try:
        space = get_registry().build_space(record["shared_config"])
    except (KeyError, TypeError, NasframeError):  # a bench.json from elsewhere: the report goes on without them
        return []
    out = []
    for label, arch in space.references().items():
        truth = space.ground_truth(arch)
        if truth is not None:
            out.append({"reference": label, "arch": space.arch_to_json(arch), "benchmark": truth})
    return out


def reference_table(references: Sequence[Mapping[str, Any]], dataset: str) -> TableData:
    """One row per reference architecture: its ground truth and regret on the bench's data set."""
    table = TableData(
        f"Reference architectures (ground truth on {dataset})",
        [str(references[0]["benchmark"].get("source", ""))] if references else [],
        ["reference", "ground truth %", "regret %"],
        [],
        ["reference", "benchmark_accuracy", "benchmark_regret"],
        [],
    )
    for ref in references:
        truth = ref["benchmark"]
        accuracy, regret = truth.get(dataset), truth.get(f"regret_{dataset}")
        table.rows.append([ref["reference"], *("—" if v is None else f"{v:.2f}" for v in (accuracy, regret))])
        table.raw_rows.append([ref["reference"], accuracy, regret])
    return table


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


def run_table(path: Path) -> tuple[TableData, dict[str, Any]]:
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
    return table, summary


def report_for(path: Path, trials: bool = False, plots: Mapping[str, Any] | None = None) -> Report:
    """The report ``nasframe report`` shows for a bench, a ranking study or a run directory."""
    from nasframe.studies.bench import BENCH_FILE
    from nasframe.studies.rank import STUDY_FILE
    from nasframe.studies.rank_report import rank_report

    path = Path(path)
    if not path.is_dir():
        raise NasframeError(f"{path} is not a directory")
    if (path / STUDY_FILE).exists():
        return rank_report(path)
    if (path / BENCH_FILE).exists():
        record, rows = load_bench(path)
        if trials:
            table = trials_table(record, rows)
            return Report([table], [], {"kind": "bench trials", "title": table.title, "rows": rows})
        return bench_report(record, rows, plots)
    table, summary = run_table(path)
    return Report([table], [], {"kind": "run", "title": table.title, "summary": summary})
