"""``nasframe bench`` and ``nasframe report``: equal footing for every trial, resumable, re-renderable."""
import csv
import io
import json
import shutil

import pytest
from click.testing import CliRunner

from nasframe.cli import _load_commands, cli
from nasframe.interfaces.errors import NasframeError
from nasframe.studies.bench import EPOCH_CAP, ROW_KEYS, Bench, BenchObserver, BenchSpec

_load_commands()

STRATEGIES = ("mdenas", "random", "darts")
SEEDS = (0, 1)
SMALL = ["--preset", "tiny", "--set", "data.limit=160", "--set", "train.batch_size=16", "--device", "cpu"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def bench_args(out, cifar_dir, strategies=STRATEGIES, seeds=SEEDS, epochs=1, extra=()):
    return ["bench", "--strategies", ",".join(strategies), "--space", "darts", "--seeds",
            ",".join(str(s) for s in seeds), "--epochs", epochs, "--data-dir", cifar_dir, "--out", out,
            *SMALL, *extra]


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
        assert row["params"] > 0 and row["flops"] > 0 and row["search_seconds"] > 0
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


def test_report_renders_the_bench_in_every_format(bench_dir):
    result = invoke("report", bench_dir, "--format", "csv")
    assert result.exit_code == 0, result.output
    table = csv_rows(result.stdout)
    assert [r["strategy"] for r in table] == list(STRATEGIES)
    rows = rows_of(bench_dir)
    for entry in table:
        assert entry["trials"] == "2" and float(entry["epochs_mean"]) == 1.0 and float(entry["epochs_std"]) == 0.0
        mine = [r["val_accuracy"] for r in rows if r["strategy"] == entry["strategy"]]
        assert float(entry["val_accuracy_mean"]) == pytest.approx(sum(mine) / 2)
        assert entry["retrain_test_accuracy_mean"] == ""

    markdown = invoke("report", bench_dir, "--format", "markdown").stdout
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    assert lines[0].startswith("| strategy | trials | val acc % |") and len(lines) == 2 + len(STRATEGIES)
    assert "1 epoch of supernet training per trial" in markdown
    assert "**" in "".join(lines[2:])  # the best of each ranked column is bold
    assert all(" ± " in line for line in lines[2:])

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
    spec = BenchSpec(space="darts", strategies=("random",), seeds=(0, 1), preset="tiny", epochs=2,
                     overrides={"data.limit": 160, "train.batch_size": 16, "device": "cpu", "strategy.candidates": 4,
                                "data.dir": str(cifar_dir), "data.download": False})
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
    result = invoke("bench", "--strategies", "random", "--seeds", "0", "--budget-seconds", "0.5",
                    "--retrain-epochs", "1", "--retrain-set", "data.limit=64", "--retrain-set", "data.test_limit=64",
                    "--data-dir", cifar_dir, "--out", out, *SMALL)
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


def test_report_highlights_the_best_of_ranked_columns_only(tmp_path):
    """Synthetic results: higher accuracy and images/s, lower seconds and memory win; params are not ranked."""
    out = tmp_path / "bench"
    out.mkdir()
    record = {"settings": {"space": "darts", "strategies": ["a", "b"], "seeds": [0, 1], "preset": "tiny",
                           "retrain_epochs": 0, "overrides": {}, "retrain_overrides": {}},
              "budget": {"epochs": 3, "seconds": None, "epochs_capped": False}, "shared_config": {}}
    (out / "bench.json").write_text(json.dumps(record))

    def row(strategy, seed, acc, seconds, params):
        return {"strategy": strategy, "seed": seed, "val_accuracy": acc, "retrain_test_accuracy": None,
                "params": params, "flops": 10, "search_seconds": seconds, "epochs": 3, "images_per_second": 100,
                "peak_memory_bytes": 2**20}

    rows = [row("a", 0, 0.5, 10.0, 1000), row("b", 0, 0.7, 20.0, 5000), row("a", 1, 0.6, 12.0, 1000),
            row("b", 1, 0.9, 22.0, 5000)]
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    lines = [line for line in invoke("report", out, "--format", "markdown").stdout.splitlines() if line.startswith("| ")]
    a = [c.strip() for c in lines[1].split("|")[1:-1]]
    b = [c.strip() for c in lines[2].split("|")[1:-1]]
    assert a == ["a", "2", "55.00 ± 7.07", "—", "1.00K ± 0", "10 ± 0", "—", "—", "—", "**11.00 ± 1.41**", "3 ± 0",
                 "100.0 ± 0.0", "1 ± 0"]
    # params, multiply-adds, latencies and epochs are not ranked; a column where every strategy ties has no winner
    assert b == ["b", "2", "**80.00 ± 14.14**", "—", "5.00K ± 0", "10 ± 0", "—", "—", "—", "21.00 ± 1.41", "3 ± 0",
                 "100.0 ± 0.0", "1 ± 0"]
    budget = invoke("report", out, "--format", "markdown").stdout
    assert "3 epochs of supernet training per trial" in budget
    partial = csv_rows(invoke("report", out, "--format", "csv").stdout)
    assert partial[0]["val_accuracy_std"] and float(partial[1]["val_accuracy_mean"]) == pytest.approx(0.8)


def test_report_of_something_else_is_one_line(tmp_path):
    result = invoke("report", tmp_path)
    assert result.exit_code == 1 and "neither a bench directory" in result.output
    result = invoke("report", tmp_path / "missing")
    assert result.exit_code == 1 and "not a directory" in result.output


def test_trials_in_parallel_over_devices_give_the_rows_of_one_by_one(bench_dir, cifar_dir, tmp_path):
    out = tmp_path / "parallel"
    result = invoke(*bench_args(out, cifar_dir, strategies=("random", "mdenas"), seeds=(0,), extra=(
        "--devices", "cpu,cpu")))
    assert result.exit_code == 0, result.output
    sequential = {(r["strategy"], r["seed"]): r for r in rows_of(bench_dir)}
    for row in rows_of(out):
        twin = sequential[(row["strategy"], row["seed"])]
        assert (row["arch"], row["val_accuracy"], row["epochs"]) == (twin["arch"], twin["val_accuracy"], twin["epochs"])
