"""Launchers seen from the driver: settings as config keys, bad input in one line before any task starts, a
failed task that does not stop the others, and the study folder every worker must see."""

import json
import re
import socket
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from nasframe.cli import _load_commands, cli
from nasframe.interfaces.errors import NasframeError
from nasframe.interfaces.launcher import Launcher
from nasframe.registry import get_registry
from nasframe.studies import launching
from nasframe.testing import install_plugin, plugin_path

_load_commands()

SMALL = ["--preset", "tiny", "--set", "data.limit=160", "--set", "train.batch_size=16", "--device", "cpu"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def bench(out, cifar_dir, *extra, seeds="0"):
    return invoke(
        "bench", "--strategies", "random", "--space", "darts", "--seeds", seeds, "--epochs", 1,
        "--data-dir", cifar_dir, "--out", out, *SMALL, *extra,
    )  # fmt: skip


def rank(out, cifar_dir, *extra):
    return invoke(
        "rank", "--space", "darts", "--samples", 2, "--epochs", 1, "--preset", "tiny", "--device", "cpu",
        "--data-dir", cifar_dir, "--out", out, "--set", "data.limit=64", *extra,
    )  # fmt: skip


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_line_error(result, text, out):
    assert result.exit_code == 1, result.output
    assert text in result.output, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 2
    assert not (out / "trials").exists() and not (out / "archs").exists()  # no task started


def test_every_launcher_is_listed_and_its_keys_are_config_keys(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # whole key names in rich's table
    assert {"local", "ray", "slurm"} <= set(get_registry().launchers)
    assert get_registry().launcher(None).name == "local"
    result = invoke("config", "--launcher", "slurm")
    assert result.exit_code == 0
    for key in ("launcher.partition", "launcher.account", "launcher.time_min", "launcher.sbatch", "launcher.cluster"):
        assert key in result.output
    result = invoke("config", "--launcher", "ray")
    for key in ("launcher.address", "launcher.cpus_per_trial", "launcher.gpus_per_trial", "launcher.max_retries"):
        assert key in result.output


@pytest.mark.parametrize("study", [bench, rank])
@pytest.mark.parametrize(
    "extra, text",
    [
        (("--launcher", "kubernetes"), "unknown launcher 'kubernetes'; available: local, ray, slurm"),
        (("--launcher", "ray", "--set", "launcher.adress=x:1"), "did you mean launcher.address"),
        (("--launcher", "slurm", "--set", "launcher.time_min=0"), "'launcher.time_min' = 0 is not allowed"),
        (("--launcher", "slurm", "--set", "launcher.sbatch=qos"), "'launcher.sbatch' = 'qos' is not allowed"),
        (("--launcher", "ray", "--set", "launcher.address=nohost"), "is not HOST:PORT, ray://HOST:PORT or auto"),
        (("--set", "launcher.devices=cpu,gpu7"), "'launcher.devices' = 'cpu,gpu7' is not allowed"),
    ],
)
def test_bad_launcher_settings_are_one_line(study, extra, text, tmp_path, cifar_dir):
    out = tmp_path / "study"
    one_line_error(study(out, cifar_dir, *extra), text, out)


@pytest.mark.parametrize("study", [bench, rank])
def test_an_unreachable_ray_cluster_is_one_line(study, tmp_path, cifar_dir):
    out = tmp_path / "study"
    port = closed_port()
    result = study(out, cifar_dir, "--launcher", "ray", "--set", f"launcher.address=127.0.0.1:{port}")
    one_line_error(result, f"cannot reach the Ray cluster at 127.0.0.1:{port}", out)


@pytest.mark.parametrize("name, module, extra", [("ray", "ray", "ray"), ("slurm", "submitit", "slurm")])
def test_a_missing_engine_names_the_extra_to_install(name, module, extra, tmp_path, cifar_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # `import ray` raises ImportError, as when it is not installed
    out = tmp_path / "bench"
    one_line_error(bench(out, cifar_dir, "--launcher", name), f"pip install 'nasframe[{extra}]'", out)


def test_slurm_without_sbatch_is_one_line(tmp_path, cifar_dir, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here
    out = tmp_path / "bench"
    one_line_error(bench(out, cifar_dir, "--launcher", "slurm"), "sbatch, which is not on PATH", out)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the check is for a machine without CUDA")
def test_a_device_pool_naming_a_missing_gpu_is_one_line_before_any_process_starts(tmp_path, cifar_dir):
    out = tmp_path / "bench"
    one_line_error(bench(out, cifar_dir, "--devices", "cuda:0,cuda:1"), "no CUDA GPU is available", out)


_FAILER = """
import nasframe

@nasframe.hookimpl
def on_run_start(run):
    if run.config["seed"] == 1:
        raise RuntimeError("seed 1 cannot start")
"""


def test_a_failed_trial_does_not_stop_the_others_and_a_rerun_retries_only_it(tmp_path, cifar_dir):
    out = tmp_path / "bench"
    root = install_plugin(tmp_path / "plugins", "failer", {"failer": "failer_plugin"}, {"failer_plugin": _FAILER})
    with plugin_path(root):
        result = bench(out, cifar_dir, seeds="1,0")
    output = " ".join(result.output.split())  # rich wraps long lines
    assert result.exit_code == 1
    assert re.search(
        r"random-seed1 failed on \S+: RuntimeError: seed 1 cannot start \(log: \S+random-seed1.log\)", output
    )
    assert "1 of 2 trials failed (random-seed1)" in output and "Traceback" not in output
    assert [r["seed"] for r in _rows(out)] == [0]  # seed 0 ran after seed 1 failed, and its row is kept
    assert "RuntimeError: seed 1 cannot start" in (out / "logs" / "random-seed1.log").read_text()
    first = _rows(out)[0]
    result = bench(out, cifar_dir, "--launcher", "slurm", "--set", "launcher.cluster=local", seeds="1,0")
    assert result.exit_code == 0, result.output  # the rerun, on another launcher, runs only the failed trial
    assert "Launched by: local, then slurm (" in " ".join(result.output.split())
    rows = _rows(out)
    assert [r["seed"] for r in rows] == [1, 0] and rows[1] == first  # the finished trial was not run again
    launches = json.loads((out / "bench.json").read_text())["launches"]
    assert [launch["name"] for launch in launches] == ["local", "slurm"]
    assert json.loads((out / "placement" / "random-seed1.json").read_text())["attempt"] == 2


def _rows(out):
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


class Remote(Launcher):
    """A launcher whose workers are elsewhere; ``SHARES`` is what it can tell of the study folder."""

    name = "remote"
    SHARES = None

    def shares(self, folder):
        return self.SHARES

    def submit(self, tasks, observers=()):
        raise AssertionError("never reached")

    def wait(self, timeout):
        return []


@pytest.mark.parametrize(
    "shares, fs, outcome",
    [
        (True, "ext4", "ok"),  # every worker is on this machine
        (None, "nfs4", "ok"),
        (None, "lustre", "ok"),
        (None, "ext4", "refused"),
        (None, "tmpfs", "refused"),
        (False, "nfs4", "refused"),  # the launcher knows better than the file system
        (None, "fuse.unknownfs", "warned"),
    ],
)
def test_a_folder_other_nodes_cannot_see_is_refused_and_one_that_may_not_be_is_warned(shares, fs, outcome, monkeypatch):
    monkeypatch.setattr(launching, "file_system", lambda path: fs)
    remote = Remote({}, Path("/study"))
    remote.SHARES = shares
    warnings = []
    if outcome == "refused":
        with pytest.raises(NasframeError, match="could not see it. Put --out on a file system every node mounts"):
            launching.check_shared(remote, Path("/study"), warnings.append)
        return
    launching.check_shared(remote, Path("/study"), warnings.append)
    assert bool(warnings) == (outcome == "warned")
    if warnings:
        assert "it must be on a file system every node mounts" in warnings[0]


def test_the_file_system_of_a_folder_is_read_from_the_mount_table(tmp_path):
    mounts = Path("/proc/mounts").read_text().split()
    assert launching.file_system(tmp_path) in mounts  # the type column of the mount above tmp_path
    assert launching.file_system(Path("/proc/self")) == "proc"


def test_the_local_launcher_runs_in_this_process_and_sees_every_folder(tmp_path):
    local = launching.make_launcher(None, {}, tmp_path)
    assert local.in_process and local.shares(tmp_path)
    pool = launching.make_launcher("local", {"launcher.devices": "cpu, cpu"}, tmp_path)
    assert not pool.in_process and pool.settings["devices"] == "cpu,cpu"


def test_the_report_names_each_launch_once_per_run_of_identical_ones():
    from nasframe.studies.report import launch_texts

    launches = [
        {"name": "local", "devices": "", "at": "2026-12-06T07:00:00"},
        {"name": "local", "devices": "", "at": "2026-12-06T08:00:00"},
        {"name": "ray", "address": None, "cpus_per_trial": 1.0, "at": "2026-12-06T09:00:00"},
        {"name": "local", "devices": "cpu,cpu", "at": "2026-12-06T10:00:00"},
    ]
    assert launch_texts(launches) == ["local ×2", "ray (cpus_per_trial=1.0)", "local (devices=cpu,cpu)"]
