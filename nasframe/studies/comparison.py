"""The numbers behind a bench's verdicts, as plain JSON-able data (``nasframe report --format json``).

The primary metric is the retrained test accuracy when every finished trial was retrained, else the
supernet validation accuracy; it and the search seconds are compared pairwise
(:mod:`nasframe.studies.statistics`). A strategy with a distribution is also checked for how much it
learned: fewer feedback samples per decision than choices means its result is mostly a draw.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from nasframe.studies.metrics import ACCURACIES, BY_KEY, primary_metric
from nasframe.studies.statistics import ALPHA, MAX_SEEDS, POWER, compare_all, rank_agreement

COMPARED = {key: (BY_KEY[key].better, BY_KEY[key].winner) for key in (*ACCURACIES, "search_seconds")}
"""The metrics a bench tests pairwise: direction of better, and how a verdict names the winner (``metrics``)."""

DECISION_MEANS = ("entropy", "entropy_max", "near_ties", "skip_share", "samples", "choices")

POWER_METHOD = (
    f"seeds per strategy for {POWER:.0%} power of the same two-sided t-test at alpha {ALPHA}, "
    "from the noncentral t distribution with the observed standard deviation taken as the true one "
    f"(unadjusted for multiple pairs; capped at {MAX_SEEDS:,})"
)


def by_seed(rows: Sequence[Mapping[str, Any]], strategy: str, key: str) -> dict[int, float]:
    return {int(r["seed"]): float(r[key]) for r in rows if r["strategy"] == strategy and r.get(key) is not None}


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def decision_summary(rows: Sequence[Mapping[str, Any]], strategy: str) -> dict[str, Any] | None:
    """Mean over seeds of how decided a strategy's final distributions were (None without a distribution)."""
    mine = [r for r in rows if r["strategy"] == strategy and r.get("entropy") is not None]
    if not mine:
        return None
    out: dict[str, Any] = {
        key: _mean([float(r[key]) for r in mine if r.get(key) is not None]) for key in DECISION_MEANS
    }
    epochs = [int(r["epochs"]) for r in mine if r.get("epochs")]
    samples = [int(r["samples"]) for r in mine if r.get("samples") is not None]
    seconds = [
        float(r["search_seconds"]) / int(r["epochs"]) for r in mine if r.get("search_seconds") and r.get("epochs")
    ]
    out["samples_per_epoch"] = sum(samples) / sum(epochs) if samples and epochs else None
    out["seconds_per_epoch"] = _mean(seconds)
    return out


def undertrained_warning(strategy: str, decision: Mapping[str, Any] | None) -> str | None:
    """A warning when a strategy's distribution learned from fewer samples than it has choices per decision."""
    if not decision or decision.get("samples") is None or not decision.get("choices"):
        return None
    samples, choices = decision["samples"], int(decision["choices"])
    if samples >= choices:
        return None
    per_epoch = decision.get("samples_per_epoch")
    text = (
        f"{strategy} learned from {samples:g} feedback sample(s) per decision but each decision has {choices} "
        f"choices, so its distribution cannot have compared them (near ties: {decision['near_ties']:.0%} of "
        "decisions) and its architecture is mostly the tie-break draw"
    )
    if per_epoch:
        epochs = math.ceil(choices / per_epoch)
        text += f"; it would get {choices} samples at --epochs {epochs}"
        if decision.get("seconds_per_epoch"):
            text += f" (about {epochs * decision['seconds_per_epoch']:,.0f} s of search per trial here)"
    return text + "."


def supernet_vs_standalone(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Kendall's tau-b between supernet validation accuracy and retrained test accuracy over the trials."""
    pairs = [
        (float(r["val_accuracy"]), float(r["retrain_test_accuracy"]))
        for r in rows
        if r.get("val_accuracy") is not None and r.get("retrain_test_accuracy") is not None
    ]
    if not pairs:
        return None
    agreement = rank_agreement([x for x, _ in pairs], [y for _, y in pairs])
    return {"x": "val_accuracy", "y": "retrain_test_accuracy", **agreement.as_dict()}


def bench_comparison(
    record: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], strategies: Sequence[str]
) -> dict[str, Any]:
    """Per strategy (in ``strategies`` order) and per pair, on the primary metric and search seconds."""
    primary = primary_metric(rows)
    entries: dict[str, dict[str, Any]] = {
        name: {"strategy": name, "seeds": [r["seed"] for r in rows if r["strategy"] == name]} for name in strategies
    }
    pairs: list[dict[str, Any]] = []
    for metric in (primary, "search_seconds"):
        better, word = COMPARED[metric]
        values = {name: by_seed(rows, name, metric) for name in strategies}
        per_strategy, compared = compare_all(values, metric, better, word)
        for stats in per_strategy:
            entries[stats.strategy][metric] = stats.as_dict()
        pairs += [pair.as_dict() for pair in compared]
    warnings = []
    for name, entry in entries.items():
        entry["decision"] = decision_summary(rows, name)
        warning = undertrained_warning(name, entry["decision"])
        if warning:
            warnings.append(warning)
    return {
        "primary_metric": primary,
        "alpha": ALPHA,
        "power": POWER,
        "power_method": POWER_METHOD,
        "strategies": list(entries.values()),
        "pairs": pairs,
        "warnings": warnings,
        "supernet_vs_standalone": supernet_vs_standalone(rows),
    }


def significant_best(comparison: Mapping[str, Any], metric: str) -> set[str]:
    """The strategy that wins every one of its pairs on ``metric`` (empty when none does)."""
    pairs = [p for p in comparison["pairs"] if p["metric"] == metric]
    names = {p["a"] for p in pairs} | {p["b"] for p in pairs}
    return {name for name in names if all(p["winner"] == name for p in pairs if name in (p["a"], p["b"]))}
