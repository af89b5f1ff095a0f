"""ProxylessNAS: the binary-gate gradient against values worked out by hand, the two-path rescale, gated supernets."""

import math

import pytest
import torch

import nasframe
from nasframe import DataInfo
from nasframe.config import resolve
from nasframe.registry import get_registry
from nasframe.testing import ScalarSupernet, ToySpace, fake_context, tiny_search

PROXYLESS = "nasframe.plugins.proxyless"


def proxyless_module():
    return __import__(PROXYLESS, fromlist=["ProxylessNAS"])


VALUES = ((1.0, 2.0), (3.0, -1.0))
"""Choice c of decision d contributes VALUES[d][c] to the toy logit s (``nasframe.testing.ScalarSupernet``)."""


def toy_space():
    return ToySpace({"d0": ("a", "b"), "d1": ("a", "b")}, supernet=lambda: ScalarSupernet(VALUES, ("d0", "d1")))


def toy_strategy(mode="full"):
    space = toy_space()
    ctx = fake_context(space)
    strategy = proxyless_module().ProxylessNAS({"binary_mode": mode})
    strategy.space, strategy.ctx = space, ctx
    strategy.setup(space, ctx)
    return strategy


def test_binary_gate_gradient_matches_the_formula_worked_out_by_hand():
    # one decision, three paths, p = (0.5, 0.3, 0.2), dL/dg = (1, -2, 0.5):
    # dL/dα_i = sum_j g_j p_j (δ_ij - p_i); sum_j g_j p_j = 0.5 - 0.6 + 0.1 = 0.0
    # so dL/dα = (g_i p_i) = (0.5, -0.6, 0.1)
    grads = proxyless_module().binary_gate_gradient(torch.tensor([[1.0, -2.0, 0.5]]), torch.tensor([[0.5, 0.3, 0.2]]))
    torch.testing.assert_close(grads, torch.tensor([[0.5, -0.6, 0.1]]))


def test_architecture_gradient_on_a_toy_space_matches_the_hand_computed_value():
    strategy = toy_strategy()
    with torch.no_grad():  # p(d0) = (3/4, 1/4), p(d1) = (1/2, 1/2)
        strategy.alpha.copy_(torch.tensor([[math.log(3.0), 0.0], [0.0, 0.0]]))
    arch = {"d0": 1, "d1": 0}
    strategy.binarize = lambda: (arch, nasframe.masked_softmax(strategy.alpha.detach(), strategy.mask), None)
    batch = (torch.zeros(1, 1), torch.zeros(1, dtype=torch.long))
    (grad,) = strategy.arch_gradients(batch, batch)
    # s = 2 + 3 = 5, L = log(1 + e^-5), dL/ds = -1 / (1 + e^5); dL/dg0 = 2 dL/ds, dL/dg1 = 3 dL/ds
    ds = -1 / (1 + math.exp(5))
    g0, g1 = 2 * ds, 3 * ds
    # decision 0, path 1 active (p_a = 1/4): dL/dα_0j = g0 * 1/4 * (δ_j1 - p_j) = g0 * (-3/16, 3/16)
    # decision 1, path 0 active (p_a = 1/2): dL/dα_1j = g1 * 1/2 * (δ_j0 - p_j) = g1 * (1/4, -1/4)
    expected = torch.tensor([[-3 / 16 * g0, 3 / 16 * g0], [g1 / 4, -g1 / 4]])
    torch.testing.assert_close(grad, expected)


def test_two_path_gradient_on_a_toy_space_matches_the_hand_computed_value():
    strategy = toy_strategy("two")
    with torch.no_grad():  # with two choices the pair is the whole row: p' = p = (3/4, 1/4) and (1/2, 1/2)
        strategy.alpha.copy_(torch.tensor([[math.log(3.0), 0.0], [0.0, 0.0]]))
    arch, other = {"d0": 1, "d1": 0}, {"d0": 0, "d1": 1}
    probs = nasframe.masked_softmax(strategy.alpha.detach(), strategy.mask)
    strategy.binarize = lambda: (arch, probs, other)
    batch = (torch.zeros(1, 1), torch.zeros(1, dtype=torch.long))
    (grad,) = strategy.arch_gradients(batch, batch)
    # s = 2 + 3 = 5 (the probes enter at gate 0); dL/ds = -1 / (1 + e^5); every dL/dg_j = VALUES[d][j] * dL/ds
    ds = -1 / (1 + math.exp(5))
    g = torch.tensor([[1.0, 2.0], [3.0, -1.0]], dtype=torch.float64) * ds
    p = torch.tensor([[0.75, 0.25], [0.5, 0.5]], dtype=torch.float64)
    # dL/dα_i = Σ_j g_j p_j (δ_ij − p_i): row 0: Σ_j g_j p_j = (0.75 + 0.5) ds = 1.25 ds, row 1: (1.5 − 0.5) ds = ds
    expected = torch.stack(
        [
            torch.stack([g[0, 0] * p[0, 0] - p[0, 0] * 1.25 * ds, g[0, 1] * p[0, 1] - p[0, 1] * 1.25 * ds]),
            torch.stack([g[1, 0] * p[1, 0] - p[1, 0] * ds, g[1, 1] * p[1, 1] - p[1, 1] * ds]),
        ]
    ).float()
    torch.testing.assert_close(grad, expected)


def test_two_path_mode_keeps_the_pairs_logsumexp_after_the_step():
    strategy = toy_strategy("two")
    before = strategy.alpha.detach().clone()
    batch = (torch.zeros(4, 1), torch.zeros(4, dtype=torch.long))
    strategy.arch_step(batch, batch)
    after = strategy.alpha.detach()
    assert not torch.equal(before, after)
    torch.testing.assert_close(after.logsumexp(-1), before.logsumexp(-1))  # both choices are the pair here


@pytest.mark.parametrize("space_name", ["mbconv", "darts"])
def test_gates_of_one_leave_a_supernet_unchanged_and_reach_every_computed_path(space_name):
    registry = get_registry()
    space = registry.build_space(resolve(registry.space(space_name), None, "tiny", {}), DataInfo("cifar10", 10, 32))
    supernet = space.build_supernet().eval()
    arch = space.sample(torch.Generator().manual_seed(2))
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    gates = torch.ones(len(space.decisions), requires_grad=True)
    out = supernet(x, arch, gates)
    torch.testing.assert_close(out, supernet(x, arch), rtol=0, atol=0)
    (grad,) = torch.autograd.grad(out.square().sum(), gates)
    probe = space.sample(torch.Generator().manual_seed(3))
    gates2 = torch.zeros(len(space.decisions), 2)
    gates2[:, 0] = 1
    torch.testing.assert_close(supernet(x, arch, gates2, probe), supernet(x, arch), rtol=0, atol=0)
    names = space.choice_names(arch)
    silent = [i for i, d in enumerate(space.decisions) if names[d.name] in ("skip", "none")]
    assert all(grad[i] == 0 for i in silent)
    assert sum(grad[i] != 0 for i in range(len(grad)) if i not in silent) >= len(grad) - len(silent) - 1


def test_proxyless_with_a_latency_budget_returns_an_architecture_inside_it(tmp_path, cifar_dir):
    sets = {"data.limit": 96, "train.batch_size": 16, "train.eval_batch_size": 48, "constraint.max_latency_ms": 1e6}
    summary = tiny_search("proxyless", "mbconv", tmp_path / "run", data_dir=cifar_dir, sets=sets)
    assert summary["predicted_latency_ms"] <= 1e6 and summary["latency_ms"] > 0
    events = (tmp_path / "run" / "events.jsonl").read_text()
    assert "expected_latency_us" in events


@pytest.mark.parametrize("space_name", ["mbconv", "darts"])
def test_nasframe_run_proxyless_tiny_on_both_spaces(tmp_path, cifar_dir, space_name):
    from click.testing import CliRunner

    from nasframe.cli import _load_commands, cli

    _load_commands()
    out = tmp_path / "run"
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--strategy",
            "proxyless",
            "--space",
            space_name,
            "--preset",
            "tiny",
            "--device",
            "cpu",
            "--data-dir",
            str(cifar_dir),
            "--out",
            str(out),
            "--set",
            "data.limit=96",
            "--set",
            "train.batch_size=16",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (out / "arch.json").exists() and (out / "summary.json").exists()
