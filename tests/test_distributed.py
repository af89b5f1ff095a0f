"""Data-parallel search over two CPU processes (gloo), launched by torchrun as a user would."""

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from nasframe.engine.distributed import World, world_from_env
from nasframe.interfaces.errors import NasframeError
from nasframe.testing import install_plugin

DUMP = """
import os
import nasframe
from safetensors.torch import save_file

@nasframe.hookimpl
def on_run_end(run, summary):
    state = {k: v.detach().cpu().contiguous() for k, v in run.job.supernet.state_dict().items()}
    save_file(state, os.path.join(os.environ["DUMP_DIR"], f"rank{run.job.world.rank}.safetensors"))

@nasframe.hookimpl
def on_epoch_end(run, epoch, metrics):
    if os.environ.get("KILL_AFTER_EPOCH") and epoch + 1 == int(os.environ["KILL_AFTER_EPOCH"]):
        os.kill(os.getpid(), 9)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(args, env_extra, nproc=None):
    env = {k: v for k, v in os.environ.items() if k not in ("NASFRAME_PLUGINS", "WORLD_SIZE", "RANK")}
    env.update(env_extra)
    env["OMP_NUM_THREADS"] = "1"
    launcher = (
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc-per-node",
            str(nproc),
            "--master-addr",
            "127.0.0.1",
            "--master-port",
            str(_free_port()),
        ]
        if nproc
        else [sys.executable]
    )
    return subprocess.run([*launcher, "-m", "nasframe", *args], capture_output=True, text=True, env=env, timeout=600)


def _args(out, cifar_dir, epochs=2, strategy="random"):
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
        "--data-dir",
        str(cifar_dir),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--seed",
        "3",
        "--set",
        "data.limit=160",
        "--set",
        "train.batch_size=16",
    ]


@pytest.mark.parametrize("strategy", ["random", "darts"])
def test_two_ranks_end_with_identical_weights_and_train_the_single_process_paths(tmp_path, cifar_dir, strategy):
    plugin = install_plugin(tmp_path / "site", "dump", {"dump": "dump_plugin"}, {"dump_plugin": DUMP})
    env = {"PYTHONPATH": str(plugin), "DUMP_DIR": str(tmp_path)}
    two = _run(_args(tmp_path / "two", cifar_dir, strategy=strategy), env, nproc=2)
    assert two.returncode == 0, two.stderr[-3000:]
    rank0, rank1 = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    assert rank0.keys() == rank1.keys()
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    one = _run(_args(tmp_path / "one", cifar_dir, strategy=strategy), {})
    assert one.returncode == 0, one.stderr[-3000:]
    events_two = [json.loads(line) for line in (tmp_path / "two" / "events.jsonl").read_text().splitlines()]
    events_one = [json.loads(line) for line in (tmp_path / "one" / "events.jsonl").read_text().splitlines()]
    # Rank 0 alone wrote one record per epoch, over the whole global batch.
    assert [e["epoch"] for e in events_two] == [0, 1]
    assert [e["images_per_second"] > 0 for e in events_two] == [True, True]
    # The documented difference: BatchNorm statistics are per rank (as with DDP without SyncBatchNorm), so
    # weights differ from a single process; the architectures trained are the same draws.
    if strategy == "random":
        assert [e["arch"] for e in events_two] == [e["arch"] for e in events_one]


def test_checkpoint_of_a_two_rank_run_resumes_in_one_process(tmp_path, cifar_dir):
    plugin = install_plugin(tmp_path / "site", "dump", {"dump": "dump_plugin"}, {"dump_plugin": DUMP})
    out = tmp_path / "run"
    died = _run(
        _args(out, cifar_dir), {"PYTHONPATH": str(plugin), "DUMP_DIR": str(tmp_path), "KILL_AFTER_EPOCH": "1"}, nproc=2
    )
    assert died.returncode != 0 and not (out / "summary.json").exists()
    resumed = _run(_args(out, cifar_dir) + ["--resume"], {})
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads((out / "summary.json").read_text())["epochs"] == 2


def _average_worker(rank: int, port: int, path: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2")
    world = world_from_env("cpu")
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    unused = torch.nn.Linear(4, 3)  # a parameter without gradient, as on a single path
    x, y = torch.randn(8, 4), torch.randint(3, (8,))
    shard = world.shard(8)
    torch.nn.functional.cross_entropy(model(x[shard]), y[shard]).backward()
    world.all_reduce_gradients(list(model.parameters()) + list(unused.parameters()))
    if world.is_main:
        save_file({"w": model.weight.grad, "b": model.bias.grad}, path)
    dist.destroy_process_group()


def test_averaged_shard_gradients_equal_the_full_batch_gradient(tmp_path):
    path = str(tmp_path / "grads.safetensors")
    mp.spawn(_average_worker, args=(_free_port(), path), nprocs=2, join=True)
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    torch.nn.Linear(4, 3)
    x, y = torch.randn(8, 4), torch.randint(3, (8,))
    torch.nn.functional.cross_entropy(model(x), y).backward()
    grads = load_file(path)
    assert torch.allclose(grads["w"], model.weight.grad, atol=1e-6)
    assert torch.allclose(grads["b"], model.bias.grad, atol=1e-6)


def test_incomplete_launch_environment_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(NasframeError, match="torchrun"):
        world_from_env("cpu")


def test_single_process_is_rank_zero_of_one():
    world = World()
    assert world.is_main and not world.active and world.shard(5) == slice(0, 5, 1)
