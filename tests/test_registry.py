import subprocess
import sys

import pytest

from nasframe.registry import get_registry
from nasframe.testing import install_plugin, plugin_path

STRATEGY = """
import nasframe

class Greedy(nasframe.Strategy):
    name = "greedy"
    def ask(self):
        return {d.name: len(d.choices) - 1 for d in self.space.decisions}
    def final(self):
        return self.space.sample_final(self.ctx.generator)

@nasframe.hookimpl
def register_strategies(register):
    register(Greedy)
"""


def test_builtins_arrive_through_the_entry_points():
    registry = get_registry()
    assert {"random", "mdenas", "darts"} <= set(registry.strategies)
    assert {"darts", "mbconv"} <= set(registry.spaces)
    assert registry.strategies["random"].distribution == "nasframe"


def test_third_party_distribution_is_discovered(tmp_path):
    root = install_plugin(
        tmp_path, "nasframe-greedy", {"greedy": "greedy_plugin"}, {"greedy_plugin": STRATEGY}, version="1.2.3"
    )
    with plugin_path(root):
        reg = get_registry().strategies["greedy"]
        assert (reg.distribution, reg.version, reg.plugin) == ("nasframe-greedy", "1.2.3", "greedy")


@pytest.mark.parametrize(
    "code,reason",
    [
        ("raise RuntimeError('boom at import')", "failed to import: RuntimeError: boom at import"),
        (
            "import nasframe\n@nasframe.hookimpl\ndef register_strategies(register):\n    raise ValueError('bad')\n",
            "raised ValueError: bad",
        ),
        (
            "import nasframe\n@nasframe.hookimpl\ndef register_strategies(register):\n    register(int)\n",
            "not a Strategy subclass",
        ),
        ("import nasframe\n@nasframe.hookimpl\ndef register_stratgies(register):\n    pass\n", "unknown hook"),
        (
            "import nasframe\nfrom nasframe.plugins.random_sampling import RandomSampling\n"
            "@nasframe.hookimpl\ndef register_strategies(register):\n    register(RandomSampling)\n",
            "'random' is already registered by plugin 'random'",
        ),
    ],
    ids=["import-error", "hook-raises", "wrong-type", "misspelled-hook", "duplicate-name"],
)
def test_broken_plugin_is_reported_and_the_rest_keeps_working(tmp_path, code, reason):
    root = install_plugin(tmp_path, "nasframe-broken", {"broken": "broken_plugin"}, {"broken_plugin": code})
    with plugin_path(root):
        registry = get_registry()
        assert [p.plugin for p in registry.problems] == ["broken"]
        assert reason in registry.problems[0].reason
        assert registry.problems[0].distribution == "nasframe-broken"
        assert "random" in registry.strategies and registry.strategies["random"].plugin == "random"


def test_nasframe_plugins_limits_third_party_plugins(tmp_path, monkeypatch):
    root = install_plugin(tmp_path, "nasframe-greedy", {"greedy": "greedy_plugin"}, {"greedy_plugin": STRATEGY})
    monkeypatch.setenv("NASFRAME_PLUGINS", "something-else")
    with plugin_path(root):
        assert "greedy" not in get_registry().strategies
        assert "random" in get_registry().strategies
    monkeypatch.setenv("NASFRAME_PLUGINS", "greedy")
    with plugin_path(root):
        assert "greedy" in get_registry().strategies


def test_list_shows_a_third_party_strategy_and_run_uses_it(tmp_path, cifar_dir):
    root = install_plugin(
        tmp_path / "site", "nasframe-greedy", {"greedy": "greedy_plugin"}, {"greedy_plugin": STRATEGY}
    )
    env = {"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}
    listing = subprocess.run(
        [sys.executable, "-m", "nasframe", "list"], capture_output=True, text=True, env=env, check=True
    )
    assert "greedy" in listing.stdout and "nasframe-greedy" in listing.stdout
    out = tmp_path / "run"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "nasframe",
            "run",
            "--strategy",
            "greedy",
            "--space",
            "darts",
            "--preset",
            "tiny",
            "--epochs",
            "1",
            "--data-dir",
            str(cifar_dir),
            "--out",
            str(out),
            "--set",
            "data.limit=200",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert (out / "arch.json").exists() and (out / "summary.json").exists()
