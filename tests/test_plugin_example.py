"""The third-party example package ``examples/nasframe-evolution``, installed offline as a user would."""

import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

from nasframe.config import resolve
from nasframe.engine.loop import Observer, Run
from nasframe.engine.search import SearchJob
from nasframe.interfaces.errors import NasframeError
from nasframe.interfaces.space import DataInfo
from nasframe.registry import get_registry
from nasframe.storage import checkpoint as ckpt_io
from nasframe.storage.run_directory import RunDir
from nasframe.testing import plugin_path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "nasframe-evolution"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """``pip install --target`` of the example: no network, no build isolation, the checkout left clean."""
    tmp = tmp_path_factory.mktemp("evolution")
    source = shutil.copytree(EXAMPLE, tmp / "src", ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp / "site"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--quiet",
            "--target",
            str(target),
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return target


@pytest.fixture(scope="module")
def installed(site):
    with plugin_path(site):
        yield get_registry()


def search(space, out, cifar_dir, *, epochs=1, seed=0, observers=(), resume=False):
    """``tiny_search`` with resume and extra observers: the tiny preset, 200 images, CPU."""
    registry = get_registry()
    overrides = {
        "train.epochs": epochs,
        "seed": seed,
        "device": "cpu",
        "data.download": False,
        "data.dir": str(cifar_dir),
        "data.limit": 200,
    }
    config = resolve(registry.space(space), registry.strategy("evolution"), "tiny", overrides)
    return Run(SearchJob(config, registry), RunDir(out), observers).execute(resume)


def strategy_state(out):
    return ckpt_io.load(out / "checkpoint.safetensors").nested("strategy")


class KillAfterFirstEpoch(Observer):
    def on_epoch_end(self, run, epoch, metrics):
        raise KeyboardInterrupt


def test_installed_example_is_listed_with_its_distribution(site):
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200"}
    env.pop("NASFRAME_PLUGINS", None)
    listing = subprocess.run([sys.executable, "-m", "nasframe", "list"], capture_output=True, text=True, env=env)
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if " evolution " in line)
    assert "strategy" in row and "nasframe-evolution" in row and "0.1.0" in row
    assert "evolution" not in listing.stderr


def test_registry_finds_the_example_through_its_entry_point(installed):
    reg = installed.strategies["evolution"]
    assert (reg.plugin, reg.distribution, reg.version) == ("evolution", "nasframe-evolution", "0.1.0")
    assert not installed.problems


@pytest.mark.parametrize("space_name", ["darts", "mbconv"])
def test_mutation_changes_one_decision_and_stays_derivable(installed, space_name):
    space = installed.space(space_name)({}, DataInfo("cifar10", 10, 32))
    strategy = installed.strategy("evolution")({})
    strategy.space = space
    strategy.ctx = types.SimpleNamespace(generator=torch.Generator().manual_seed(0), feasible=lambda arch: True)
    strategy.setup(space, strategy.ctx)
    for _ in range(50):
        parent = strategy.genome(space.sample_final(strategy.ctx.generator))
        child = strategy.mutate(parent)
        space.arch_to_json(strategy.arch(child))  # derivable: a DARTS genotype has two inputs per node
        changed = sum(a != b for a, b in zip(parent, child))
        assert 1 <= changed <= (2 if space_name == "darts" else 1)


def test_tiny_search_completes_on_mbconv(installed, tmp_path, cifar_dir):
    summary = search("mbconv", tmp_path / "run", cifar_dir)
    assert (summary["strategy"], summary["space"]) == ("evolution", "mbconv")
    assert json.loads((tmp_path / "run" / "arch.json").read_text())["space"] == "mbconv"
    events = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    assert events[0]["evaluated"] == 4 + 4  # the tiny preset's population, then its cycles


def test_same_seed_twice_gives_the_same_architecture_even_when_killed_and_resumed(installed, tmp_path, cifar_dir):
    """On DARTS: a straight run, and a second run with the same seed killed after epoch 1 and resumed."""
    straight = search("darts", tmp_path / "straight", cifar_dir, epochs=2)
    assert json.loads((tmp_path / "straight" / "arch.json").read_text())["space"] == "darts"
    with pytest.raises(NasframeError, match="interrupted"):
        search("darts", tmp_path / "killed", cifar_dir, epochs=2, observers=[KillAfterFirstEpoch()])
    assert json.loads(json.dumps(strategy_state(tmp_path / "killed")))["population"]
    resumed = search("darts", tmp_path / "killed", cifar_dir, epochs=2, resume=True)
    assert resumed["arch"] == straight["arch"]
    assert resumed["val_accuracy"] == straight["val_accuracy"]
    assert strategy_state(tmp_path / "killed") == strategy_state(tmp_path / "straight")
