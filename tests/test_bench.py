"""``nasframe bench`` and ``nasframe report``: equal footing for every trial, resumable, re-renderable."""

import csv
import io
import json
import shutil

import pytest
from click.testing import CliRunner

from nasframe.cli import _load_commands, cli
from nasframe.interfaces.errors import NasframeError
from nasframe.studies.bench import DECISION_KEYS, EPOCH_CAP, Bench, BenchObserver, BenchSpec

_load_commands()

STRATEGIES = ("mdenas", "random", "darts")
SEEDS = (0, 1)
SMALL = ["--preset", "tiny", "--set", "data.limit=160", "--set", "train.batch_size=16", "--device", "cpu"]


ROW_KEYS = (
    "strategy",
    "seed",
    "trial",
    "arch",
    "val_accuracy",
    "val_loss",
    "retrain_test_accuracy",
    "params",
    "flops",
    "latency_ms",
    "predicted_latency_ms",
    "latency_error",
    "search_seconds",
    "selection_seconds",
    "images_per_second",
    "peak_memory_bytes",
    "epochs",
    "budget",
    "retrain_epochs",
    "retrain_seconds",
    "retrain_params",
    "retrain_flops",
    *DECISION_KEYS,
)
"""What every results.jsonl row holds: the contract a report (ours or anyone's) reads."""


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def bench_args(out, cifar_dir, strategies=STRATEGIES, seeds=SEEDS, epochs=1, extra=()):
    return [
        "bench",
        "--strategies",
        ",".join(strategies),
        "--space",
        "darts",
        "--seeds",
        ",".join(str(s) for s in seeds),
        "--epochs",
        epochs,
        "--data-dir",
        cifar_dir,
        "--out",
        out,
        *SMALL,
        *extra,
    ]


def rows_of(out):
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def csv_rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def mtimes(out):
    return {p: p.stat().st_mtime_ns for p in sorted((out / "trials").rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory, cifar_dir):
    """The three strategies x two seeds, one epoch each, run once for the module."""
    out = tmp_path_factory.mktemp("bench") / "out"
    result = invoke(*bench_args(out, cifar_dir))
    assert result.exit_code == 0, result.output
    return out


def test_bench_runs_every_trial_on_equal_footing(bench_dir):
    rows = rows_of(bench_dir)
    assert [(r["strategy"], r["seed"]) for r in rows] == [(s, k) for k in SEEDS for s in STRATEGIES]
    for row in rows:
        assert set(ROW_KEYS) <= set(row), set(ROW_KEYS) - set(row)
        assert 0 <= row["val_accuracy"] <= 1 and row["retrain_test_accuracy"] is None
        assert row["arch"]["space"] == "darts" and len(row["arch"]["normal"]) == 8
        assert row["params"] > 0 and row["flops"] > 0 and row["search_seconds"] > 0 and row["selection_seconds"] >= 0
        assert row["images_per_second"] > 0 and row["peak_memory_bytes"] > 0
        assert row["epochs"] == 1 and row["budget"] == {"epochs": 1, "seconds": None}
        assert (bench_dir / row["trial"] / "summary.json").exists()
    configs = [json.loads((bench_dir / r["trial"] / "config.json").read_text()) for r in rows]
    for config, row in zip(configs, rows):
        assert config["strategy"]["name"] == row["strategy"] and config["seed"] == row["seed"]
        # same split, supernet and training recipe: only the strategy and the seed differ
        for key in ("data", "space", "train", "budget", "evaluator", "preset"):
            assert config[key] == configs[0][key], key
    assert configs[0]["data"]["limit"] == 160 and configs[0]["train"]["batch_size"] == 16
    record = json.loads((bench_dir / "bench.json").read_text())
    assert record["settings"]["strategies"] == list(STRATEGIES) and record["settings"]["seeds"] == list(SEEDS)
    assert record["budget"] == {"epochs": 1, "seconds": None, "epochs_capped": False}
    protocol = record["protocol"]
    assert protocol["budget"] == {"epochs": 1, "seconds": None, "train_images_seen": 80}
    assert protocol["data"] == {"dataset": "cifar10", "train_images": 80, "val_images": 80}
    assert protocol["seeds"] == list(SEEDS) and set(protocol["selection"]) == set(STRATEGIES)
    assert protocol["evaluation"] == {"name": "supernet", "bn": "batch"} and protocol["retrain"] is None
    assert protocol["device"] == "cpu" and {"nasframe", "torch", "python"} <= set(protocol["versions"])
    by_strategy = {r["strategy"]: r for r in rows}
    assert by_strategy["mdenas"]["samples"] == 1 and by_strategy["mdenas"]["choices"] == 8
    assert by_strategy["darts"]["samples"] > 1 and 0 <= by_strategy["darts"]["near_ties"] <= 1
    assert by_strategy["random"]["entropy"] is None


def test_report_renders_the_bench_in_every_format(bench_dir):
    result = invoke("report", bench_dir, "--format", "csv")
    assert result.exit_code == 0, result.output
    blocks = result.stdout.split("\n\n")  # per strategy, statistics, comparisons, decidedness, notes
    table = csv_rows(blocks[0])
    assert [r["strategy"] for r in table] == list(STRATEGIES)
    rows = rows_of(bench_dir)
    for entry in table:
        assert entry["trials"] == "2" and float(entry["epochs_mean"]) == 1.0 and float(entry["epochs_std"]) == 0.0
        mine = [r["val_accuracy"] for r in rows if r["strategy"] == entry["strategy"]]
        assert float(entry["val_accuracy_mean"]) == pytest.approx(sum(mine) / 2)
        assert entry["retrain_test_accuracy_mean"] == ""

    pairs = csv_rows(blocks[2])
    assert [(p["a"], p["b"]) for p in pairs] == [("mdenas", "random"), ("mdenas", "darts"), ("random", "darts")] * 2
    assert all(p["test"] == "paired t" and p["verdict"] for p in pairs)
    decided = {r["strategy"]: r for r in csv_rows(blocks[3])}
    assert set(decided) == {"mdenas", "darts"}  # random search has no distribution
    assert float(decided["mdenas"]["samples"]) == 1 and float(decided["mdenas"]["choices"]) == 8

    markdown = invoke("report", bench_dir, "--format", "markdown").stdout
    lines = [line for line in markdown.split("\n\n**")[0].splitlines() if line.startswith("|")]
    assert lines[0].startswith("| strategy | trials | val acc % |") and len(lines) == 2 + len(STRATEGIES)
    assert "1 epoch of supernet training per trial" in markdown
    assert all(" ± " in line for line in lines[2:])
    assert "**Comparisons**" in markdown and "Warning: mdenas learned from 1 feedback sample(s)" in markdown
    assert "Selection, random: the best of 20 uniform candidates" in markdown
    assert "Data: cifar10, search split 80 training / 80 validation images; 80 training images seen" in markdown

    rich = invoke("report", bench_dir)
    assert rich.exit_code == 0 and all(s in rich.stdout for s in STRATEGIES) and "Budget:" in rich.stdout

    trials = csv_rows(invoke("report", bench_dir, "--format", "csv", "--trials").stdout)
    assert [(r["strategy"], int(r["seed"])) for r in trials] == [(r["strategy"], r["seed"]) for r in rows]

    run = bench_dir / rows[0]["trial"]
    summary = {r["metric"]: r["value"] for r in csv_rows(invoke("report", run, "--format", "csv").stdout)}
    assert summary["strategy"] == rows[0]["strategy"] and float(summary["val_accuracy"]) == rows[0]["val_accuracy"]
    assert "| val_accuracy |" in invoke("report", run, "--format", "markdown").stdout
    assert invoke("report", run).exit_code == 0


def test_rerun_skips_finished_trials_and_reruns_only_missing_ones(bench_dir, cifar_dir, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(bench_dir, out)
    before, results = mtimes(out), (out / "results.jsonl").read_bytes()
    result = invoke(*bench_args(out, cifar_dir))
    assert result.exit_code == 0, result.output
    assert "6 finished earlier" in result.output
    assert mtimes(out) == before and (out / "results.jsonl").read_bytes() == results

    # a row lost from results.jsonl is rebuilt from its finished run directory, without training
    rows = rows_of(out)
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[1:]))
    assert invoke(*bench_args(out, cifar_dir)).exit_code == 0
    assert rows_of(out) == rows and mtimes(out) == before

    # a trial whose directory and row are gone runs again, alone, to the same result (same seed)
    gone = next(r for r in rows if r["strategy"] == "random")
    shutil.rmtree(out / gone["trial"])
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows if r is not gone))
    result = invoke(*bench_args(out, cifar_dir))
    assert result.exit_code == 0, result.output
    after = mtimes(out)
    changed = {p.relative_to(out).parts[1] for p in after if after[p] != before.get(p)}
    assert changed == {gone["trial"].split("/")[1]}
    again = rows_of(out)
    assert [(r["strategy"], r["seed"]) for r in again] == [(r["strategy"], r["seed"]) for r in rows]
    redone = next(r for r in again if r["trial"] == gone["trial"])
    assert redone["arch"] == gone["arch"] and redone["val_accuracy"] == gone["val_accuracy"]


def test_a_bench_with_other_settings_is_refused(bench_dir, cifar_dir, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(bench_dir, out)
    before = (out / "results.jsonl").read_bytes()
    for extra_args in (dict(epochs=2), dict(seeds=(0, 1, 2)), dict(extra=("--set", "train.lr=0.1"))):
        result = invoke(*bench_args(out, cifar_dir, **extra_args))
        assert result.exit_code == 1, extra_args
        assert "holds another bench" in result.output and "Traceback" not in result.output
    assert (out / "results.jsonl").read_bytes() == before


def test_a_bench_whose_first_trial_fails_in_setup_does_not_block_the_corrected_retry(tmp_path, cifar_dir):
    out = tmp_path / "bench"
    failed = invoke(
        *bench_args(out, cifar_dir, strategies=("random",), seeds=(0,), extra=("--set", "constraint.max_flops=1"))
    )
    assert failed.exit_code == 1 and "constraint.max_flops=1 cannot be met" in failed.output
    assert not (out / "trials").exists() and not (out / "results.jsonl").exists()
    retry = invoke(
        *bench_args(out, cifar_dir, strategies=("random",), seeds=(0,), extra=("--set", "constraint.max_flops=2000000"))
    )
    assert retry.exit_code == 0, retry.output
    assert [row["flops"] <= 2_000_000 for row in rows_of(out)] == [True]
    assert json.loads((out / "bench.json").read_text())["settings"]["overrides"]["constraint.max_flops"] == 2_000_000


class Interrupt(BenchObserver):
    """Presses Ctrl-C at the end of one epoch of one trial; records where every run started."""

    def __init__(self, trial=None, epoch=None):
        self.trial, self.epoch, self.current, self.starts = trial, epoch, None, []

    def on_trial_start(self, bench, trial, phase):
        self.current = trial.name

    def on_run_start(self, run):
        self.starts.append((self.current, run.epoch))

    def on_epoch_end(self, run, epoch, metrics):
        if (self.current, epoch) == (self.trial, self.epoch):
            raise KeyboardInterrupt


def test_an_interrupted_bench_resumes_the_unfinished_trial(tmp_path, cifar_dir):
    spec = BenchSpec(
        space="darts",
        strategies=("random",),
        seeds=(0, 1),
        preset="tiny",
        epochs=2,
        overrides={
            "data.limit": 160,
            "train.batch_size": 16,
            "device": "cpu",
            "strategy.candidates": 4,
            "data.dir": str(cifar_dir),
            "data.download": False,
        },
    )
    out = tmp_path / "bench"
    first = Interrupt("random-seed1", 0)
    with pytest.raises(NasframeError, match="interrupted in trial random-seed1.*same command"):
        Bench(spec, out).execute([first])
    assert first.starts == [("random-seed0", 0), ("random-seed1", 0)]
    assert [(r["strategy"], r["seed"]) for r in rows_of(out)] == [("random", 0)]
    second = Interrupt()
    rows = Bench(spec, out).execute([second])
    assert second.starts == [("random-seed1", 1)]  # from its checkpoint, not from scratch
    assert [r["seed"] for r in rows] == [0, 1] and all(r["epochs"] == 2 for r in rows)
    events = [json.loads(line) for line in (out / "trials/random-seed1/events.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in events] == [0, 1]


def test_seconds_budget_and_retraining(tmp_path, cifar_dir):
    out = tmp_path / "bench"
    result = invoke(
        "bench",
        "--strategies",
        "random",
        "--seeds",
        "0",
        "--budget-seconds",
        "0.5",
        "--retrain-epochs",
        "1",
        "--retrain-set",
        "data.limit=64",
        "--retrain-set",
        "data.test_limit=64",
        "--data-dir",
        cifar_dir,
        "--out",
        out,
        *SMALL,
    )
    assert result.exit_code == 0, result.output
    (row,) = rows_of(out)
    assert row["budget"] == {"epochs": EPOCH_CAP, "seconds": 0.5} and row["epochs"] >= 1
    assert row["search_seconds"] >= 0.5  # stops at the first epoch end past the budget
    assert 0 <= row["retrain_test_accuracy"] <= 1 and row["retrain_epochs"] == 1
    retrain = out / row["trial"] / "retrain"
    assert (retrain / "summary.json").exists() and (retrain / "model.safetensors").exists()
    config = json.loads((retrain / "config.json").read_text())
    assert config["arch"] == row["arch"] and config["seed"] == 0 and config["train"]["epochs"] == 1
    assert config["data"]["test_limit"] == 64 and config["device"] == "cpu"
    markdown = invoke("report", out, "--format", "markdown").stdout
    assert "0.5 s of search per trial" in markdown and "epochs uncapped" in markdown
    assert "Retraining: 1 epoch from scratch" in markdown


@pytest.mark.parametrize(
    "args,message",
    [
        (["--strategies", "random,nope"], "unknown strategy 'nope'; available: "),
        (["--strategies", "random", "--seeds", ","], "--seeds is empty"),
        (["--strategies", "random", "--seeds", "0,x"], "--seeds takes comma-separated integers"),
        (["--strategies", "random,random"], "more than once"),
        (["--strategies", "random", "--set", "space.chanels=3"], "unknown config key"),
        (["--strategies", "random", "--set", "nonsense"], "--set takes key=value"),
        (["--strategies", "random", "--set", "seed=3"], "use --seeds"),
        (["--strategies", "random", "--set", "train.epochs=3"], "use --epochs"),
        (["--strategies", "random", "--space", "nope"], "unknown search space 'nope'"),
        (["--strategies", "random", "--retrain-epochs", "1", "--retrain-set", "train.lrr=1"], "unknown config key"),
    ],
)
def test_bad_bench_input_is_one_line_and_exit_1(args, message, tmp_path):
    out = tmp_path / "b"
    result = invoke("bench", *args, "--preset", "tiny", "--out", out)
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_bench_refuses_a_run_directory_as_out(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text("{}")
    result = invoke("bench", "--strategies", "random", "--preset", "tiny", "--out", out)
    assert result.exit_code == 1 and "something other than a bench" in result.output


def test_report_highlights_only_a_significant_best(tmp_path):
    """Synthetic results: only a tested column (primary accuracy, search seconds) with Holm p < 0.05 is bold."""
    out = tmp_path / "bench"
    out.mkdir()
    record = {
        "settings": {
            "space": "darts",
            "strategies": ["a", "b"],
            "seeds": [0, 1],
            "preset": "tiny",
            "retrain_epochs": 0,
            "overrides": {},
            "retrain_overrides": {},
        },
        "budget": {"epochs": 3, "seconds": None, "epochs_capped": False},
        "shared_config": {},
    }
    (out / "bench.json").write_text(json.dumps(record))

    def row(strategy, seed, acc, seconds, params):
        return {
            "strategy": strategy,
            "seed": seed,
            "val_accuracy": acc,
            "retrain_test_accuracy": None,
            "params": params,
            "flops": 10,
            "search_seconds": seconds,
            "epochs": 3,
            "images_per_second": 100,
            "peak_memory_bytes": 2**20,
        }

    rows = [
        row("a", 0, 0.5, 10.0, 1000),
        row("b", 0, 0.7, 20.0, 5000),
        row("a", 1, 0.6, 12.0, 1000),
        row("b", 1, 0.9, 22.0, 5000),
    ]
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    markdown = invoke("report", out, "--format", "markdown").stdout
    lines = [line for line in markdown.split("\n\n**")[0].splitlines() if line.startswith("| ")]
    a = [c.strip() for c in lines[1].split("|")[1:-1]]
    b = [c.strip() for c in lines[2].split("|")[1:-1]]
    # search s: a is 10 s faster on both seeds (no spread: p = 0), so it is bold; b's higher accuracy
    # (0.5/0.6 vs 0.7/0.9, paired p = 0.126) is within noise, so nothing is bold there
    assert a == [
        "a",
        "2",
        "55.00 ± 7.07",
        "—",
        "1.00K ± 0",
        "10 ± 0",
        "—",
        "—",
        "—",
        "**11.00 ± 1.41**",
        "—",
        "3 ± 0",
        "100.0 ± 0.0",
        "1 ± 0",
    ]
    # params, multiply-adds, latencies and epochs are not ranked; images/s and memory are not tested, so never bold
    assert b == [
        "b",
        "2",
        "80.00 ± 14.14",
        "—",
        "5.00K ± 0",
        "10 ± 0",
        "—",
        "—",
        "—",
        "21.00 ± 1.41",
        "—",
        "3 ± 0",
        "100.0 ± 0.0",
        "1 ± 0",
    ]
    assert "within noise at this budget" in markdown and "a faster than b" in markdown
    budget = invoke("report", out, "--format", "markdown").stdout
    assert "3 epochs of supernet training per trial" in budget
    partial = csv_rows(invoke("report", out, "--format", "csv").stdout.split("\n\n")[0])
    assert partial[0]["val_accuracy_std"] and float(partial[1]["val_accuracy_mean"]) == pytest.approx(0.8)


def test_report_of_something_else_is_one_line(tmp_path):
    result = invoke("report", tmp_path)
    assert result.exit_code == 1 and "neither a bench directory" in result.output
    result = invoke("report", tmp_path / "missing")
    assert result.exit_code == 1 and "not a directory" in result.output


def test_trials_in_parallel_over_devices_give_the_rows_of_one_by_one(bench_dir, cifar_dir, tmp_path):
    out = tmp_path / "parallel"
    result = invoke(
        *bench_args(out, cifar_dir, strategies=("random", "mdenas"), seeds=(0,), extra=("--devices", "cpu,cpu"))
    )
    assert result.exit_code == 0, result.output
    sequential = {(r["strategy"], r["seed"]): r for r in rows_of(bench_dir)}
    for row in rows_of(out):
        twin = sequential[(row["strategy"], row["seed"])]
        assert (row["arch"], row["val_accuracy"], row["epochs"]) == (twin["arch"], twin["val_accuracy"], twin["epochs"])


def test_a_strategy_of_the_bench_can_get_its_own_strategy_keys(tmp_path):
    spec = BenchSpec(
        space="darts",
        strategies=("mdenas", "random"),
        seeds=(0,),
        preset="tiny",
        epochs=1,
        overrides={"mdenas:strategy.sample_every": "step", "data.limit": 160},
    )
    bench = Bench(spec, tmp_path / "bench")
    configs = {t.strategy: t.config for t in bench.trials}
    assert (
        configs["mdenas"]["strategy"]["sample_every"] == "step" and "sample_every" not in configs["random"]["strategy"]
    )
    assert configs["mdenas"]["data"] == configs["random"]["data"] and configs["random"]["data"]["limit"] == 160
    assert "one sample per step" in bench.record()["protocol"]["selection"]["mdenas"]
    for key in ("darts:strategy.order", "mdenas:train.lr", "mdenas:strategy.name"):
        with pytest.raises(NasframeError, match="STRATEGY:strategy.KEY"):
            BenchSpec(space="darts", strategies=("mdenas", "random"), seeds=(0,), overrides={key: 1})
