import sys
import types
from pathlib import Path

import pytest

import nasframe
from nasframe.plugins import tensorboard as tb
from nasframe.registry import get_registry
from nasframe.testing import tiny_search

EPOCH = {
    "epoch": 0,
    "train_loss": 2.5,
    "val_accuracy": 0.25,
    "images": 100,
    "arch": {"normal.node0.from0": "skip"},
    "strategy": {"entropy": 1.5},
    "flag": True,
    "note": "text",
}


FAST = {"data.limit": 200, "strategy.candidates": 2, "strategy.top": 1}
"""A tiny search that spends its seconds on the epochs, not on screening candidates."""


class FakeRun:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.epoch = 1


@pytest.fixture
def tensorboard_missing(monkeypatch):
    """As if the tensorboard package were not installed, with the once-per-process hint not yet shown."""
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    monkeypatch.setattr(tb, "_hint_shown", False)


def read_scalars(logdir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(logdir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_tensorboard_is_a_builtin_plugin_with_the_three_observer_hooks():
    registry = get_registry()
    assert not [p for p in registry.problems if p.plugin == "tensorboard"]
    plugins = {registry.pm.get_name(impl.plugin) for impl in registry.pm.hook.on_epoch_end.get_hookimpls()}
    assert "tensorboard" in plugins
    for hook in ("on_run_start", "on_epoch_end", "on_run_end"):
        assert callable(getattr(tb, hook))


def test_numeric_metrics_become_scalars_and_everything_else_is_left_out():
    assert dict(tb.scalars(EPOCH)) == {
        "epoch": 0.0,
        "train_loss": 2.5,
        "val_accuracy": 0.25,
        "images": 100.0,
        "strategy/entropy": 1.5,
    }


def test_nothing_is_written_unless_the_user_enables_it(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(tb.ENV, raising=False)
    run = FakeRun(tmp_path)
    tb.on_run_start(run)
    tb.on_epoch_end(run, 0, EPOCH)
    tb.on_run_end(run, {"val_accuracy": 0.3})
    assert not (tmp_path / tb.SUBDIR).exists()
    assert capsys.readouterr().err == ""


def test_only_the_process_that_writes_the_run_directory_logs(tmp_path, monkeypatch):
    pytest.importorskip("torch.utils.tensorboard", reason="the tensorboard package is not installed")
    monkeypatch.setenv(tb.ENV, "1")
    for rank, path in ((1, tmp_path / "rank1"), (0, tmp_path / "rank0")):
        run = FakeRun(path)
        run.world = types.SimpleNamespace(is_main=rank == 0)
        tb.on_run_start(run)
        tb.on_epoch_end(run, 0, EPOCH)
        tb.on_run_end(run, {"val_accuracy": 0.3})
    assert not (tmp_path / "rank1" / tb.SUBDIR).exists()
    assert set(read_scalars(tmp_path / "rank0" / tb.SUBDIR)) == {
        "train_loss",
        "val_accuracy",
        "images",
        "strategy/entropy",
        "summary/val_accuracy",
    }


def test_enabled_but_missing_prints_the_install_hint_once(tmp_path, monkeypatch, capsys, tensorboard_missing):
    monkeypatch.setenv(tb.ENV, "1")
    for i in range(2):
        run = FakeRun(tmp_path / str(i))
        tb.on_run_start(run)
        tb.on_epoch_end(run, 0, EPOCH)
        tb.on_run_end(run, {"val_accuracy": 0.3})
    err = capsys.readouterr().err
    assert err.count("pip install tensorboard") == 1
    assert not list(tmp_path.rglob(tb.SUBDIR))


def test_enabled_but_missing_search_still_completes(tmp_path, monkeypatch, capsys, tensorboard_missing, cifar_dir):
    monkeypatch.setenv(tb.ENV, "1")
    summary = tiny_search("random", "darts", tmp_path / "run", sets=FAST)
    assert summary["epochs"] == 1 and (tmp_path / "run" / "summary.json").exists()
    assert "pip install tensorboard" in capsys.readouterr().err
    assert not (tmp_path / "run" / tb.SUBDIR).exists()


def test_enabled_and_installed_writes_every_epoch_metric_as_a_scalar(tmp_path, monkeypatch, cifar_dir):
    pytest.importorskip("torch.utils.tensorboard", reason="the tensorboard package is not installed")
    monkeypatch.setenv(tb.ENV, "1")
    out = tmp_path / "run"
    summary = tiny_search("random", "darts", out, epochs=2, sets=FAST)
    assert list((out / tb.SUBDIR).glob("events.out.tfevents.*"))
    scalars = read_scalars(out / tb.SUBDIR)
    assert [step for step, _ in scalars["val_accuracy"]] == [0, 1]
    assert {"train_loss", "train_accuracy", "lr", "seconds"} <= set(scalars)
    assert scalars["summary/val_accuracy"][0][1] == pytest.approx(summary["val_accuracy"])


def test_every_trial_of_a_parallel_bench_writes_its_events(tmp_path, monkeypatch, cifar_dir):
    """Plugin hooks fire in the bench's worker processes too (one dispatch point, owned by the run)."""
    pytest.importorskip("torch.utils.tensorboard", reason="the tensorboard package is not installed")
    from click.testing import CliRunner

    from nasframe.cli import cli

    monkeypatch.setenv(tb.ENV, "1")
    out = tmp_path / "bench"
    args = ["bench", "--strategies", "random,mdenas", "--space", "darts", "--seeds", "0", "--epochs", "1"]
    args += ["--data-dir", str(cifar_dir), "--out", str(out), "--devices", "cpu,cpu", "--preset", "tiny"]
    args += ["--set", "data.limit=64", "--set", "train.batch_size=16", "--device", "cpu"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    trials = sorted((out / "trials").iterdir())
    assert [t.name for t in trials] == ["mdenas-seed0", "random-seed0"]
    for trial in trials:
        scalars = read_scalars(trial / tb.SUBDIR)
        assert [step for step, _ in scalars["val_accuracy"]] == [0] and "summary/val_accuracy" in scalars


class Interrupt:
    """A plugin that presses Ctrl-C at the end of the second epoch (registered last, pluggy calls it first: before
    TensorBoard logs that epoch)."""

    @staticmethod
    @nasframe.hookimpl
    def on_epoch_end(run, epoch, metrics):
        if epoch == 1:
            raise KeyboardInterrupt


def test_ctrl_c_closes_the_writer_and_keeps_the_logged_epochs(tmp_path, monkeypatch, cifar_dir):
    pytest.importorskip("torch.utils.tensorboard", reason="the tensorboard package is not installed")
    from torch.utils.tensorboard import SummaryWriter

    monkeypatch.setenv(tb.ENV, "1")
    closed = []
    close = SummaryWriter.close

    def recording_close(writer):
        closed.append(str(writer.log_dir))
        close(writer)

    monkeypatch.setattr(SummaryWriter, "close", recording_close)
    registry = get_registry()
    registry.pm.register(Interrupt, name="interrupt")
    try:
        with pytest.raises(nasframe.NasframeError, match="interrupted"):
            tiny_search("random", "darts", tmp_path / "run", epochs=3, sets=FAST)
    finally:
        registry.pm.unregister(name="interrupt")
    assert closed == [str(tmp_path / "run" / tb.SUBDIR)], "the writer of the interrupted run was not closed"
    scalars = read_scalars(tmp_path / "run" / tb.SUBDIR)
    assert [step for step, _ in scalars["val_accuracy"]] == [0]
    assert not any(tag.startswith("summary/") for tag in scalars)
