"""Is a bench's difference real? Per-strategy intervals, pairwise t-tests with Holm's correction, power.

For every metric compared (the primary accuracy and the search seconds):

* per strategy: n, mean, sample standard deviation, the 95 % confidence interval of the mean
  (Student's t with n - 1 degrees of freedom), the best and the worst seed;
* per pair (a, b): the mean difference a - b with its 95 % interval and a two-sided p-value — a
  paired t-test on the per-seed differences (``scipy.stats.ttest_rel``) when both strategies ran the
  same seeds, Welch's t-test (``ttest_ind(equal_var=False)``, Welch–Satterthwaite degrees of
  freedom) otherwise — and the p-values of all pairs of one metric adjusted by Holm's step-down
  method. A pair has a winner only when its adjusted p is below :data:`ALPHA`; otherwise its verdict
  says it is within noise at this budget and how many seeds per strategy would resolve a true
  difference of the observed size with :data:`POWER` power at :data:`ALPHA` (two-sided, unadjusted):
  the exact power of the t-test from the noncentral t distribution (``scipy.stats.nct``), with the
  observed standard deviation(s) taken as the true one(s); for Welch, equal seeds per strategy and
  the Welch–Satterthwaite degrees of freedom.

Zero variance is a value, not a crash: equal values give p = 1 (no difference) or p = 0 (the same
nonzero difference on every seed), and an interval of width zero. One seed: no comparison possible.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

from scipy import stats

ALPHA = 0.05
POWER = 0.8
MAX_SEEDS = 10_000
"""The power search stops here: a difference that needs more seeds is not worth resolving by seeds."""


@dataclass(frozen=True)
class StrategyStats:
    """One strategy's values of one metric over its seeds."""

    strategy: str
    n: int
    mean: float | None
    std: float | None
    ci_low: float | None
    ci_high: float | None
    best: float | None
    best_seed: int | None
    worst: float | None
    worst_seed: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PairComparison:
    """Strategy ``a`` against ``b`` on one metric: the difference a - b, its test and the verdict."""

    a: str
    b: str
    metric: str
    mean_diff: float | None
    ci_low: float | None
    ci_high: float | None
    p: float | None
    p_holm: float | None
    test: str | None
    """``paired t`` (same seeds), ``Welch t`` (other seeds) or None (no comparison possible)."""
    verdict: str
    winner: str | None
    """The better strategy, only when ``p_holm`` < ALPHA."""
    seeds_needed: int | None
    """Seeds per strategy for POWER power at ALPHA against the observed difference (None: nothing to resolve)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def t_critical(df: float, level: float = 0.95) -> float:
    """The two-sided ``level`` quantile of Student's t with ``df`` degrees of freedom."""
    return float(stats.t.ppf(0.5 + level / 2, df))


def sample_std(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def strategy_stats(strategy: str, by_seed: Mapping[int, float], better: str) -> StrategyStats:
    """n, mean, std, 95 % t interval, best and worst seed (``better``: ``higher`` or ``lower``)."""
    values = list(by_seed.values())
    if not values:
        return StrategyStats(strategy, 0, None, None, None, None, None, None, None, None)
    mean = sum(values) / len(values)
    std = low = high = None
    if len(values) > 1:
        std = sample_std(values)
        half = t_critical(len(values) - 1) * std / math.sqrt(len(values))
        low, high = mean - half, mean + half
    order = sorted(by_seed, key=lambda seed: (by_seed[seed], seed))
    best_seed, worst_seed = (order[-1], order[0]) if better == "higher" else (order[0], order[-1])
    return StrategyStats(
        strategy, len(values), mean, std, low, high, by_seed[best_seed], best_seed, by_seed[worst_seed], worst_seed
    )


@dataclass(frozen=True)
class TestResult:
    """A two-sided t-test of a mean difference, before any correction."""

    test: str
    mean_diff: float
    ci_low: float
    ci_high: float
    p: float


def _no_spread(spread: float, values: Sequence[float]) -> bool:
    """A spread at the level of float rounding (0.3 - 0.2 vs 0.2 - 0.1) is no spread."""
    return spread <= 1e-12 * max((abs(v) for v in values), default=0.0)


def _degenerate_p(mean_diff: float) -> float:
    """p of a zero-variance comparison: no difference at all, or the same difference on every seed."""
    return 1.0 if mean_diff == 0 else 0.0


def paired_test(a: Sequence[float], b: Sequence[float]) -> TestResult:
    """Paired t-test on the differences a_i - b_i (seed i of both); needs two or more pairs."""
    diffs = [x - y for x, y in zip(a, b)]
    n = len(diffs)
    mean = sum(diffs) / n
    sd = sample_std(diffs)
    if _no_spread(sd, [*a, *b]):
        mean = 0.0 if _no_spread(abs(mean), [*a, *b]) else mean
        return TestResult("paired t", mean, mean, mean, _degenerate_p(mean))
    half = t_critical(n - 1) * sd / math.sqrt(n)
    p = float(stats.ttest_rel(a, b).pvalue)
    return TestResult("paired t", mean, mean - half, mean + half, p)


def welch_df(var_a: float, n_a: int, var_b: float, n_b: int) -> float:
    """Welch–Satterthwaite degrees of freedom of the difference of two means."""
    qa, qb = var_a / n_a, var_b / n_b
    return (qa + qb) ** 2 / (qa**2 / (n_a - 1) + qb**2 / (n_b - 1))


def welch_test(a: Sequence[float], b: Sequence[float]) -> TestResult:
    """Welch's t-test of mean(a) - mean(b); needs two or more values on each side."""
    mean = sum(a) / len(a) - sum(b) / len(b)
    var_a, var_b = sample_std(a) ** 2, sample_std(b) ** 2
    se = math.sqrt(var_a / len(a) + var_b / len(b))
    if _no_spread(se, [*a, *b]):
        mean = 0.0 if _no_spread(abs(mean), [*a, *b]) else mean
        return TestResult("Welch t", mean, mean, mean, _degenerate_p(mean))
    half = t_critical(welch_df(var_a, len(a), var_b, len(b))) * se
    p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    return TestResult("Welch t", mean, mean - half, mean + half, p)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: the k-th smallest p times (m - k + 1), made monotone, capped at 1."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def t_test_power(n: int, effect: float, df: float) -> float:
    """Power of a two-sided t-test at ALPHA whose statistic has noncentrality ``effect * sqrt(n)``."""
    crit = t_critical(df, 1 - ALPHA)
    nc = effect * math.sqrt(n)
    power = float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))
    return 1.0 if math.isnan(power) else power  # scipy's nct gives up only far out in the tail, where power is ~1


def seeds_needed(
    mean_diff: float, sd: float | None = None, sd_a: float | None = None, sd_b: float | None = None
) -> int | None:
    """Seeds per strategy for POWER power at ALPHA if the true difference were ``mean_diff``.

    Paired: ``sd`` of the per-seed differences, ``effect = |diff| / sd``, ``df = n - 1``. Welch:
    ``sd_a``/``sd_b``, ``n`` seeds each, ``effect = |diff| / sqrt(sd_a² + sd_b²)``, Welch–Satterthwaite
    df. The search starts at the normal approximation's n (a lower bound: t tails are heavier) and
    steps up to the exact noncentral-t answer. None when there is no difference or no spread to size
    against; MAX_SEEDS + 1 means "more than MAX_SEEDS".
    """
    paired = sd is not None
    var_a, var_b = (sd_a or 0.0) ** 2, (sd_b or 0.0) ** 2
    spread = sd if paired else math.sqrt(var_a + var_b)
    if mean_diff == 0 or not spread:
        return None
    effect = abs(mean_diff) / spread
    z = stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(POWER)
    n = max(2, math.floor((z / effect) ** 2))
    while n <= MAX_SEEDS:
        df = n - 1 if paired else welch_df(var_a, n, var_b, n)
        if t_test_power(n, effect, df) >= POWER:
            return n
        n += 1
    return MAX_SEEDS + 1


def _seeds_text(n: int | None) -> str:
    if n is None:
        return "no difference was observed, so no number of seeds would resolve one"
    if n > MAX_SEEDS:
        return f"resolving a difference this small would take more than {MAX_SEEDS:,} seeds per strategy"
    return f"about {n} seeds per strategy would resolve a difference of this size ({POWER:.0%} power, alpha {ALPHA})"


def compare(
    a: str, b: str, va: Mapping[int, float], vb: Mapping[int, float]
) -> tuple[TestResult | None, int | None, str]:
    """The uncorrected test of a - b, the seeds needed, and why there is no test (if there is none)."""
    few = [name for name, values in ((a, va), (b, vb)) if len(values) < 2]
    if few:
        return (
            None,
            None,
            f"no comparison possible: {' and '.join(few)} {'has' if len(few) == 1 else 'have'} fewer than two seeds",
        )
    if set(va) == set(vb):
        seeds = sorted(va)
        result = paired_test([va[s] for s in seeds], [vb[s] for s in seeds])
        diffs = [va[s] - vb[s] for s in seeds]
        return result, seeds_needed(result.mean_diff, sd=sample_std(diffs)), ""
    xa, xb = list(va.values()), list(vb.values())
    result = welch_test(xa, xb)
    return result, seeds_needed(result.mean_diff, sd_a=sample_std(xa), sd_b=sample_std(xb)), ""


def compare_all(
    values: Mapping[str, Mapping[int, float]], metric: str, better: str, better_word: str
) -> tuple[list[StrategyStats], list[PairComparison]]:
    """Per-strategy stats and every pair (in ``values`` order) on one metric, Holm-adjusted across the pairs.

    ``values``: strategy -> seed -> value; ``better``: ``higher`` or ``lower``; ``better_word`` names a
    winner in its verdict (``"more accurate"``, ``"faster"``).
    """
    names = list(values)
    per_strategy = [strategy_stats(name, values[name], better) for name in names]
    tested = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            tested.append((a, b, *compare(a, b, values[a], values[b])))
    adjusted = iter(holm([r.p for _, _, r, _, _ in tested if r is not None]))
    pairs = []
    for a, b, result, needed, why in tested:
        if result is None:
            pairs.append(PairComparison(a, b, metric, None, None, None, None, None, None, why, None, None))
            continue
        p_holm = next(adjusted)
        winner = None
        if p_holm < ALPHA:
            winner = a if (result.mean_diff > 0) == (better == "higher") else b
            loser = b if winner == a else a
            verdict = f"{winner} {better_word} than {loser} (Holm-adjusted p = {p_holm:.3g})"
        else:
            verdict = f"within noise at this budget (Holm-adjusted p = {p_holm:.3g}); {_seeds_text(needed)}"
        pairs.append(
            PairComparison(
                a,
                b,
                metric,
                result.mean_diff,
                result.ci_low,
                result.ci_high,
                result.p,
                p_holm,
                result.test,
                verdict,
                winner,
                needed,
            )
        )
    return per_strategy, pairs


@dataclass(frozen=True)
class RankAgreement:
    """Kendall's tau-b between two metrics over the same trials, with its two-sided p-value."""

    tau: float | None
    p: float | None
    n: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def rank_agreement(x: Sequence[float], y: Sequence[float]) -> RankAgreement:
    """Kendall's tau-b (``scipy.stats.kendalltau``); None when fewer than two trials or a metric is constant."""
    if len(x) < 2 or len(set(x)) < 2 or len(set(y)) < 2:
        return RankAgreement(None, None, len(x))
    result = stats.kendalltau(x, y)
    return RankAgreement(float(result.statistic), float(result.pvalue), len(x))
