"""Every input checked in one place: the issue's reproducers, each refused in one line or fixed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from nasframe.cli import _load_commands, cli
from nasframe.engine.search import SearchJob

_load_commands()

TINY = [
    "--strategy",
    "random",
    "--space",
    "darts",
    "--preset",
    "tiny",
    "--device",
    "cpu",
    "--set",
    "data.limit=120",
    "--set",
    "train.batch_size=16",
    "--set",
    "strategy.candidates=2",
]


def invoke(*args: object, debug: bool = False):
    return CliRunner().invoke(cli, [*(["--debug"] if debug else []), *map(str, args)])


def one_line_error(result, alone: bool = True) -> str:
    """The error of a failed command: exit 1, no traceback, one line (``alone``: the only output)."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("Error: ") and "Traceback" not in result.output, result.output
    assert len(lines) == 1 or not alone, result.output
    return lines[-1]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, cifar_dir) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("finished") / "run"
    args = ["run", *TINY, "--epochs", "1", "--data-dir", str(cifar_dir), "--out", str(out)]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return out, args


def copy_of(finished_run, tmp_path: Path) -> tuple[Path, list[str]]:
    base, args = finished_run
    out = tmp_path / "copy"
    shutil.copytree(base, out)
    return out, [a if a != str(base) else str(out) for a in args]


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- wrong values: refused before any folder is made or any image is read ------------------------
@pytest.mark.parametrize(
    "extra,message",
    [
        (["--set", "train.batch_size=0"], "'train.batch_size' = 0 is not allowed: it takes an integer >= 1"),
        (["--set", "train.batch_size=-4"], "'train.batch_size' = -4 is not allowed"),
        (["--set", "data.val_size=1.5"], "'data.val_size' = 1.5 is not allowed: it takes 0, a fraction below 1"),
        (["--set", "train.lr=true"], "'train.lr' = true is not allowed: it takes a number > 0"),
        (["--set", "train.grad_clip=-1"], "'train.grad_clip' = -1 is not allowed: it takes null or a number >= 0"),
        (["--set", "strategy.candidates=0"], "'strategy.candidates' = 0 is not allowed: it takes an integer >= 1"),
        (["--set", "space.name=mbconv"], "'space.name' is not settable"),
        (["--set", "strategy.name=darts"], "'strategy.name' is not settable"),
        (["--set", "train.epochs=1.5"], "'train.epochs' = 1.5 is not allowed: it takes an integer >= 0"),
        (["--set", "space.channels=5"], "'space.channels' = 5 is not allowed: it takes an even integer from 2 to 1024"),
        (["--set", "device=gpu"], "'device' = 'gpu' is not allowed: it takes auto, cpu, mps, cuda or cuda:N"),
        (["--set", "data.val_size=nan"], "'data.val_size' = 'nan' is not allowed"),
        (["--set", "train.lr=NaN"], "'train.lr' = nan is not allowed"),
        (["--set", "train.momentum=1"], "'train.momentum' = 1 is not allowed: it takes a number >= 0 and < 1"),
        (["--set", "evaluator.bn=eval"], "'evaluator.bn' = 'eval' is not allowed: it takes one of 'batch', 'running'"),
        (["--set", "evaluator.name=nope"], "unknown evaluator 'nope'; available: supernet"),
    ],
    ids=lambda v: v[1] if isinstance(v, list) else None,
)
def test_a_wrong_value_is_one_line_naming_key_value_and_what_is_allowed(tmp_path, extra, message):
    out = tmp_path / "run"
    line = one_line_error(invoke("run", *TINY, "--data-dir", tmp_path / "never-read", "--out", out, *extra))
    assert message in line
    assert not out.exists() and not (tmp_path / "never-read").exists()


def test_a_wrong_value_in_a_resumed_config_json_is_refused(tmp_path, finished_run):
    out, _ = copy_of(finished_run, tmp_path)
    config = json.loads((out / "config.json").read_text())
    config["train"]["batch_size"] = 0
    (out / "config.json").write_text(json.dumps(config))
    line = one_line_error(invoke("run", "--resume", "--out", out))
    assert "'train.batch_size' = 0" in line


def test_an_evaluator_key_is_set_and_kept_in_config_json(tmp_path, cifar_dir):
    out = tmp_path / "run"
    result = invoke("run", *TINY, "--epochs", 1, "--data-dir", cifar_dir, "--out", out, "--set", "evaluator.bn=running")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["evaluator"] == {"name": "supernet", "bn": "running"}


def test_a_config_json_written_before_a_key_was_declared_resumes_with_its_default(tmp_path, finished_run):
    out, args = copy_of(finished_run, tmp_path)
    config = json.loads((out / "config.json").read_text())
    del config["evaluator"]["bn"]
    (out / "config.json").write_text(json.dumps(config))
    assert invoke(*args, "--resume").exit_code == 0


def test_train_checks_its_keys_too(tmp_path):
    from nasframe.search_spaces.darts import ARCHS_DIR

    out = tmp_path / "train"
    line = one_line_error(
        invoke(
            "train",
            "--arch",
            ARCHS_DIR / "darts_v2.json",
            "--epochs",
            0,
            "--out",
            out,
            "--set",
            "space.drop_path=2",
        )
    )
    assert "'space.drop_path' = 2" in line and not out.exists()
    line = one_line_error(
        invoke(
            "train",
            "--arch",
            ARCHS_DIR / "darts_v2.json",
            "--epochs",
            0,
            "--out",
            out,
            "--set",
            "constraint.max_flops=5000000",
        )
    )
    assert "constraint.max_flops limits the architectures a search trains" in line and not out.exists()


# -- runs never block their retry and never lie --------------------------------------------------
@pytest.mark.parametrize("form", ["full command", "--resume --out only"])
def test_resuming_a_finished_run_with_more_epochs_is_refused_with_the_differing_key(tmp_path, finished_run, form):
    out, args = copy_of(finished_run, tmp_path)
    before = files_of(out)
    if form == "full command":
        result = invoke(*[a if a != "1" else "4" for a in args], "--resume")
    else:
        result = invoke("run", "--resume", "--out", out, "--epochs", 4)
    line = one_line_error(result)
    assert "train.epochs: saved 1, now 4" in line
    assert files_of(out) == before


def test_resuming_a_finished_run_with_the_same_settings_verifies_and_reports_it(tmp_path, finished_run):
    out, args = copy_of(finished_run, tmp_path)
    result = invoke(*args, "--resume")
    assert result.exit_code == 0, result.output
    assert "val_accuracy" in result.output


@pytest.mark.parametrize("damage", ["truncate", "garble-summary"])
def test_a_damaged_finished_run_is_reported_on_resume(tmp_path, finished_run, damage):
    out, args = copy_of(finished_run, tmp_path)
    if damage == "truncate":
        data = (out / "checkpoint.safetensors").read_bytes()
        (out / "checkpoint.safetensors").write_bytes(data[: len(data) // 2])
    else:
        (out / "summary.json").write_text("{half")
    before = files_of(out)
    line = one_line_error(invoke(*args, "--resume"))
    assert "damaged" in line
    assert files_of(out) == before


def test_an_out_that_cannot_be_created_is_one_line(tmp_path):
    line = one_line_error(invoke("run", *TINY, "--data-dir", tmp_path / "no", "--out", "/proc/nope"))
    assert "cannot create --out /proc/nope" in line


def test_a_latency_table_that_cannot_be_written_is_refused_before_timing(tmp_path, monkeypatch):
    import nasframe.measure.latency_table as latency_table

    monkeypatch.setattr(latency_table, "measure_table", lambda *a: pytest.fail("timed before checking --out"))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for out in ("/proc/table.json", blocker / "table.json"):
        line = one_line_error(
            invoke("latency", "--space", "mbconv", "--preset", "tiny", "--device", "cpu", "--out", out)
        )
        assert f"cannot create --out {out}" in line


def test_a_typo_in_the_data_dir_is_not_created_and_the_retry_proceeds(tmp_path, cifar_dir):
    out, typo = tmp_path / "run", tmp_path / "cifar-typo"
    line = one_line_error(invoke("run", *TINY, "--epochs", 1, "--data-dir", typo, "--out", out))
    assert f"--data-dir {typo} does not exist" in line
    assert not typo.exists() and not out.exists()  # the failed setup left nothing behind
    result = invoke("run", *TINY, "--epochs", 1, "--data-dir", cifar_dir, "--out", out)
    assert result.exit_code == 0, result.output


# -- one-line errors at every phase; a bug keeps its traceback ----------------------------------
def _raise(exc: BaseException):
    def fail(*args, **kwargs):
        raise exc

    return fail


@pytest.mark.parametrize(
    "method,exc,message",
    [
        ("setup", KeyboardInterrupt(), "interrupted during setup; nothing was written"),
        (
            "train_epoch",
            torch.OutOfMemoryError("CUDA out of memory"),
            "out of memory on cpu during epoch 1 at train.batch_size=16; nothing was trained",
        ),
        ("train_epoch", RuntimeError("DefaultCPUAllocator: can't allocate memory"), "train.batch_size=16"),
    ],
    ids=["ctrl-c-setup", "oom", "cpu-oom"],
)
def test_user_failures_at_any_phase_are_one_line(tmp_path, cifar_dir, monkeypatch, method, exc, message):
    monkeypatch.setattr(SearchJob, method, _raise(exc))
    out = tmp_path / "run"
    line = one_line_error(invoke("run", *TINY, "--epochs", 1, "--data-dir", cifar_dir, "--out", out), alone=False)
    assert message in line


def test_ctrl_c_while_finishing_keeps_the_checkpoint_and_resume_finishes(tmp_path, cifar_dir, monkeypatch):
    out = tmp_path / "run"
    args = ["run", *TINY, "--epochs", 1, "--data-dir", cifar_dir, "--out", out]
    with monkeypatch.context() as patch:
        patch.setattr(SearchJob, "finish", _raise(KeyboardInterrupt()))
        line = one_line_error(invoke(*args), alone=False)
    assert "keeps the checkpoint of epoch 1" in line and "--resume" in line
    result = invoke(*args, "--resume")
    assert result.exit_code == 0, result.output
    assert (out / "summary.json").exists()


def test_a_bug_keeps_its_traceback_and_debug_shows_one_for_user_errors(tmp_path, cifar_dir, monkeypatch):
    monkeypatch.setattr(SearchJob, "setup", _raise(ZeroDivisionError("a bug")))
    result = invoke("run", *TINY, "--data-dir", cifar_dir, "--out", tmp_path / "a")
    assert isinstance(result.exception, ZeroDivisionError)
    result = invoke("run", *TINY, "--set", "train.batch_size=0", "--out", tmp_path / "b", debug=True)
    from nasframe import ConfigError

    assert isinstance(result.exception, ConfigError)


@pytest.mark.parametrize(
    "extra",
    [["--set", "data.limit=5"], ["--set", "data.limit=120", "--set", "train.batch_size=33"]],
    ids=["a-3-image-batch", "an-odd-batch-size"],
)
def test_an_odd_batch_trains_in_a_process_of_its_own(tmp_path, cifar_dir, extra):
    """The issue's ``data.limit=5`` segmentation fault: oneDNN's channels-last 1x1 stride-2 weight gradient."""
    import os
    import subprocess
    import sys

    # seed 2 samples skip_connect (a FactorizedReduce) on a reduction edge, where the old form crashed
    args = [
        "run",
        "--strategy",
        "random",
        "--space",
        "darts",
        "--preset",
        "tiny",
        "--device",
        "cpu",
        "--epochs",
        "1",
        "--seed",
        "2",
        "--set",
        "strategy.candidates=2",
        *extra,
        "--data-dir",
        str(cifar_dir),
        "--out",
        str(tmp_path / "run"),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "2"}  # the crash is in oneDNN's threaded kernel
    done = subprocess.run(
        [sys.executable, "-m", "nasframe", *args], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["epochs"] == 1
