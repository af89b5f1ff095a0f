"""A run killed at any point resumes to the same result as an uninterrupted one (bit-identical on CPU)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from nasframe.storage import checkpoint as ckpt_io
from nasframe.testing import install_killer


def nasframe_cli(args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k != "NASFRAME_PLUGINS"}
    for key, value in (env_extra or {}).items():  # PYTHONPATH is prepended to, so the checkout under test stays first
        env[key] = os.pathsep.join(filter(None, [value, env.get(key)])) if key == "PYTHONPATH" else value
    return subprocess.run([sys.executable, "-m", "nasframe", *args], capture_output=True, text=True, env=env)


def search_args(strategy, out, cifar_dir, epochs=3):
    return [
        "run",
        "--strategy",
        strategy,
        "--space",
        "darts",
        "--preset",
        "tiny",
        "--epochs",
        str(epochs),
        "--seed",
        "7",
        "--data-dir",
        str(cifar_dir),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--set",
        "data.limit=160",
        "--set",
        "train.batch_size=16",
    ]


def tensors(path: Path, prefixes=("strategy.", "supernet.", "optimizer.", "rng.")):
    return {k: v for k, v in load_file(str(path / "checkpoint.safetensors")).items() if k.startswith(prefixes)}


@pytest.mark.parametrize("strategy", ["random", "mdenas", "darts", "proxyless"])
def test_resume_after_sigkill_gives_identical_architecture_and_tensors(tmp_path, cifar_dir, strategy):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    # two epochs, killed after the first: the resumed epoch needs every stream, schedule and buffer restored
    assert nasframe_cli(search_args(strategy, straight, cifar_dir, epochs=2)).returncode == 0
    plugin = install_killer(tmp_path / "site")
    died = nasframe_cli(
        search_args(strategy, killed, cifar_dir, epochs=2), {"PYTHONPATH": str(plugin), "KILL_AFTER_EPOCH": "1"}
    )
    assert died.returncode == -9
    assert not (killed / "summary.json").exists()
    assert ckpt_io.load(killed / "checkpoint.safetensors").meta["epoch"] == 1
    resumed = nasframe_cli(search_args(strategy, killed, cifar_dir, epochs=2) + ["--resume"])
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((killed / "arch.json").read_text()) == json.loads((straight / "arch.json").read_text())
    a, b = tensors(straight), tensors(killed)
    assert a.keys() == b.keys() and "rng.strategy" in a
    assert any(k.startswith("strategy.") for k in a) == (strategy != "random")  # random's state is its generator
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]
    events = [json.loads(line) for line in (killed / "events.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in events] == [0, 1]


@pytest.fixture(scope="module")
def one_epoch_run(tmp_path_factory, cifar_dir):
    out = tmp_path_factory.mktemp("runs") / "base"
    args = search_args("random", out, cifar_dir, epochs=2)
    plugin = install_killer(tmp_path_factory.mktemp("site"))
    assert nasframe_cli(args, {"PYTHONPATH": str(plugin), "KILL_AFTER_EPOCH": "1"}).returncode == -9
    return out, args


def _damaged_copy(tmp_path, one_epoch_run, damage):
    base, args = one_epoch_run
    out = tmp_path / "damaged"
    shutil.copytree(base, out)
    damage(out / "checkpoint.safetensors")
    before = (out / "checkpoint.safetensors").read_bytes()
    args = [a if a != str(base) else str(out) for a in args]
    result = nasframe_cli(args + ["--resume"])
    assert (out / "checkpoint.safetensors").read_bytes() == before, "a refused checkpoint must be left untouched"
    assert result.returncode == 1 and "Traceback" not in result.stderr
    return result.stderr


def _rewrite(path, edit_meta=None, drop=None):
    ckpt = ckpt_io.load(path)
    if edit_meta:
        edit_meta(ckpt.meta)
    if drop:
        ckpt.tensors = {k: v for k, v in ckpt.tensors.items() if not k.startswith(drop)}
    ckpt.meta.pop("format", None)
    version = ckpt.meta.pop("format_version")
    from nasframe.storage.integrity import save_signed  # a well-formed file, so the check under test is reached

    save_signed(
        ckpt.tensors,
        str(path),
        metadata={
            "nasframe": json.dumps(
                {"format": "nasframe-checkpoint", "format_version": ckpt.meta.pop("_version", version), **ckpt.meta}
            )
        },
    )


def test_truncated_checkpoint_is_refused(tmp_path, one_epoch_run):
    def truncate(p):
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 2])

    assert "damaged" in _damaged_copy(tmp_path, one_epoch_run, truncate)


def test_checkpoint_of_another_format_version_is_refused(tmp_path, one_epoch_run):
    message = _damaged_copy(tmp_path, one_epoch_run, lambda p: _rewrite(p, lambda m: m.update(_version=99)))
    assert "format version 99" in message


def test_checkpoint_with_missing_tensors_is_refused(tmp_path, one_epoch_run):
    message = _damaged_copy(tmp_path, one_epoch_run, lambda p: _rewrite(p, drop="optimizer."))
    assert "missing tensors" in message


def test_checkpoint_of_another_configuration_is_refused(tmp_path, one_epoch_run):
    def other(p):
        _rewrite(p, lambda m: m.update(config_hash="0" * 16, config={**m["config"], "seed": 99}))

    message = _damaged_copy(tmp_path, one_epoch_run, other)
    assert "another configuration" in message and "seed" in message


def test_resume_with_different_options_is_refused(tmp_path, one_epoch_run):
    base, args = one_epoch_run
    out = tmp_path / "copy"
    shutil.copytree(base, out)
    args = [a if a != str(base) else str(out) for a in args]
    result = nasframe_cli(args + ["--resume", "--set", "train.lr=0.5"])
    assert result.returncode == 1 and "train.lr" in result.stderr


def test_load_run_gives_config_strategy_state_and_supernet(one_epoch_run):
    import nasframe

    run = nasframe.load_run(one_epoch_run[0])
    assert run.epoch == 1 and run.config["strategy"]["name"] == "random"
    assert run.supernet is not None and not run.supernet.training
    assert len(run.events) == 1
