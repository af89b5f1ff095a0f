"""DARTS strategy: first/second-order architecture gradients against autograd, state round trip, end to end."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from nasframe.engine.context import EngineContext
from nasframe.interfaces.errors import ConfigError
from nasframe.interfaces.gradient_strategy import masked_softmax
from nasframe.interfaces.space import DataInfo, Supernet
from nasframe.plugins.darts import Darts
from nasframe.storage import checkpoint as ckpt_io
from nasframe.storage.checkpoint import Checkpoint
from nasframe.storage.tensor_tree import flatten, unflatten
from nasframe.testing import ToySpace

D = 6  # toy feature width


class ToySupernet(Supernet):
    """Two mixed layers (3 choices each) and a gate decision with 2 real choices of 3; float64.

    ``unused`` is a parameter no forward touches (its gradient must be treated as zero).
    """

    def __init__(self) -> None:
        super().__init__()
        self.layer1 = nn.ModuleList(nn.Linear(D, D) for _ in range(3))
        self.layer2 = nn.ModuleList(nn.Linear(D, D) for _ in range(2))  # choice 2 is identity
        self.gate = nn.ModuleList(nn.Linear(D, D) for _ in range(2))
        self.head = nn.Linear(D, 3)
        self.unused = nn.Parameter(torch.randn(4))

    def forward(self, x: torch.Tensor, arch: Any) -> torch.Tensor:
        if isinstance(arch, dict):
            w = torch.zeros(3, 3, dtype=x.dtype)
            for i, name in enumerate(("l1", "l2", "gate")):
                w[i, arch[name]] = 1
        else:
            w = arch
        h = sum(w[0, k] * torch.tanh(op(x)) for k, op in enumerate(self.layer1))
        h = sum(w[1, k] * torch.sin(op(h)) for k, op in enumerate(self.layer2)) + w[1, 2] * h
        h = sum(w[2, k] * torch.tanh(op(h)) * h for k, op in enumerate(self.gate))
        return self.head(h)


def toy_space() -> ToySpace:
    """The supernet's three decisions: two mixed layers and a gate with 2 real choices of 3."""
    return ToySpace({"l1": ("a", "b", "c"), "l2": ("a", "b", "skip"), "gate": ("a", "b")}, supernet=ToySupernet)


def batch(seed: int, n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, D, generator=g, dtype=torch.float64), torch.randint(0, 3, (n,), generator=g)


def make(
    order: int = 1,
    seed: int = 0,
    lr: float = 0.5,
    weight_decay: float = 0.05,
    init_scale: float = 0.5,
    warm: bool = True,
) -> tuple[Darts, EngineContext]:
    """A real SearchContext around the toy supernet; ``warm`` takes one SGD step so momentum exists."""
    torch.manual_seed(seed)
    space = toy_space()
    net = space.build_supernet().double()
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    val = batch(100)
    data = SimpleNamespace(val=SimpleNamespace(sample=lambda n, g: val))
    config = {"train": {"batch_size": 8, "grad_clip": None}}
    ctx = EngineContext(
        config,
        space,
        net,
        opt,
        data,
        None,
        torch.device("cpu"),  # type: ignore[arg-type]
        torch.Generator().manual_seed(seed),
        torch.Generator().manual_seed(seed + 1),
    )
    s = Darts({"order": order, "init_scale": init_scale})
    s.space, s.ctx = space, ctx
    s.setup(space, ctx)
    if warm:
        ctx.train_weights(batch(50 + seed), s.ask())
    return s, ctx


def exact_hypergradient(s: Darts, ctx: EngineContext, train: Any, val: Any) -> torch.Tensor:
    """d/dα L_val(w'(α), α) with autograd through the virtual step w'(α) (no finite difference)."""
    net, opt = ctx.supernet, ctx.optimizer
    group = opt.param_groups[0]
    xi, mu, lam = group["lr"], group["momentum"], group["weight_decay"]
    named = dict(net.named_parameters())
    w = {n: p.detach().clone().requires_grad_() for n, p in named.items()}
    alpha = s.alpha.detach().clone().requires_grad_()

    def loss(params: dict[str, torch.Tensor], b: Any) -> torch.Tensor:
        return F.cross_entropy(functional_call(net, params, (b[0], masked_softmax(alpha, s.mask))), b[1])

    g = torch.autograd.grad(loss(w, train), list(w.values()), create_graph=True, allow_unused=True)
    w_prime = {}
    for (n, p), gi in zip(w.items(), g):
        buf = opt.state.get(named[n], {}).get("momentum_buffer")
        step = (torch.zeros_like(p) if gi is None else gi) + lam * p + (mu * buf if buf is not None else 0)
        w_prime[n] = p - xi * step
    (grad,) = torch.autograd.grad(loss(w_prime, val), [alpha])
    return grad


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def test_defaults_and_config() -> None:
    s, _ = make(warm=False)
    assert s.name == "darts" and s.config["order"] == 1
    assert s.alpha.shape == (3, 3) and s.alpha.requires_grad and s.alpha.dtype == torch.float64
    w = s.ask()
    assert not w.requires_grad and w[2, 2] == 0  # the gate's padding entry never gets weight
    torch.testing.assert_close(w.sum(-1), torch.ones(3, dtype=torch.float64))
    opt = s.arch_optimizer.param_groups[0]
    assert (opt["lr"], tuple(opt["betas"]), opt["weight_decay"]) == (3e-4, (0.5, 0.999), 1e-3)
    with pytest.raises(ConfigError, match="order"):
        Darts({"order": 3})


def test_alpha_init_draws_from_ctx_generator() -> None:
    a, _ = make(warm=False, seed=4, init_scale=1e-3)
    torch.manual_seed(999)  # the global stream must not matter
    b, _ = make(warm=False, seed=4, init_scale=1e-3)
    assert torch.equal(a.alpha, b.alpha)
    expect = 1e-3 * torch.randn(3, 3, generator=torch.Generator().manual_seed(4))
    expect[2, 2] = 0
    torch.testing.assert_close(a.alpha.detach(), expect.double())


def test_first_order_gradient_is_grad_of_val_loss() -> None:
    s, ctx = make(order=1)
    train, val = batch(1), batch(2)
    (got,) = s.arch_gradients(train, val)
    alpha = s.alpha.detach().clone().requires_grad_()
    loss, _ = ctx.forward_loss(val, masked_softmax(alpha, s.mask))  # the engine's loss at the current w
    (want,) = torch.autograd.grad(loss, [alpha])
    assert torch.equal(got, want)
    assert got[2, 2] == 0


def test_second_order_gradient_matches_exact_hypergradient() -> None:
    s, ctx = make(order=2)
    train, val = batch(1), batch(2)
    before = {n: p.detach().clone() for n, p in ctx.supernet.named_parameters()}
    (got,) = s.arch_gradients(train, val)
    for n, p in ctx.supernet.named_parameters():  # the weights are restored bit for bit
        assert torch.equal(p, before[n]), n
    exact = exact_hypergradient(s, ctx, train, val)
    assert rel_err(got, exact) < 1e-2, rel_err(got, exact)
    # the test can tell: the first-order gradient and a wrong finite-difference denominator are far off
    s.config["order"] = 1
    (first,) = s.arch_gradients(train, val)
    s.config["order"] = 2
    assert rel_err(first, exact) > 5e-2
    second_term = got - _val_grad_at_virtual_step(s, ctx, train, val)
    assert rel_err(got + second_term, exact) > 5e-2  # i.e. an error of 2 in the (2ε) would be caught


def _val_grad_at_virtual_step(s: Darts, ctx: EngineContext, train: Any, val: Any) -> torch.Tensor:
    """∇α L_val(w', α) alone (the first term of the second-order gradient)."""
    net, opt = ctx.supernet, ctx.optimizer
    group = opt.param_groups[0]
    named = dict(net.named_parameters())
    alpha = s.alpha.detach().clone().requires_grad_()
    w = {n: p.detach().clone().requires_grad_() for n, p in named.items()}
    loss = F.cross_entropy(functional_call(net, w, (train[0], masked_softmax(alpha, s.mask).detach())), train[1])
    g = torch.autograd.grad(loss, list(w.values()), allow_unused=True)
    wp = {}
    for (n, p), gi in zip(w.items(), g):
        buf = opt.state.get(named[n], {}).get("momentum_buffer")
        step = (torch.zeros_like(p) if gi is None else gi) + group["weight_decay"] * p
        wp[n] = (p - group["lr"] * (step + (group["momentum"] * buf if buf is not None else 0))).detach()
    loss = F.cross_entropy(functional_call(net, wp, (val[0], masked_softmax(alpha, s.mask))), val[1])
    return torch.autograd.grad(loss, [alpha])[0]


def test_second_order_without_momentum_buffer() -> None:
    s, ctx = make(order=2, warm=False)  # no SGD step yet: the momentum buffer counts as zero
    assert not ctx.optimizer.state
    train, val = batch(3), batch(4)
    (got,) = s.arch_gradients(train, val)
    assert rel_err(got, exact_hypergradient(s, ctx, train, val)) < 1e-2


def test_train_step_updates_alpha_then_weights_with_new_weights() -> None:
    s, ctx = make(order=1)
    train = batch(7)
    alpha0 = s.alpha.detach().clone()
    (grad,) = s.arch_gradients(train, ctx.data.val.sample(8, None))
    shadow = alpha0.clone().requires_grad_()
    adam = torch.optim.Adam([shadow], lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
    shadow.grad = grad
    adam.step()
    seen: list[Any] = []
    real = ctx.train_weights
    ctx.train_weights = lambda b, arch: seen.append(arch) or real(b, arch)  # type: ignore[method-assign]
    s.train_step(train, s.ask())
    torch.testing.assert_close(s.alpha.detach(), shadow.detach(), rtol=0, atol=1e-15)
    assert len(seen) == 1 and not seen[0].requires_grad
    torch.testing.assert_close(seen[0], masked_softmax(s.alpha, s.mask).detach())


def test_state_round_trip_through_checkpoint(tmp_path: Path) -> None:
    s, ctx = make(order=2)
    for i in range(2):
        s.train_step(batch(10 + i), s.ask())
    ckpt = Checkpoint(meta={})
    ckpt.put_nested("strategy", s.state_dict())
    assert "strategy.alpha" in ckpt.tensors and "strategy.arch_optimizer.state.0.exp_avg" in ckpt.tensors
    json.dumps(ckpt.meta)
    ckpt_io.save(tmp_path / "c.safetensors", ckpt)
    loaded = ckpt_io.load(tmp_path / "c.safetensors").nested("strategy")
    other, other_ctx = make(order=2, seed=5, warm=False)
    other_ctx.supernet.load_state_dict(ctx.supernet.state_dict())
    other_ctx.optimizer.load_state_dict(copy.deepcopy(ctx.optimizer.state_dict()))
    other.load_state_dict(loaded)
    assert torch.equal(other.alpha, s.alpha)
    # the arch optimizer state came back: the next steps agree bit for bit
    for strat in (s, other):
        strat.train_step(batch(20), strat.ask())
    assert torch.equal(other.alpha, s.alpha)
    assert torch.equal(
        other.arch_optimizer.state[other.alpha]["exp_avg_sq"], s.arch_optimizer.state[s.alpha]["exp_avg_sq"]
    )
    flat, skeleton = flatten(s.state_dict(), "strategy")
    assert torch.equal(unflatten(json.loads(json.dumps(skeleton)), flat)["alpha"], s.alpha.detach())


def test_final_and_metrics() -> None:
    s, _ = make(warm=False)
    with torch.no_grad():
        s.alpha.copy_(torch.tensor([[0.0, 2.0, 1.0], [3.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64))
    assert s.final() == {"l1": 1, "l2": 0, "gate": 1}
    assert 0 < s.metrics()["entropy"] < 1.1


# --- end to end ------------------------------------------------------------------------------------


@pytest.mark.parametrize("order", [1, 2])
def test_end_to_end_arch_is_derived_from_checkpointed_alpha(order: int, tmp_path: Path, cifar_dir: Path) -> None:
    from click.testing import CliRunner
    from safetensors.torch import load_file

    import nasframe.cli
    from nasframe.interfaces.space import DataInfo as Info
    from nasframe.registry import get_registry

    out = tmp_path / "run"
    result = CliRunner().invoke(
        nasframe.cli.cli,
        [
            "run",
            "--strategy",
            "darts",
            "--space",
            "darts",
            "--preset",
            "tiny",
            "--epochs",
            "1",
            "--seed",
            "1",
            "--batch-size",
            "8",
            "--device",
            "cpu",
            "--data-dir",
            str(cifar_dir),
            "--out",
            str(out),
            "--set",
            "data.limit=48",
            "--set",
            f"strategy.order={order}",
        ],
    )
    assert result.exit_code == 0, result.output + repr(result.exception)
    tensors = load_file(str(out / "checkpoint.safetensors"))
    alpha = tensors["strategy.alpha"]
    assert alpha.shape == (28, 8)
    assert "strategy.arch_optimizer.state.0.exp_avg" in tensors
    config = json.loads((out / "config.json").read_text())
    assert config["strategy"]["order"] == order
    space_cfg = {k: v for k, v in config["space"].items() if k != "name"}
    space = get_registry().space("darts")(space_cfg, Info("cifar10", 10, 32))
    want = space.arch_to_json(space.derive(space.scores_from_tensor(alpha.softmax(-1))))
    assert json.loads((out / "arch.json").read_text()) == want


def test_second_order_on_darts_space_follows_the_documented_formula() -> None:
    """The real DARTS supernet (C=4, 3 cells, 8x8, float64) vs docs/algorithms.md#darts-first-and-second-order, via functional_call.

    Not against the autograd hypergradient: ReLU and max-pool kinks make the finite difference at
    ε = 0.01/‖∇w'‖ differ from the almost-everywhere Hessian on such a small network; the smooth toy
    model above checks the formula against the exact hypergradient.
    """
    from nasframe.registry import get_registry

    torch.manual_seed(0)
    space = get_registry().space("darts")({"layers": 3, "channels": 4}, DataInfo("cifar10", 10, 8))
    net = space.build_supernet().double()
    opt = torch.optim.SGD(net.parameters(), lr=0.5, momentum=0.9, weight_decay=0.01)
    g = torch.Generator().manual_seed(0)

    def images() -> tuple[torch.Tensor, torch.Tensor]:
        return torch.randn(4, 3, 8, 8, generator=g, dtype=torch.float64), torch.randint(0, 10, (4,), generator=g)

    train, val, warm = images(), images(), images()
    data = SimpleNamespace(val=SimpleNamespace(sample=lambda n, gen: val))
    ctx = EngineContext(
        {"train": {"batch_size": 4, "grad_clip": 5.0}},
        space,
        net,
        opt,
        data,
        None,  # type: ignore[arg-type]
        torch.device("cpu"),
        torch.Generator().manual_seed(0),
        torch.Generator().manual_seed(1),
    )
    s = Darts({"order": 2, "init_scale": 0.5})
    s.space, s.ctx = space, ctx
    s.setup(space, ctx)
    ctx.train_weights(warm, s.ask())
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    (got,) = s.arch_gradients(train, val)
    assert all(torch.equal(p, before[n]) for n, p in net.named_parameters())

    named = dict(net.named_parameters())
    group = opt.param_groups[0]
    xi, mu, lam = group["lr"], group["momentum"], group["weight_decay"]
    alpha = s.alpha.detach().clone().requires_grad_()

    def loss(params: dict[str, torch.Tensor], b: Any, weights: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(net, params, (b[0], weights)), b[1])

    w0 = {n: p.detach().clone() for n, p in named.items()}
    wr = {n: p.clone().requires_grad_() for n, p in w0.items()}

    def relaxed() -> torch.Tensor:
        return masked_softmax(alpha, s.mask)

    gt = torch.autograd.grad(loss(wr, train, relaxed().detach()), list(wr.values()), allow_unused=True)
    wp = {}
    for (n, p), gi in zip(w0.items(), gt):
        buf = opt.state[named[n]]["momentum_buffer"]
        wp[n] = (p - xi * ((0 if gi is None else gi) + lam * p + mu * buf)).requires_grad_()
    out = torch.autograd.grad(loss(wp, val, relaxed()), [alpha, *wp.values()], allow_unused=True)
    d_alpha = out[0]
    d_w = [torch.zeros_like(p) if x is None else x for p, x in zip(wp.values(), out[1:])]
    eps = 0.01 / torch.sqrt(sum((x**2).sum() for x in d_w))
    plus = torch.autograd.grad(loss({n: w0[n] + eps * d for n, d in zip(w0, d_w)}, train, relaxed()), alpha)[0]
    minus = torch.autograd.grad(loss({n: w0[n] - eps * d for n, d in zip(w0, d_w)}, train, relaxed()), alpha)[0]
    want = d_alpha - xi * (plus - minus) / (2 * eps)
    assert rel_err(got, want) < 1e-4, rel_err(got, want)
    assert rel_err(d_alpha, want) > 0.1  # the second-order term matters here


def test_paper_preset_on_darts_space() -> None:
    from nasframe.config import resolve
    from nasframe.registry import get_registry

    c = resolve(get_registry().space("darts"), Darts, "paper")
    assert (c["space"]["layers"], c["space"]["channels"]) == (8, 16)
    assert (c["train"]["batch_size"], c["train"]["epochs"], c["train"]["lr"], c["train"]["lr_min"]) == (
        64,
        50,
        0.025,
        0.001,
    )
    assert c["data"]["val_size"] == 0.5
    assert c["strategy"]["order"] == 1 and c["strategy"]["arch_lr"] == 3e-4


def test_paper_preset_resolves_on_mbconv_space() -> None:
    from nasframe.config import resolve
    from nasframe.registry import get_registry

    c = resolve(get_registry().space("mbconv"), Darts, "paper")
    assert c["train"]["batch_size"] == 64 and "layers" not in c["space"]
