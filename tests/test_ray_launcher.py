"""``--launcher ray`` on a real two-node Ray cluster on this machine (Ray's own ``Cluster`` test helper: a head
raylet and a worker raylet, CPU only): the same rows as ``--launcher local``, also when the worker node is killed
in the middle of a trial, for ``bench`` and ``rank``."""

import json
import os

import launched_studies
import pytest
from click.testing import CliRunner
from launched_studies import driver, finish, rows, science
from test_rank_cli import rank_args

from nasframe.cli import _load_commands, cli
from nasframe.testing import PAUSE_DIR, install_pauser, wait_for_pause

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

_load_commands()


class TwoNodes:
    """A head raylet with no CPU for tasks and one worker raylet with one CPU: every task runs on the worker."""

    def __init__(self, root):
        self.pause_dir = root / "pause"
        plugins = install_pauser(root / "plugins")
        os.environ[PAUSE_DIR] = str(self.pause_dir)  # the raylets and their workers inherit these
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugins), os.environ.get("PYTHONPATH")]))
        self.cluster = Cluster(
            initialize_head=True,
            head_node_args={
                "num_cpus": 0,
                "include_dashboard": False,
                "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 2},
            },
        )
        self.worker = self.cluster.add_node(num_cpus=1)
        self.cluster.wait_for_nodes()

    @property
    def address(self):
        return self.cluster.address

    def arm(self):
        """The next run to finish its first epoch on the cluster pauses (see ``kill_paused_worker``)."""
        self.pause_dir.mkdir(exist_ok=True)
        (self.pause_dir / "paused").unlink(missing_ok=True)

    def kill_paused_worker(self, driver):
        """Wait for the paused run, then start a fresh worker node and SIGKILL the paused one with its tasks."""
        paused = wait_for_pause(self.pause_dir, driver)
        fresh = self.cluster.add_node(num_cpus=1)
        self.cluster.remove_node(self.worker, allow_graceful=False)
        self.worker = fresh
        return paused

    def shutdown(self):
        self.cluster.shutdown()
        os.environ.pop(PAUSE_DIR, None)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    cluster = TwoNodes(tmp_path_factory.mktemp("ray"))
    yield cluster
    cluster.shutdown()


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def bench_args(out, cifar_dir, *extra):
    return launched_studies.bench_args(out, cifar_dir, "random,mdenas", *extra)


def test_without_an_address_the_study_starts_its_own_ray_and_stops_it(cifar_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    out = tmp_path / "bench"
    args = launched_studies.bench_args(out, cifar_dir, "random", "--launcher", "ray")
    result = invoke(*[a if a != "0,1" else "0" for a in args])  # one trial
    assert result.exit_code == 0, result.output
    assert [r["seed"] for r in rows(out)] == [0] and rows(out)[0]["node"]
    assert json.loads((out / "bench.json").read_text())["launches"][0]["address"] is None
    assert not ray.is_initialized()  # the study's Ray is shut down with it


def test_bench_on_two_ray_nodes_survives_a_killed_worker_node_with_the_local_rows(nodes, cifar_dir, tmp_path):
    local = tmp_path / "local"
    assert invoke(*bench_args(local, cifar_dir, "--launcher", "local")).exit_code == 0
    nodes.arm()
    out = tmp_path / "ray"
    process = driver(bench_args(out, cifar_dir, "--launcher", "ray", "--set", f"launcher.address={nodes.address}"))
    paused = nodes.kill_paused_worker(process)
    output = finish(process)
    assert [science(r) for r in rows(out)] == [science(r) for r in rows(local)]
    assert "running on" in output and "done" in output  # one line per change, with the node
    placement = json.loads((out / "placement" / f"{paused.name}.json").read_text())
    assert placement["attempt"] == 2 and placement["launcher"] == "ray"  # the killed trial ran again, and resumed:
    events = [json.loads(line) for line in (paused / "events.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in events] == [0, 1]  # epoch 0 was not trained twice
    launches = json.loads((out / "bench.json").read_text())["launches"]
    assert [launch["name"] for launch in launches] == ["ray"] and launches[0]["address"] == nodes.address
    assert {r["device"] for r in rows(out)} == {"cpu"} and all(r["node"] for r in rows(out))


def test_rank_on_two_ray_nodes_survives_a_killed_worker_node_with_the_local_records(nodes, cifar_dir, tmp_path):
    local = tmp_path / "local"
    assert invoke(*rank_args(local, cifar_dir)).exit_code == 0
    nodes.arm()
    out = tmp_path / "ray"
    process = driver(rank_args(out, cifar_dir, "--launcher", "ray", "--set", f"launcher.address={nodes.address}"))
    nodes.kill_paused_worker(process)
    finish(process)
    assert rows(out, "rank.jsonl") == rows(local, "rank.jsonl")
    assert json.loads((out / "tau.json").read_text()) == json.loads((local / "tau.json").read_text())


def test_a_request_no_ray_node_can_meet_is_one_line_before_any_trial(nodes, cifar_dir, tmp_path):
    out = tmp_path / "bench"
    args = ["--launcher", "ray", "--set", f"launcher.address={nodes.address}", "--set", "launcher.cpus_per_trial=64"]
    result = invoke(*bench_args(out, cifar_dir, *args))
    assert result.exit_code == 1
    assert "no node of the Ray cluster can run a task of 64 CPUs" in result.output
    assert "Traceback" not in result.output and not (out / "trials").exists()
