"""NAS-Bench-201 through the command line: every strategy's search writes the benchmark's string and its ground
truth, `train` gives the benchmark's counts for any cell, a killed search resumes bit-identical, bench and rank
answer on the ground truth, and bad cell strings are one line."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from nasframe.cli import cli
from nasframe.registry import get_registry
from nasframe.testing import install_killer

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
SKIPS = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "nats-bench-tss" / "nats_bench_tss_200ep.csv"
SMALL = ["--set", "data.limit=96", "--set", "train.batch_size=16", "--set", "train.eval_batch_size=48"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def table_row(arch: str) -> dict[str, float]:
    """The shared CSV's row of ``arch`` (the source the shipped table was built from)."""
    if not CSV.is_file():
        pytest.skip("the NATS-Bench table (../shared/data/nats-bench-tss) is not beside this checkout")
    with CSV.open() as f:
        for row in csv.DictReader(f):
            if row["ArchitectureString"] == arch:
                return {
                    "cifar10": float(row["CIFAR10TestAccuracy200Epochs"]),
                    "cifar100": float(row["CIFAR100TestAccuracy200Epochs"]),
                    "imagenet16-120": float(row["ImageNetTestAccuracy200Epochs"]),
                }
    raise AssertionError(f"{arch} is not in the table")


def search(strategy: str, out: Path, cifar_dir: Path, epochs: int = 2, *extra) -> list[str]:
    return ["run", "--strategy", strategy, "--space", "nb201", "--preset", "tiny", "--epochs", epochs,
            "--data-dir", cifar_dir, "--out", out, "--device", "cpu", "--seed", 3, *SMALL, *extra]  # fmt: skip


@pytest.mark.parametrize("strategy", ["mdenas"])  # every strategy × nb201 is in tests/test_every_pair.py
def test_a_search_writes_the_benchmark_string_and_its_ground_truth(tmp_path, cifar_dir, strategy):
    out = tmp_path / strategy
    result = invoke(*search(strategy, out, cifar_dir))
    assert result.exit_code == 0, result.output
    arch = json.loads((out / "arch.json").read_text())
    assert arch["space"] == "nb201" and arch["arch"].startswith("|") and arch["arch"].count("+") == 2
    summary = json.loads((out / "summary.json").read_text())
    truth = table_row(arch["arch"])
    record = summary["benchmark"]
    for dataset, value in truth.items():
        assert record[dataset] == round(value, 3)  # the table's row, to the 3 decimals the record keeps
        assert record[f"regret_{dataset}"] >= 0
    assert record["regret_cifar10"] == pytest.approx(94.373 - truth["cifar10"], abs=1e-3)
    assert "NAS-Bench-201" in record["source"]
    assert "benchmark.cifar10" in result.output  # the summary on screen shows it


@pytest.mark.parametrize(
    "arch,params,mult_adds",
    [
        (BEST, 1_073_466, 153_272_960),
        (SKIPS, 73_306, 7_783_040),
        (BEST.replace("skip_connect~0", "none~0"), None, None),
    ],
)
def test_train_epochs_zero_gives_the_benchmarks_counts_and_record_for_a_cell_string(tmp_path, arch, params, mult_adds):
    out = tmp_path / "train"
    result = invoke("train", "--arch", arch, "--epochs", 0, "--out", out, "--device", "cpu", "--data-dir", tmp_path)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    if params is not None:
        assert (summary["params"], summary["flops"]) == (params, mult_adds)
    assert summary["benchmark"]["cifar10"] == round(table_row(arch)["cifar10"], 3)
    assert json.loads((out / "arch.json").read_text())["arch"] == arch


@pytest.mark.parametrize(
    "args,message",
    [
        (["--arch", BEST.replace("nor_conv_1x1~2", "conv_5x5~2")], "conv_5x5"),
        (["--arch", BEST.replace("nor_conv_1x1~2", "nor_conv_1x1~3")], "~3"),
        (["--arch", BEST.replace("|+|skip_connect~0", "|skip_connect~0")], "+"),
        (["--arch", BEST[:-1] + "|avg_pool_3x3~2|"], "node 3"),
        (["--arch", BEST, "--space", "darts"], "not of 'darts'"),
    ],
)
def test_a_bad_cell_string_is_one_line_and_exit_1(tmp_path, args, message):
    out = tmp_path / "train"
    result = invoke("train", *args, "--epochs", 0, "--out", out, "--device", "cpu")
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and message in lines[0], result.output
    assert "Traceback" not in result.output and not out.exists()


def test_a_space_without_a_table_has_no_benchmark_record(tmp_path):
    out = tmp_path / "darts"
    result = invoke("train", "--arch", "darts_v2", "--epochs", 0, "--out", out, "--device", "cpu",
                    "--set", "space.layers=2", "--set", "space.channels=4")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "benchmark" not in json.loads((out / "summary.json").read_text())


def test_a_killed_nb201_search_resumes_bit_identical(tmp_path, cifar_dir):
    def cli_run(args, env_extra=None):
        env = {k: v for k, v in os.environ.items() if k != "NASFRAME_PLUGINS"}
        env.update(env_extra or {})
        argv = [str(a) for a in args]
        return subprocess.run([sys.executable, "-m", "nasframe", *argv], capture_output=True, text=True, env=env)

    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert cli_run(search("mdenas", straight, cifar_dir, 3)).returncode == 0
    plugin = install_killer(tmp_path / "site")
    path = os.pathsep.join(filter(None, [str(plugin), os.environ.get("PYTHONPATH")]))
    died = cli_run(search("mdenas", killed, cifar_dir, 3), {"PYTHONPATH": path, "KILL_AFTER_EPOCH": "2"})
    assert died.returncode == -9 and not (killed / "summary.json").exists()
    resumed = cli_run(search("mdenas", killed, cifar_dir, 3) + ["--resume"])
    assert resumed.returncode == 0, resumed.stderr
    assert (killed / "arch.json").read_text() == (straight / "arch.json").read_text()
    a, b = load_file(str(straight / "checkpoint.safetensors")), load_file(str(killed / "checkpoint.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a if not k.startswith("meta"))


def test_bench_and_report_answer_on_the_ground_truth_with_reference_rows(tmp_path, cifar_dir):
    out = tmp_path / "bench"
    args = ["bench", "--strategies", "random,mdenas", "--space", "nb201", "--seeds", "0,1", "--epochs", 1,
            "--preset", "tiny", "--data-dir", cifar_dir, "--out", out, "--device", "cpu", *SMALL]  # fmt: skip
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    for row in rows:
        assert row["benchmark_accuracy"] == pytest.approx(table_row(row["arch"]["arch"])["cifar10"], abs=5e-4)
        assert row["benchmark_regret"] == pytest.approx(94.373 - row["benchmark_accuracy"], abs=1e-3)
    data = json.loads(invoke("report", out, "--format", "json").output)
    assert data["primary_metric"] == "benchmark_accuracy"
    assert {p["metric"] for p in data["pairs"]} >= {"benchmark_accuracy"}
    references = {r["reference"]: r["benchmark"]["cifar10"] for r in data["references"]}
    assert max(references.values()) == pytest.approx(94.373) and min(references.values()) == pytest.approx(54.297)
    markdown = invoke("report", out, "--format", "markdown").output
    assert "ground truth %" in markdown and "regret %" in markdown and "Reference architectures" in markdown


def test_rank_reports_kendall_tau_against_the_ground_truth(tmp_path, cifar_dir):
    out = tmp_path / "rank"
    args = ["rank", "--space", "nb201", "--evaluator", "supernet", "--samples", 5, "--epochs", 2, "--preset", "tiny",
            "--data-dir", cifar_dir, "--out", out, "--device", "cpu", *SMALL]  # fmt: skip
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    tau = json.loads((out / "tau.json").read_text())
    records = [json.loads(line) for line in (out / "rank.jsonl").read_text().splitlines()]
    assert tau["truth"] == [pytest.approx(table_row(r["arch"]["arch"])["cifar10"], abs=5e-4) for r in records]
    from nasframe.measure.rank_correlation import kendall_tau_b

    for row in tau["epochs"]:
        want = kendall_tau_b([r["val_accuracy"][row["epoch"] - 1] for r in records], tau["truth"])
        assert row["tau_truth"] == (None if want != want else pytest.approx(want))
    assert "τ vs ground truth" in result.output and "NAS-Bench-201" in result.output


def test_the_ground_truth_is_never_what_a_strategy_sees():
    """A strategy's context has no path to the table: the record is only built after the search, from arch.json."""
    space = get_registry().space("nb201")
    assert "ground_truth" not in set(dir(__import__("nasframe").SearchContext))
    assert space.ground_truth is not None
