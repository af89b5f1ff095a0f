"""Bench verdicts: intervals, t-tests, Holm and power checked against values worked out by hand (math only)."""

import builtins
import json
import math

import pytest
import torch
from click.testing import CliRunner

from nasframe import DataInfo, distribution_metrics, ranked_choices
from nasframe.cli import _load_commands, cli
from nasframe.registry import get_registry
from nasframe.studies.comparison import bench_comparison, undertrained_warning
from nasframe.studies.pareto import pareto_front
from nasframe.studies.statistics import compare_all, holm, rank_agreement, seeds_needed, strategy_stats

_load_commands()

T_975_DF2 = 4.302652729749464
"""The 0.975 quantile of Student's t with 2 degrees of freedom (tables; also sqrt(2 / (1 - 0.95**2) - 2))."""


def mean(xs):
    return sum(xs) / len(xs)


def sd(xs):
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def t_density(x, df):
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    return c * (1 + x * x / df) ** (-(df + 1) / 2)


def t_two_sided_p(t, df, steps=20_000):
    """2 * P(T > |t|) by Simpson's rule on x = |t| + s / (1 - s), s in [0, 1)."""
    end = 1 - 1e-9
    h = end / steps

    def f(s):
        return t_density(abs(t) + s / (1 - s), df) / (1 - s) ** 2

    total = f(0) + f(end) + sum((4 if i % 2 else 2) * f(i * h) for i in range(1, steps))
    return 2 * total * h / 3


def t_quantile_975(df):
    low, high = 0.0, 50.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if t_two_sided_p(mid, df, 4000) > 0.05 else (low, mid)
    return (low + high) / 2


def test_the_t_table_value_used_here():
    assert T_975_DF2 == pytest.approx(math.sqrt(2 / (1 - 0.95**2) - 2))
    assert t_two_sided_p(T_975_DF2, 2) == pytest.approx(0.05, abs=1e-7)


def test_paired_t_test_interval_and_p_by_hand():
    a = {0: 0.50, 1: 0.60, 2: 0.55}
    b = {0: 0.40, 1: 0.45, 2: 0.52}
    diffs = [a[s] - b[s] for s in a]
    m, s = mean(diffs), sd(diffs)
    t = m / (s / math.sqrt(3))
    p = 1 - abs(t) / math.sqrt(2 + t * t)  # Student's t with 2 df has a closed-form CDF
    half = T_975_DF2 * s / math.sqrt(3)
    _, (pair,) = compare_all({"a": a, "b": b}, "val_accuracy", "higher", "more accurate")
    assert pair.test == "paired t"
    assert pair.mean_diff == pytest.approx(m) and pair.p == pytest.approx(p, rel=1e-9)
    assert (pair.ci_low, pair.ci_high) == (pytest.approx(m - half), pytest.approx(m + half))
    assert pair.p_holm == pytest.approx(p)  # one pair: Holm changes nothing
    assert pair.p > 0.05 and pair.winner is None and pair.verdict.startswith("within noise at this budget")


def test_welch_t_test_interval_and_p_by_hand():
    a = {0: 0.52, 1: 0.61, 2: 0.58}
    b = {3: 0.41, 4: 0.47, 5: 0.40, 6: 0.50}
    xa, xb = list(a.values()), list(b.values())
    va, vb = sd(xa) ** 2 / 3, sd(xb) ** 2 / 4
    t = (mean(xa) - mean(xb)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 3)
    _, (pair,) = compare_all({"a": a, "b": b}, "val_accuracy", "higher", "more accurate")
    assert pair.test == "Welch t"
    assert pair.p == pytest.approx(t_two_sided_p(t, df), rel=1e-6)
    half = t_quantile_975(df) * math.sqrt(va + vb)
    assert pair.ci_low == pytest.approx(mean(xa) - mean(xb) - half, rel=1e-5)
    assert pair.ci_high == pytest.approx(mean(xa) - mean(xb) + half, rel=1e-5)
    assert pair.p < 0.05 and pair.winner == "a" and pair.verdict.startswith("a more accurate than b")


def test_holm_by_hand():
    # sorted: 0.01 * 3 = 0.03; 0.03 * 2 = 0.06; 0.04 * 1 = 0.04, raised to 0.06 (monotone)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.6]) == [1.0, 1.0]
    assert holm([]) == []


def test_holm_runs_across_the_pairs_of_a_metric():
    values = {"a": {0: 0.9, 1: 0.91, 2: 0.93}, "b": {0: 0.5, 1: 0.52, 2: 0.49}, "c": {0: 0.51, 1: 0.49, 2: 0.53}}
    _, pairs = compare_all(values, "val_accuracy", "higher", "more accurate")
    assert [p.p_holm for p in pairs] == pytest.approx(holm([p.p for p in pairs]))
    by_pair = {(p.a, p.b): p for p in pairs}
    assert by_pair[("a", "b")].winner == "a" and by_pair[("a", "c")].winner == "a"
    assert by_pair[("b", "c")].winner is None


def test_lower_is_better_names_the_faster_strategy():
    values = {"slow": {0: 20.0, 1: 22.0, 2: 21.0}, "fast": {0: 10.0, 1: 10.5, 2: 11.0}}
    stats, (pair,) = compare_all(values, "search_seconds", "lower", "faster")
    assert pair.winner == "fast" and pair.verdict.startswith("fast faster than slow")
    assert (stats[0].best_seed, stats[0].worst_seed) == (0, 1)


def test_strategy_stats_by_hand():
    st = strategy_stats("a", {0: 0.5, 1: 0.7, 2: 0.6}, "higher")
    half = T_975_DF2 * 0.1 / math.sqrt(3)
    assert (st.n, st.mean, st.std) == (3, pytest.approx(0.6), pytest.approx(0.1))
    assert (st.ci_low, st.ci_high) == (pytest.approx(0.6 - half), pytest.approx(0.6 + half))
    assert (st.best, st.best_seed, st.worst, st.worst_seed) == (0.7, 1, 0.5, 0)


def test_one_seed_means_no_comparison_possible():
    stats, (pair,) = compare_all({"a": {0: 0.5}, "b": {0: 0.4}}, "val_accuracy", "higher", "more accurate")
    assert stats[0].n == 1 and stats[0].std is None and stats[0].ci_low is None
    assert pair.p is None and pair.p_holm is None and pair.test is None and pair.winner is None
    assert pair.verdict == "no comparison possible: a and b have fewer than two seeds"


def test_all_equal_values_give_numbers_not_nan():
    stats, (pair,) = compare_all({"a": {0: 0.5, 1: 0.5}, "b": {0: 0.5, 1: 0.5}}, "val_accuracy", "higher", "x")
    assert (pair.mean_diff, pair.ci_low, pair.ci_high, pair.p, pair.p_holm) == (0, 0, 0, 1.0, 1.0)
    assert pair.winner is None and pair.seeds_needed is None and "no difference was observed" in pair.verdict
    assert stats[0].std == 0 and stats[0].ci_low == stats[0].ci_high == 0.5
    json.dumps([pair.as_dict(), stats[0].as_dict()], allow_nan=False)
    # the same nonzero difference on every seed: certain, p = 0
    _, (pair,) = compare_all({"a": {0: 0.6, 1: 0.7}, "b": {0: 0.5, 1: 0.6}}, "val_accuracy", "higher", "better")
    assert pair.p == 0 and pair.winner == "a" and pair.ci_low == pair.ci_high == pytest.approx(0.1)
    # Welch with zero spread on both sides
    _, (pair,) = compare_all({"a": {0: 0.5, 1: 0.5}, "b": {2: 0.5, 3: 0.5}}, "val_accuracy", "higher", "better")
    assert pair.test == "Welch t" and pair.p == 1.0


def test_seeds_needed_matches_the_power_tables():
    # paired t, effect size 1, alpha 0.05 two-sided, 80 % power: 10 pairs (Cohen's tables / G*Power)
    assert seeds_needed(0.05, sd=0.05) == 10
    # effect size 0.5: 34 pairs
    assert seeds_needed(0.025, sd=0.05) == 34
    # two groups (Welch, equal sizes), d = difference / common sd = 1: 17 per group; d = 2: 6 per group
    assert seeds_needed(1.0, sd_a=1.0, sd_b=1.0) == 17
    assert seeds_needed(2.0, sd_a=1.0, sd_b=1.0) == 6
    assert seeds_needed(0.0, sd=1.0) is None and seeds_needed(1.0, sd=0.0) is None
    assert seeds_needed(1e-6, sd=1.0) == 10_001


def test_kendall_tau_by_hand():
    # (1,1) (2,3) (3,2) (4,4): 5 concordant pairs, 1 discordant, no ties -> tau = 4/6
    agreement = rank_agreement([1, 2, 3, 4], [1, 3, 2, 4])
    assert agreement.tau == pytest.approx(4 / 6) and 0 < agreement.p < 1 and agreement.n == 4
    assert rank_agreement([1, 2], [3, 3]).tau is None and rank_agreement([1], [2]).tau is None


# -- honest derivation --------------------------------------------------------------------------------
def darts_space():
    return get_registry().space("darts")({"layers": 3, "channels": 4}, DataInfo("cifar10", 10, 32))


def mbconv_space():
    return get_registry().space("mbconv")({"width_mult": 0.25}, DataInfo("cifar10", 10, 32))


def test_ranked_choices_breaks_ties_by_the_generator():
    assert ranked_choices([0.2, 0.5, 0.2, 0.1]) == [1, 0, 2, 3]
    draws = {tuple(ranked_choices([0.2, 0.2, 0.2], torch.Generator().manual_seed(s))) for s in range(10)}
    assert len(draws) > 1
    assert all(ranked_choices([0.1, 0.9, 0.3], torch.Generator().manual_seed(s)) == [1, 2, 0] for s in range(5))


@pytest.mark.parametrize("make", [darts_space, mbconv_space])
def test_derive_of_an_untrained_distribution_is_a_draw_from_the_seed(make):
    space = make()
    uniform = space.scores_from_tensor(space.choice_mask.double() / space.choice_mask.sum(-1, keepdim=True))

    def derived(seed):
        return space.derive(uniform, torch.Generator().manual_seed(seed))

    assert derived(0) == derived(0)  # same seed, same arch
    assert any(derived(s) != derived(0) for s in range(1, 4))  # other seeds, other archs
    first = space.derive(uniform)  # without a generator: by position, as before
    assert all(v == (1 if space.name == "darts" and first[k] != 0 else first[k]) for k, v in first.items())


def test_mdenas_final_on_an_untrained_distribution_depends_on_the_seed():
    from types import SimpleNamespace

    from nasframe.plugins.mdenas import MdeNAS

    def final(seed):
        space = darts_space()
        s = MdeNAS()
        gen = torch.Generator().manual_seed(seed)  # the engine's ctx.derive draws ties from the strategy stream
        s.space = space
        s.ctx = SimpleNamespace(
            generator=gen, derive=lambda scores: space.derive(space.scores_from_tensor(scores), gen)
        )
        s.setup(space, s.ctx)
        return space.arch_to_json(s.final())

    assert final(3) == final(3)
    assert len({json.dumps(final(s)) for s in range(4)}) > 1
    ops = {op for seed in range(4) for op, _ in final(seed)["normal"]}
    assert ops != {"max_pool_3x3"}  # the old positional tie-break derived max_pool_3x3 on every edge


def test_distribution_metrics_of_uniform_and_decided_weights():
    space = darts_space()
    uniform = torch.full((28, 8), 1 / 8, dtype=torch.float64)
    m = distribution_metrics(space, uniform)
    assert m["entropy"] == pytest.approx(math.log(8)) and m["entropy_max"] == pytest.approx(math.log(8))
    assert m["near_ties"] == 1.0 and m["skip_share"] == pytest.approx(1 / 8) and m["choices"] == 8
    decided = torch.zeros(28, 8, dtype=torch.float64)
    decided[:, 3] = 1.0  # skip_connect everywhere: a collapsed DARTS
    m = distribution_metrics(space, decided)
    assert m["entropy"] == 0 and m["near_ties"] == 0 and m["skip_share"] == 1.0


def test_undertrained_warning_names_the_budget_that_would_do():
    decision = {"samples": 3, "choices": 8, "near_ties": 0.9, "samples_per_epoch": 1.0, "seconds_per_epoch": 2.0}
    text = undertrained_warning("mdenas", decision)
    assert "3 feedback sample(s)" in text and "8 choices" in text and "--epochs 8" in text and "16 s" in text
    assert undertrained_warning("mdenas", {**decision, "samples": 8}) is None
    assert undertrained_warning("random", None) is None


# -- the report -----------------------------------------------------------------------------------------
GENOTYPE = {
    "space": "darts",
    "normal": [["sep_conv_3x3", 0], ["skip_connect", 1]] * 4,
    "reduce": [["max_pool_3x3", 0], ["dil_conv_5x5", 1]] * 4,
}


def write_bench(out, accuracies, retrain=None, events=True):
    """A bench directory with given per-seed accuracies per strategy, and per-trial events.jsonl."""
    out.mkdir()
    strategies = list(accuracies)
    seeds = sorted({s for v in accuracies.values() for s in v})
    record = {
        "settings": {
            "space": "darts",
            "strategies": strategies,
            "seeds": seeds,
            "preset": "tiny",
            "retrain_epochs": 1 if retrain else 0,
            "overrides": {},
            "retrain_overrides": {},
        },
        "budget": {"epochs": 3, "seconds": None, "epochs_capped": False},
        "shared_config": {},
    }
    (out / "bench.json").write_text(json.dumps(record))
    rows = []
    for name, by_seed in accuracies.items():
        for seed, acc in by_seed.items():
            trial = f"trials/{name}-seed{seed}"
            distribution = (
                {
                    "entropy": 2.07,
                    "entropy_max": 2.079,
                    "near_ties": 0.8,
                    "skip_share": 0.125,
                    "samples": 3,
                    "choices": 8,
                }
                if name == "mdenas"
                else {}
            )
            rows.append(
                {
                    "strategy": name,
                    "seed": seed,
                    "trial": trial,
                    "arch": GENOTYPE,
                    "val_accuracy": acc,
                    "retrain_test_accuracy": (retrain or {}).get((name, seed)),
                    "search_seconds": 10.0 + seed,
                    "epochs": 3,
                    "params": 100,
                    "flops": 1000,
                    "images_per_second": 50.0,
                    "peak_memory_bytes": 2**20,
                    **distribution,
                }
            )
            if events:
                (out / trial).mkdir(parents=True)
                (out / trial / "events.jsonl").write_text(
                    "".join(
                        json.dumps(
                            {
                                "epoch": e,
                                "val_accuracy": acc * (e + 1) / 3,
                                "val_loss": 2.3 - 0.1 * e,
                                "seconds": 1.0 + seed,
                                **(
                                    {"entropy": 2.0, "entropy_max": 2.079, "skip_share": 0.13}
                                    if name == "mdenas"
                                    else {}
                                ),
                            }
                        )
                        + "\n"
                        for e in range(3)
                    )
                )
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return record, rows


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


PAIR_KEYS = {
    "a",
    "b",
    "metric",
    "mean_diff",
    "ci_low",
    "ci_high",
    "p",
    "p_holm",
    "test",
    "verdict",
    "winner",
    "seeds_needed",
}


def test_json_report_gives_every_number(tmp_path):
    out = tmp_path / "bench"
    write_bench(out, {"mdenas": {0: 0.10, 1: 0.12, 2: 0.11}, "random": {0: 0.20, 1: 0.21, 2: 0.22}}, events=False)
    result = invoke("report", out, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["primary_metric"] == "val_accuracy" and data["alpha"] == 0.05
    pairs = {(p["metric"]): p for p in data["pairs"]}
    assert set(pairs) == {"val_accuracy", "search_seconds"}
    for pair in data["pairs"]:
        assert set(pair) == PAIR_KEYS
    acc = pairs["val_accuracy"]
    assert acc["test"] == "paired t" and acc["winner"] == "random" and acc["p_holm"] < 0.05
    assert acc["mean_diff"] == pytest.approx(-0.1) and acc["ci_low"] < -0.1 < acc["ci_high"] < 0
    seconds = pairs["search_seconds"]  # 10 + seed for both: no difference
    assert seconds["winner"] is None and seconds["p"] == 1.0
    strategies = {s["strategy"]: s for s in data["strategies"]}
    mdenas = strategies["mdenas"]
    assert set(mdenas["val_accuracy"]) >= {
        "n",
        "mean",
        "std",
        "ci_low",
        "ci_high",
        "best",
        "best_seed",
        "worst",
        "worst_seed",
    }
    assert mdenas["val_accuracy"]["best_seed"] == 1 and mdenas["trials"] == 3
    assert mdenas["metrics"]["val_accuracy"]["mean"] == pytest.approx(0.11)
    assert mdenas["decision"]["near_ties"] == pytest.approx(0.8) and strategies["random"]["decision"] is None
    assert any("--epochs 8" in w for w in data["warnings"])
    assert data["supernet_vs_standalone"] is None

    markdown = invoke("report", out, "--format", "markdown").stdout
    assert "random more accurate than mdenas" in markdown and "Warning: mdenas learned from 3" in markdown
    blocks = invoke("report", out, "--format", "csv").stdout.split("\n\n")
    assert blocks[2].startswith("a,b,metric,mean_diff,ci_low,ci_high,test,p,p_holm,winner,seeds_needed,verdict")
    assert "random more accurate than mdenas" in blocks[2] and blocks[-1].startswith("note\n")


def test_retrained_bench_compares_test_accuracy_and_gives_kendall_tau(tmp_path):
    out = tmp_path / "bench"
    retrain = {("a", 0): 0.3, ("a", 1): 0.5, ("b", 0): 0.4, ("b", 1): 0.6}
    record, rows = write_bench(out, {"a": {0: 0.1, 1: 0.3}, "b": {0: 0.2, 1: 0.4}}, retrain=retrain, events=False)
    comparison = bench_comparison(record, rows, ["a", "b"])
    assert comparison["primary_metric"] == "retrain_test_accuracy"
    agreement = comparison["supernet_vs_standalone"]
    assert agreement["tau"] == pytest.approx(1.0) and agreement["n"] == 4
    markdown = invoke("report", out, "--format", "markdown").stdout
    assert "Kendall τ-b = 1.000" in markdown and "primary metric: retrain test acc %" in markdown


def test_plots_are_written_and_linked(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib (the plot extra) is not installed")
    out = tmp_path / "bench"
    write_bench(out, {"mdenas": {0: 0.10, 1: 0.12}, "random": {0: 0.20, 1: 0.21}})
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    rows[-1]["arch"] = {
        "space": "mbconv",
        "variant": "cifar",
        "choices": "mdenas",
        "blocks": [{"kernel": 3 + 2 * (i % 3), "expand": 6} for i in range(21)],
    }
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = invoke("report", out, "--format", "markdown", "--plot")
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in (out / "report").iterdir())
    assert files == [
        "arch-mdenas-seed0.png",
        "arch-mdenas-seed1.png",
        "arch-random-seed0.png",
        "arch-random-seed1.png",
        "curves.png",
        "pareto.png",
    ]
    for name in files:
        assert (out / "report" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![Curves](report/curves.png)" in result.stdout
    assert "(report/arch-random-seed1.png)" in result.stdout
    assert "![Accuracy against cost](report/pareto.png)" in result.stdout


def test_plot_without_matplotlib_is_one_line_and_the_report_still_shows(tmp_path, monkeypatch):
    out = tmp_path / "bench"
    write_bench(out, {"mdenas": {0: 0.10, 1: 0.12}, "random": {0: 0.20, 1: 0.21}})
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    result = CliRunner().invoke(cli, ["report", str(out), "--format", "markdown", "--plot"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    hint = [line for line in result.output.splitlines() if "matplotlib" in line]
    assert hint == ["plot skipped: matplotlib is not installed (pip install matplotlib)"]
    assert not (out / "report").exists() and "| mdenas − random |" in result.output


# -- accuracy against cost ---------------------------------------------------------------------------


def test_the_pareto_front_worked_out_by_hand():
    # (cost, accuracy): by cost 1 the first 0.2 wins (the second ties it, not better); 2 at 0.6 beats 0.2;
    # (2, 0.4), (3, 0.5) and (4, 0.6) are each beaten by (2, 0.6)
    points = [(3, 0.5), (1, 0.2), (2, 0.6), (2, 0.4), (4, 0.6), (1, 0.2)]
    assert pareto_front(points) == [1, 2]
    assert pareto_front([]) == [] and pareto_front([(5, 0.1)]) == [0]


def test_the_report_names_the_trials_on_the_latency_front(tmp_path):
    out = tmp_path / "bench"
    _, rows = write_bench(out, {"mdenas": {0: 0.30, 1: 0.50}, "random": {0: 0.40, 1: 0.45}}, events=False)
    latency = {"mdenas-seed0": 2.0, "mdenas-seed1": 4.0, "random-seed0": 2.5, "random-seed1": 3.0}
    for row in rows:
        row["latency_ms"] = latency[row["trial"].split("/")[-1]]
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = json.loads(invoke("report", out, "--format", "json").stdout)
    # by latency: mdenas-seed0 (2.0, 30 %), random-seed0 (2.5, 40 %), random-seed1 (3.0, 45 %), mdenas-seed1 (4.0, 50 %)
    assert [t["trial"] for t in data["pareto"]["trials"]] == [
        "mdenas-seed0",
        "random-seed0",
        "random-seed1",
        "mdenas-seed1",
    ]
    rows[1]["val_accuracy"] = 0.42  # mdenas-seed1 is now slower and less accurate than random-seed1
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    markdown = invoke("report", out, "--format", "markdown").stdout
    assert (
        "Pareto front of val acc against measured latency (no other trial is both faster and more accurate): "
        "mdenas-seed0 (2.00 ms, 30.00 %), random-seed0 (2.50 ms, 40.00 %), random-seed1 (3.00 ms, 45.00 %)."
    ) in markdown
