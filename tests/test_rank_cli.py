"""``nasframe rank`` end to end on the CIFAR-10 subset: the table, rank.jsonl, tau.json, the plot, resuming."""

import json

import pytest
from click.testing import CliRunner

from nasframe.cli import cli
from nasframe.engine.loop import Observer
from nasframe.interfaces.errors import NasframeError
from nasframe.studies.rank import open_study, train_study, write_results

SAMPLES, EPOCHS = 3, 2
SETS = {"data.limit": 128, "train.batch_size": 32}  # 64 training images (2 steps), 64 validation images


def rank_args(out, cifar_dir, *extra):
    args = [
        "rank",
        "--space",
        "darts",
        "--samples",
        str(SAMPLES),
        "--epochs",
        str(EPOCHS),
        "--preset",
        "tiny",
        "--seed",
        "3",
        "--device",
        "cpu",
        "--data-dir",
        str(cifar_dir),
        "--out",
        str(out),
    ]
    for key, value in SETS.items():
        args += ["--set", f"{key}={value}"]
    return args + list(extra)


def invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def study(tmp_path_factory, cifar_dir):
    out = tmp_path_factory.mktemp("rank") / "study"
    result = invoke(rank_args(out, cifar_dir))
    assert result.exit_code == 0, result.output
    return out, result.output


def test_study_writes_table_records_tau_and_plot(study):
    out, output = study
    assert "τ (val acc)" in output and "p_τ (val acc)" in output and "mean" in output
    assert "0.474" in output and "not" in output and "comparable" in output
    records = read_jsonl(out / "rank.jsonl")
    assert [r["index"] for r in records] == list(range(SAMPLES))
    for r in records:
        assert r["arch"]["space"] == "darts" and len(r["arch"]["normal"]) == 8
        assert len(r["val_accuracy"]) == EPOCHS and len(r["val_loss"]) == EPOCHS
        assert all(0 <= a <= 1 for a in r["val_accuracy"]) and all(loss > 0 for loss in r["val_loss"])
        # trained on the training part, validated on the held-out part of the training set
        events = read_jsonl(out / "archs" / str(r["index"]) / "events.jsonl")
        assert [e["val_accuracy"] for e in events] == r["val_accuracy"]
        assert not any("test_accuracy" in e for e in events)
        summary = json.loads((out / "archs" / str(r["index"]) / "summary.json").read_text())
        assert summary["val_accuracy"] == r["val_accuracy"][-1] and "test_accuracy" not in summary
        config = json.loads((out / "archs" / str(r["index"]) / "config.json").read_text())
        assert config["arch"] == r["arch"] and config["data"]["limit"] == 128
    tau = json.loads((out / "tau.json").read_text())
    assert [row["epoch"] for row in tau["epochs"]] == [1, 2]
    assert tau["epochs"][-1]["tau"] == 1.0 and tau["epochs"][-1]["p_tau"] == 1.0
    first = tau["epochs"][0]
    for row_name in ("tau", "mean_tau"):
        value = first["tau"] if row_name == "tau" else tau["mean_tau"]
        assert value is None or -1 <= value <= 1
    if first["tau"] is not None:
        assert f"{first['tau']:.3f}" in output
    pytest.importorskip("matplotlib")
    assert (out / "rank.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "rank.png" in output


def test_report_re_renders_a_ranking_study_in_every_format(study):
    out, output = study
    tau = json.loads((out / "tau.json").read_text())
    table = invoke(["report", str(out)])
    assert table.exit_code == 0, table.output
    assert "τ (val acc)" in table.output and "0.474" in table.output
    markdown = invoke(["report", str(out), "--format", "markdown"]).output
    assert "| epoch | τ (val acc) |" in markdown and markdown.count("\n| ") >= 2 + len(tau["epochs"])
    data = json.loads(invoke(["report", str(out), "--format", "json"]).output)
    assert data["kind"] == "rank" and data["tau"] == tau
    csv = invoke(["report", str(out), "--format", "csv"]).output
    assert csv.splitlines()[0].startswith("epoch,tau,p_tau") and "\nmean," in csv


def test_rerun_skips_finished_archs_and_other_settings_are_refused(study, cifar_dir):
    out, output = study
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("archs/*/*")}
    again = invoke(rank_args(out, cifar_dir))
    assert again.exit_code == 0, again.output
    assert {p: p.stat().st_mtime_ns for p in out.glob("archs/*/*")} == stamps  # nothing retrained or rewritten
    assert "done, skipped" in again.output
    refused = CliRunner().invoke(cli, rank_args(out, cifar_dir, "--set", "train.lr=0.07"))
    assert refused.exit_code == 1
    assert "other settings (train.lr: saved 0.05, now 0.07)" in refused.output
    assert "Traceback" not in refused.output


class Interrupt(Observer):
    """Stops the study like Ctrl-C after arch ``index``'s first epoch (its checkpoint is written)."""

    def __init__(self, index):
        self.index = index

    def on_epoch_end(self, run, epoch, metrics):
        if run.path.name == str(self.index) and epoch == 0:
            raise KeyboardInterrupt


def test_interrupted_study_resumes_to_the_same_numbers(study, tmp_path, cifar_dir):
    out, _ = study
    overrides = {"train.epochs": EPOCHS, "seed": 3, "device": "cpu", "data.dir": str(cifar_dir), **SETS}
    settings = ("darts", SAMPLES, "scratch", "tiny", overrides)
    resumed = tmp_path / "resumed"
    with pytest.raises(NasframeError, match=r"interrupted; .* archs/1\. Continue with the same command and --out"):
        train_study(open_study(resumed, *settings), [Interrupt(1)])
    assert (resumed / "archs" / "0" / "summary.json").exists()
    assert not (resumed / "archs" / "1" / "summary.json").exists()
    assert len(read_jsonl(resumed / "archs" / "1" / "events.jsonl")) == 1
    assert not (resumed / "archs" / "2").exists()
    first = (resumed / "archs" / "0" / "summary.json").stat().st_mtime_ns
    reopened = open_study(resumed, *settings)
    write_results(reopened, train_study(reopened))
    assert (resumed / "archs" / "0" / "summary.json").stat().st_mtime_ns == first  # skipped, not retrained
    assert [e["epoch"] for e in read_jsonl(resumed / "archs" / "1" / "events.jsonl")] == [0, 1]
    # bit-identical to the uninterrupted study on the CPU
    assert read_jsonl(resumed / "rank.jsonl") == read_jsonl(out / "rank.jsonl")
    assert json.loads((resumed / "tau.json").read_text()) == json.loads((out / "tau.json").read_text())


def test_supernet_evaluator(tmp_path, cifar_dir):
    out = tmp_path / "supernet"
    result = invoke(rank_args(out, cifar_dir, "--evaluator", "supernet"))
    assert result.exit_code == 0, result.output
    assert "τ (val acc)" in result.output
    records = read_jsonl(out / "rank.jsonl")
    assert len(records) == SAMPLES and all(len(r["val_accuracy"]) == EPOCHS for r in records)
    events = read_jsonl(out / "supernet" / "events.jsonl")
    assert [len(e["val_accuracy"]) for e in events] == [SAMPLES] * EPOCHS
    assert json.loads((out / "supernet" / "config.json").read_text())["archs"] == [r["arch"] for r in records]
    assert not (out / "archs").exists()
    tau = json.loads((out / "tau.json").read_text())
    assert tau["evaluator"] == "supernet" and len(tau["epochs"]) == EPOCHS
