"""Issue 28, "nothing lost, nothing silently wrong": every fault below is refused in one line, or survived.

Checkpoints carry their sha256, every file kind has one checking reader, a run folder has one process,
SIGTERM is Ctrl-C, user OS errors are one line, data and latency tables are checked, a diverged loss
stops the run, and no JSON file holds NaN.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

import nasframe
from nasframe.cli import _load_commands, cli
from nasframe.engine.loop import Run
from nasframe.interfaces.errors import CheckpointError, ConfigError
from nasframe.storage import checkpoint as ckpt_io
from nasframe.storage.lock import LOCK_FILE
from nasframe.testing import install_killer, install_plugin

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
    "--seed",
    "3",
    "--set",
    "data.limit=64",
    "--set",
    "train.batch_size=16",
]


def invoke(*args: object):
    return CliRunner().invoke(cli, [*map(str, args)])


def one_line_error(result) -> str:
    """The error of a failed command: exit 1, no traceback, ending in one ``Error:`` line."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.output.strip().splitlines()
    assert lines and lines[-1].startswith("Error: ") and "Traceback" not in result.output, result.output
    return lines[-1]


def subprocess_cli(args, env_extra=None, **kwargs):
    env = {k: v for k, v in os.environ.items() if k != "NASFRAME_PLUGINS"}
    env["OMP_NUM_THREADS"] = "1"
    for key, value in (env_extra or {}).items():
        env[key] = os.pathsep.join(filter(None, [value, env.get(key)])) if key == "PYTHONPATH" else value
    return subprocess.Popen(
        [sys.executable, "-m", "nasframe", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity, which standard JSON does not have."""

    def refuse(name):
        raise ValueError(f"{name} in a JSON file")

    return json.loads(text, parse_constant=refuse)


def copy_run(base: Path, args: list[str], dest: Path) -> tuple[Path, list[str]]:
    shutil.copytree(base, dest)
    return dest, [a if a != str(base) else str(dest) for a in args]


@pytest.fixture(scope="module")
def finished(tmp_path_factory, cifar_dir):
    """One finished 2-epoch search, shared (copied before any damage)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    args = ["run", *TINY, "--epochs", 2, "--data-dir", cifar_dir, "--out", out]
    args = [str(a) for a in args]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "random on darts: 2 epochs" in result.output
    return out, args


# -- 1. checkpoint integrity --------------------------------------------------------------------
def flip(path: Path, at: int, mask: int = 0x01) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= mask
    path.write_bytes(bytes(data))


def test_a_flipped_tensor_byte_is_refused_by_resume_load_run_and_load(tmp_path, finished):
    out, args = copy_run(*finished, tmp_path / "copy")
    flip(out / "checkpoint.safetensors", -3)  # inside the last tensor: safetensors alone would load it
    load_file(str(out / "checkpoint.safetensors"))  # (it does)
    before = out.joinpath("checkpoint.safetensors").read_bytes()
    line = one_line_error(invoke(*args, "--resume"))
    assert "checkpoint.safetensors is damaged" in line and "sha256" in line and "new --out" in line
    with pytest.raises(CheckpointError, match="does not match its sha256"):
        nasframe.load_run(out)
    with pytest.raises(CheckpointError, match="does not match its sha256"):
        ckpt_io.load(out / "checkpoint.safetensors")
    assert out.joinpath("checkpoint.safetensors").read_bytes() == before  # refused, never replaced


def test_an_unfinished_run_with_a_damaged_checkpoint_does_not_start_again_from_nothing(tmp_path, finished):
    out, args = copy_run(*finished, tmp_path / "copy")
    (out / "summary.json").unlink()
    flip(out / "checkpoint.safetensors", -3)
    line = one_line_error(invoke(*args, "--resume"))
    assert "damaged" in line
    assert not (out / "summary.json").exists()
    assert [json.loads(x)["epoch"] for x in (out / "events.jsonl").read_text().splitlines()] == [0, 1]


def test_an_unfinished_run_whose_checkpoint_was_deleted_is_refused_not_restarted(tmp_path, finished):
    out, args = copy_run(*finished, tmp_path / "copy")
    (out / "summary.json").unlink()
    (out / "checkpoint.safetensors").unlink()
    line = one_line_error(invoke(*args, "--resume"))
    assert "events.jsonl records trained epochs but checkpoint.safetensors is missing" in line
    assert not (out / "checkpoint.safetensors").exists()


def test_a_checkpoint_without_a_digest_is_refused_with_what_to_do(tmp_path, finished):
    out, args = copy_run(*finished, tmp_path / "copy")
    path = out / "checkpoint.safetensors"
    ckpt = ckpt_io.load(path)
    save_file(ckpt.tensors, str(path), metadata={"nasframe": json.dumps({**ckpt.meta, "format_version": 1})})
    line = one_line_error(invoke(*args, "--resume"))
    assert "has no integrity digest" in line and "older nasframe" in line


@pytest.fixture(scope="module")
def pristine_checkpoint(finished) -> bytes:
    return (finished[0] / "checkpoint.safetensors").read_bytes()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), header_intact=st.booleans())
def test_any_flipped_bytes_of_a_checkpoint_are_a_one_line_refusal(finished, pristine_checkpoint, data, header_intact):
    base, args = finished
    header_end = 8 + int.from_bytes(pristine_checkpoint[:8], "little")
    low = header_end if header_intact else 0
    positions = data.draw(
        st.lists(st.integers(low, len(pristine_checkpoint) - 1), min_size=1, max_size=4, unique=True), "positions"
    )
    masks = data.draw(st.lists(st.integers(1, 255), min_size=len(positions), max_size=len(positions)), "masks")
    with tempfile.TemporaryDirectory() as tmp:
        out, run_args = copy_run(base, args, Path(tmp) / "run")
        damaged = bytearray(pristine_checkpoint)
        for at, mask in zip(positions, masks):
            damaged[at] ^= mask
        (out / "checkpoint.safetensors").write_bytes(bytes(damaged))
        line = one_line_error(invoke(*run_args, "--resume"))
        assert "checkpoint.safetensors" in line, line


def test_exported_weights_are_verified_by_load_model(tmp_path, finished, cifar_dir):
    out = tmp_path / "trained"
    result = invoke(
        "train",
        "--arch",
        finished[0] / "arch.json",
        "--preset",
        "tiny",
        "--device",
        "cpu",
        "--epochs",
        1,
        "--data-dir",
        cifar_dir,
        "--out",
        out,
        "--set",
        "data.limit=32",
        "--set",
        "data.test_limit=16",
        "--set",
        "train.batch_size=16",
    )
    assert result.exit_code == 0, result.output
    assert not nasframe.load_model(out).training
    flip(out / "model.safetensors", -2)
    with pytest.raises(CheckpointError, match="model weights .* is damaged"):
        nasframe.load_model(out)
    # a training run is not a search run: resuming it as one says so, and the other way round
    line = one_line_error(invoke(*finished[1], "--out", out, "--resume"))
    assert "holds a training run" in line and "nasframe train --resume" in line
    line = one_line_error(
        invoke("train", "--arch", finished[0] / "arch.json", "--preset", "tiny", "--out", finished[0], "--resume")
    )
    assert "holds a search run (random on darts)" in line and "nasframe run --resume" in line


# -- 2. one reader per file kind ----------------------------------------------------------------
@pytest.mark.parametrize(
    "file,content,message",
    [
        ("config.json", "[1, 2]", "config.json holds a list"),
        ("summary.json", '"done"', "summary.json holds a string"),
        ("events.jsonl", None, "events.jsonl line 2 is not valid JSON"),
        ("events.jsonl", '{"epoch": 0}\n[]\n', "events.jsonl line 2 holds a list"),
        ("arch.json", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("arch.json", "", "no architecture file at"),
    ],
    ids=["config-list", "summary-string", "events-torn", "events-row-list", "arch-deep", "arch-deleted"],
)
def test_a_run_file_of_the_wrong_shape_is_one_line_naming_it(tmp_path, finished, file, content, message):
    out, args = copy_run(*finished, tmp_path / "copy")
    if content is None:  # a garbled last line (nasframe rewrites the file whole, so no kill leaves one)
        text = (out / file).read_text()
        (out / file).write_text(text[: len(text) - 40])
    elif file == "arch.json" and content == "":
        (out / file).unlink()
    else:
        (out / file).write_text(content)
    line = one_line_error(invoke(*args, "--resume"))
    assert message in line and str(out) in line, line


def test_an_unfinished_runs_garbled_epoch_log_is_refused_not_dropped(tmp_path, finished):
    out, args = copy_run(*finished, tmp_path / "copy")
    (out / "summary.json").unlink()
    (out / "events.jsonl").write_text((out / "events.jsonl").read_text()[:-30])
    line = one_line_error(invoke(*args, "--resume"))
    assert "events.jsonl line 2 is not valid JSON" in line


def test_a_finished_run_without_its_arch_is_damaged_for_load_run_too(tmp_path, finished):
    out, _ = copy_run(*finished, tmp_path / "copy")
    (out / "arch.json").unlink()
    with pytest.raises(nasframe.NasframeError, match="no architecture"):
        nasframe.load_run(out)


def test_bench_files_of_the_wrong_shape_are_one_line(tmp_path):
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "bench.json").write_text("[]")
    line = one_line_error(invoke("report", bench))
    assert "bench.json holds a list" in line
    (bench / "bench.json").write_text('{"settings": {}, "trials": []}')
    (bench / "results.jsonl").write_text('{"strategy": "random", "seed": 0, "trial": "trials/random-0"}\n{"seed": 1}\n')
    line = one_line_error(invoke("report", bench))
    assert "results.jsonl line 2 is not a whole bench results (results.jsonl) row: it has no 'strategy'" in line
    (bench / "results.jsonl").write_text("3\n")
    assert "results.jsonl line 1 holds a number" in one_line_error(invoke("report", bench))


def test_report_of_a_run_whose_summary_is_a_list_is_one_line(tmp_path, finished):
    out, _ = copy_run(*finished, tmp_path / "copy")
    (out / "summary.json").write_text("[]")
    assert "summary.json holds a list" in one_line_error(invoke("report", out))


def test_an_arch_too_deep_for_the_parser_is_one_line_for_train(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text('{"space": "darts", "normal": ' + "[" * 200_000 + "]" * 200_000 + "}")
    line = one_line_error(invoke("train", "--arch", deep, "--preset", "tiny", "--out", tmp_path / "out"))
    assert "deep.json is nested too deeply" in line
    assert not (tmp_path / "out").exists()


# -- 3. one process per run folder --------------------------------------------------------------
WAITER = """
import os, time
import nasframe

@nasframe.hookimpl
def on_run_start(run):
    deadline = time.time() + 120
    while not os.path.exists(os.environ["GO_FILE"]) and time.time() < deadline:
        time.sleep(0.05)
"""


def test_two_processes_on_one_fresh_out_exactly_one_runs(tmp_path, cifar_dir):
    plugin = install_plugin(tmp_path / "site", "waiter", {"waiter": "waiter_plugin"}, {"waiter_plugin": WAITER})
    out, go = tmp_path / "run", tmp_path / "go"
    args = ["run", *TINY, "--epochs", 1, "--data-dir", cifar_dir, "--out", out]
    env = {"PYTHONPATH": str(plugin), "GO_FILE": str(go)}
    procs = [subprocess_cli(args, env), subprocess_cli(args, env)]
    try:
        first_done = None
        deadline = time.time() + 120
        while first_done is None and time.time() < deadline:  # the loser ends on its own; the holder waits for GO
            first_done = next((p for p in procs if p.poll() is not None), None)
            time.sleep(0.1)
        assert first_done is not None
        holder = next(p for p in procs if p is not first_done)
        _, err = first_done.communicate()
        assert first_done.returncode == 1, err
        assert f"is in use by pid {holder.pid}" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert (out / LOCK_FILE).read_text().strip() == str(holder.pid)
        go.write_text("")
        _, err = holder.communicate(timeout=180)
        assert holder.returncode == 0, err
    finally:
        go.write_text("")
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert (out / "summary.json").exists() and not (out / LOCK_FILE).exists()


def test_a_killed_run_leaves_no_stale_lock(tmp_path, finished, cifar_dir):
    plugin = install_killer(tmp_path / "site")
    out = tmp_path / "killed"
    args = [a if a != str(finished[0]) else str(out) for a in finished[1]]
    proc = subprocess_cli(args, {"PYTHONPATH": str(plugin), "KILL_AFTER_EPOCH": "1"})
    proc.communicate(timeout=180)
    assert proc.returncode == -9
    assert (out / LOCK_FILE).read_text().strip() == str(proc.pid)  # the file stays; the kernel dropped the lock
    result = invoke(*args, "--resume")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "arch.json").read_text()) == json.loads((finished[0] / "arch.json").read_text())


@pytest.mark.parametrize("command", ["run", "train", "bench", "rank"])
def test_every_command_that_writes_a_folder_refuses_a_held_one(tmp_path, finished, cifar_dir, command):
    from nasframe.storage.lock import hold

    out = tmp_path / "held"
    common = ["--preset", "tiny", "--device", "cpu", "--data-dir", cifar_dir, "--out", out]
    args = {
        "run": ["run", *TINY, "--data-dir", cifar_dir, "--out", out],
        "train": ["train", "--arch", finished[0] / "arch.json", *common],
        "bench": ["bench", "--strategies", "random", "--seeds", "0", "--epochs", 1, *common],
        "rank": ["rank", "--samples", 2, "--epochs", 1, *common],
    }[command]
    with hold(out):  # this test process holds it, as another nasframe would
        line = one_line_error(invoke(*args))
        assert f"--out {out} is in use by pid {os.getpid()}" in line
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]
    assert not out.exists()  # the holder made it and left it empty


def test_a_failed_setup_leaves_no_folder_and_no_lock(tmp_path):
    out = tmp_path / "run"
    line = one_line_error(invoke("run", *TINY, "--epochs", 1, "--data-dir", tmp_path / "typo", "--out", out))
    assert "does not exist" in line and not out.exists()


# -- 7. SIGTERM and SIGUSR1 are Ctrl-C ---------------------------------------------------------
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR1], ids=["SIGTERM", "SIGUSR1"])
def test_a_stop_signal_mid_epoch_then_resume_gives_the_uninterrupted_result(tmp_path, finished, monkeypatch, signum):
    out, args = tmp_path / "stopped", None
    args = [a if a != str(finished[0]) else str(out) for a in finished[1]]
    step_done = Run.step_done

    def signal_mid_epoch_2(self, step, steps):
        step_done(self, step, steps)
        if self.epoch == 1 and step == 2:
            os.kill(os.getpid(), signum)  # delivered to this process's real handler, as Slurm's would be

    with monkeypatch.context() as patch:
        patch.setattr(Run, "step_done", signal_mid_epoch_2)
        line = one_line_error(invoke(*args))
    name = signal.Signals(signum).name
    assert f"stopped by {name}; {out} keeps the checkpoint of epoch 1" in line and "--resume --out" in line
    assert signal.getsignal(signum) is not None and signal.getsignal(signum).__module__ != "nasframe.engine.signals"
    assert ckpt_io.load(out / "checkpoint.safetensors").meta["epoch"] == 1
    result = invoke(*args, "--resume")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "arch.json").read_text()) == json.loads((finished[0] / "arch.json").read_text())
    a, b = load_file(str(finished[0] / "checkpoint.safetensors")), load_file(str(out / "checkpoint.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["val_accuracy"] == json.loads((finished[0] / "summary.json").read_text())["val_accuracy"]


def test_sigterm_from_outside_exits_1_with_the_resume_hint(tmp_path, cifar_dir):
    plugin = install_plugin(tmp_path / "site", "waiter", {"waiter": "waiter_plugin"}, {"waiter_plugin": WAITER})
    out = tmp_path / "run"
    proc = subprocess_cli(
        ["run", *TINY, "--epochs", 1, "--data-dir", cifar_dir, "--out", out],
        {"PYTHONPATH": str(plugin), "GO_FILE": str(tmp_path / "never")},
    )
    deadline = time.time() + 120
    while not (out / "config.json").exists() and time.time() < deadline:  # the run waits in on_run_start
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert (
        f"Error: stopped by SIGTERM; {out} holds its config, no epoch yet" in err
        and f"--resume --out {out}" in err
        and "Traceback" not in err
    )
    assert not (out / LOCK_FILE).exists()


# -- 4. the user's OS errors --------------------------------------------------------------------
@pytest.mark.parametrize("option", ["--out", "--data-dir", "--arch"])
def test_a_name_too_long_for_the_file_system_is_one_line(tmp_path, cifar_dir, option):
    long = tmp_path / ("n" * 300)
    if option == "--arch":
        result = invoke("train", "--arch", long / "arch.json", "--preset", "tiny", "--out", tmp_path / "o")
    else:
        values = {"--out": tmp_path / "o", "--data-dir": cifar_dir, option: long}
        result = invoke("run", *TINY, "--epochs", 1, "--data-dir", values["--data-dir"], "--out", values["--out"])
    line = one_line_error(result)
    assert "too long" in line and len(line) < 200, line


def test_a_full_disk_while_writing_a_checkpoint_is_one_line_and_keeps_the_last_one(tmp_path, finished, monkeypatch):
    from safetensors import SafetensorError

    import nasframe.storage.integrity as integrity

    out = tmp_path / "full"
    args = [a if a != str(finished[0]) else str(out) for a in finished[1]]
    real = integrity.save_file
    calls = []

    def full_on_second(tensors, path, metadata=None):
        calls.append(path)
        if len(calls) == 2:
            real(tensors, path, metadata=metadata)  # the disk fills up part-way through
            raise SafetensorError(
                'Error while serializing: I/O error: IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })'
            )
        return real(tensors, path, metadata=metadata)

    monkeypatch.setattr(integrity, "save_file", full_on_second)
    line = one_line_error(invoke(*args))
    assert f"cannot write {out / 'checkpoint.safetensors'}: No space left on device; the file is as it was" in line
    assert ckpt_io.load(out / "checkpoint.safetensors").meta["epoch"] == 1  # the last good one, verified
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.undo()
    assert invoke(*args, "--resume").exit_code == 0


def test_an_empty_data_dir_is_refused_not_replaced_by_the_default(tmp_path):
    line = one_line_error(invoke("run", *TINY, "--epochs", 1, "--data-dir", "", "--out", tmp_path / "o"))
    assert "'data.dir' = '' is not allowed" in line and not (tmp_path / "o").exists()


def test_run_files_honour_the_umask(tmp_path, finished):
    for name in ("config.json", "checkpoint.safetensors", "events.jsonl", "summary.json", "arch.json"):
        mode = (finished[0] / name).stat().st_mode & 0o777
        assert mode == 0o666 & ~_umask(), (name, oct(mode))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# -- 5. data files that unpickle but are not CIFAR batches --------------------------------------
def _bad_cifar(root: Path, batch: object, raw: bytes | None = None) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    good = {b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 3]}
    (folder / "data_batch_1").write_bytes(raw if raw is not None else pickle.dumps(batch, protocol=2))
    (folder / "test_batch").write_bytes(pickle.dumps(good, protocol=2))
    return root


class _BadDtype:
    def __reduce__(self):
        return (np.dtype, ("no-such-type",))


@pytest.mark.parametrize(
    "batch,message",
    [
        ({b"data": "pixels", b"labels": [0]}, "'data' is a str"),
        ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, "'data' is an array of float32"),
        ({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, "shape [2, 100]"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0.5, 1.0]}, "not a list of whole-number"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "2 images but 1 labels"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 300]}, "labels outside 0..9"),
        ({b"data": np.zeros((2, 3072), np.uint8)}, "no 'labels' entry"),
        ({b"data": _BadDtype(), b"labels": []}, "TypeError"),
        ([1, 2], "holds a list, not a dict"),
    ],
    ids=["str", "float", "shape", "float-labels", "count", "range", "no-labels", "rejected-args", "list"],
)
def test_a_batch_that_unpickles_but_is_not_cifar_is_one_line_naming_the_file(tmp_path, batch, message):
    data = _bad_cifar(tmp_path / "data", batch)
    line = one_line_error(invoke("run", *TINY, "--epochs", 1, "--data-dir", data, "--out", tmp_path / "o"))
    assert "data_batch_1 is not a CIFAR-10 batch file" in line and message in line, line
    assert not (tmp_path / "o").exists()


# -- 6. numbers nobody checked ------------------------------------------------------------------
@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda t, d, c: t["choices_us"][d].update({c: -3.0}), "is not a time >= 0"),
        (lambda t, d, c: t["choices_us"][d].update({c: "fast"}), "= fast is not a time >= 0"),
        (lambda t, d, c: t.update(fixed_us=None), "fixed_us = None is not a time >= 0"),
    ],
    ids=["negative", "text", "missing-fixed"],
)
def test_a_latency_table_with_timings_that_are_not_times_is_refused(tmp_path, edit, message):
    from nasframe.config import resolve
    from nasframe.measure.latency_table import measure_table, read_table
    from nasframe.registry import get_registry

    space = get_registry().build_space(resolve(get_registry().space("mbconv"), None, "tiny"))
    table = measure_table(space, torch.device("cpu"), 1)
    decision = space.decisions[0]
    edit(table, decision.name, decision.choices[0])
    path = tmp_path / "table.json"
    path.write_text(json.dumps(table))
    with pytest.raises(ConfigError, match=message):
        read_table(path, space, torch.device("cpu"), 1)


def test_a_diverging_run_stops_in_one_line_and_no_json_holds_nan(tmp_path, cifar_dir):
    common = ["run", *TINY, "--epochs", 2, "--data-dir", cifar_dir, "--set", "train.lr=1e30"]
    line = one_line_error(invoke(*common, "--out", tmp_path / "stopped"))
    assert "epoch 1: the loss is not a number" in line and "train.lr=1e+30" in line and "too high" in line
    assert "train.nonfinite=continue" in line
    assert not (tmp_path / "stopped" / "checkpoint.safetensors").exists()
    out = tmp_path / "continued"
    result = invoke(*common, "--set", "train.nonfinite=continue", "--out", out)
    assert result.exit_code == 0, result.output
    events = [strict_json(x) for x in (out / "events.jsonl").read_text().splitlines()]
    assert events[0]["train_loss"] is None  # NaN is unknown: null
    for name in ("config.json", "summary.json", "arch.json"):
        strict_json((out / name).read_text())
    assert strict_json(json.dumps(ckpt_io.load(out / "checkpoint.safetensors").meta["config"]))


def test_a_search_of_zero_epochs_is_refused(tmp_path, cifar_dir):
    line = one_line_error(invoke("run", *TINY, "--epochs", 0, "--data-dir", cifar_dir, "--out", tmp_path / "o"))
    assert "a search needs at least 1 epoch" in line and not (tmp_path / "o").exists()


# -- 8. messages that name the real cause -------------------------------------------------------
def test_resuming_with_another_strategy_names_the_strategy(tmp_path, finished):
    out, args = copy_run(*finished, tmp_path / "copy")
    args = [a if a != "random" else "mdenas" for a in args]
    line = one_line_error(invoke(*args, "--resume"))
    assert "holds a search run (random on darts)" in line and "--strategy random" in line
    assert "unknown config key" not in line


def test_resume_without_out_asks_for_out():
    line = one_line_error(invoke("run", "--strategy", "random", "--space", "darts", "--resume"))
    assert line == "Error: --resume needs --out: the run folder to continue"
    line = one_line_error(invoke("train", "--arch", "darts_v2", "--resume"))
    assert "--resume needs --out" in line


def test_arch_given_a_run_folder_says_which_file_to_pass(finished):
    line = one_line_error(invoke("train", "--arch", finished[0], "--preset", "tiny"))
    assert f"pass {finished[0] / 'arch.json'}" in line


def test_a_seed_too_large_names_the_real_limit_also_in_nasframe_config():
    line = one_line_error(invoke("run", *TINY, "--seed", 2**64))
    assert "<= 9223372036854775807" in line
    listing = invoke("config")
    assert listing.exit_code == 0 and "9223372036854775807" in listing.output.replace("\n", "").replace(" ", "")


@pytest.mark.parametrize("setting", ["train.schedule=" + "x" * 5000, "train." + "y" * 5000 + "=1"])
def test_a_very_long_value_or_key_is_cut_in_the_message(setting):
    line = one_line_error(invoke("run", *TINY, "--set", setting))
    assert "…" in line and len(line) < 300, line


def test_a_search_whose_distribution_is_undecided_warns_as_the_bench_does(tmp_path, cifar_dir):
    args = [a if a != "random" else "mdenas" for a in TINY]
    result = invoke("run", *args, "--epochs", 1, "--data-dir", cifar_dir, "--out", tmp_path / "md")
    assert result.exit_code == 0, result.output
    assert "Warning: mdenas learned from 1 feedback sample(s) per decision but each decision has 8 choices" in (
        result.output
    )
    final = json.loads((tmp_path / "md" / "summary.json").read_text())["val_accuracy"]
    last = json.loads((tmp_path / "md" / "events.jsonl").read_text().splitlines()[-1])["val_accuracy"]
    note = f"Note: the final architecture's validation accuracy is {100 * final:.2f} %; the last epoch's"
    assert (note in result.output) == (abs(final - last) >= 5e-5), result.output
