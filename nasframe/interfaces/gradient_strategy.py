"""The shape every gradient-based (relaxed) strategy is written in, DARTS first among them.

:class:`GradientStrategy` holds architecture parameters ``alpha`` of shape ``[num_decisions, max_choices]``, an
optimizer for them, and a ``train_step`` that first updates ``alpha`` on a validation batch and then
the shared weights on the training batch with the relaxed forward. A subclass implements
``arch_gradients`` (DARTS: first or second order); GDAS/SNAS-style methods also override
``relaxed``/``weight_arch`` (what the weight step runs), PC-DARTS adds parameters through
``arch_parameters``. See ``docs/gradient-strategies.md``.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Mapping, Sequence

import torch

from nasframe.interfaces.context import Batch, SearchContext
from nasframe.interfaces.decidedness import distribution_metrics
from nasframe.interfaces.errors import CheckpointError
from nasframe.interfaces.keys import Key
from nasframe.interfaces.space import Arch, ArchLike, Relaxed, SearchSpace
from nasframe.interfaces.strategy import Strategy


def grads_or_zeros(loss: torch.Tensor, inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """``d loss / d input`` for each input; an input the loss does not depend on gets zeros."""
    grads = torch.autograd.grad(loss, list(inputs), allow_unused=True)
    return [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, grads)]


def masked_softmax(alpha: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Row-wise softmax over the real choices; entries outside ``mask`` get weight exactly 0."""
    return alpha.masked_fill(~mask, float("-inf")).softmax(-1)


COST_LOSSES = ("mul#log", "add#linear")
"""``strategy.cost_loss``: ProxylessNAS's multiplicative log term, or an additive linear one (see ``cost_loss``)."""


class GradientStrategy(Strategy):
    """Base of relaxed, gradient-based strategies: ``alpha`` + an arch optimizer + a bilevel ``train_step``.

    Reads ``strategy.arch_lr``, ``arch_beta1``, ``arch_beta2``, ``arch_weight_decay`` (Adam on the
    architecture parameters), ``cost_loss``, ``cost_alpha``, ``cost_beta``, ``cost_lambda`` (the
    budget's term in the architecture loss, see ``cost_loss``) and ``init_scale`` (``alpha = init_scale * N(0, 1)`` drawn from
    ``ctx.generator``). ``alpha`` lives on ``ctx.device`` in the supernet's dtype; entries outside
    ``space.choice_mask`` stay 0 and are masked out of the softmax, so they never get weight.

    Per training batch the engine calls ``ask`` (the current relaxed weights) and then
    ``train_step``, which (1) draws ``ctx.next_val_batch()``, (2) asks ``arch_gradients`` for the
    gradient of every tensor of ``arch_parameters()`` and applies one arch-optimizer step, and
    (3) trains the weights with ``ctx.train_weights(batch, self.weight_arch())``.
    """

    selection = "space derive of softmax(alpha), the learned architecture weights"
    keys = (
        Key("arch_lr", 3e-4, "Adam learning rate of the architecture parameters", low=0, low_open=True, high=1),
        Key("arch_beta1", 0.5, "Adam beta1 of the architecture parameters", low=0, high=1, high_open=True),
        Key("arch_beta2", 0.999, "Adam beta2 of the architecture parameters", low=0, high=1, high_open=True),
        Key("arch_weight_decay", 1e-3, "Adam weight decay of the architecture parameters", low=0, high=1),
        Key("init_scale", 1e-3, "alpha starts as init_scale * N(0, 1)", low=0),
        Key(
            "cost_loss",
            "mul#log",
            "budget term of the arch loss: mul#log (ProxylessNAS) or add#linear",
            choices=COST_LOSSES,
        ),
        Key("cost_alpha", 0.2, "mul#log: the loss is scaled by cost_alpha", low=0, low_open=True),
        Key("cost_beta", 0.3, "mul#log: exponent of log(expected cost) / log(limit)", low=0),
        Key("cost_lambda", 0.1, "add#linear: weight of (expected cost - limit) / limit", low=0),
    )

    alpha: torch.Tensor
    mask: torch.Tensor
    arch_optimizer: torch.optim.Optimizer

    # -- construction ---------------------------------------------------------------------------
    def setup(self, space: SearchSpace, ctx: SearchContext) -> None:
        dtype = next((p.dtype for p in ctx.supernet.parameters() if p.is_floating_point()), torch.float32)
        self.mask = space.choice_mask.to(ctx.device)
        init = float(self.config["init_scale"]) * torch.randn(self.mask.shape, generator=ctx.generator)
        self.alpha = init.to(device=ctx.device, dtype=dtype).masked_fill(~self.mask, 0).requires_grad_()
        self.arch_optimizer = self.build_arch_optimizer(self.arch_parameters())

    def arch_parameters(self) -> list[torch.Tensor]:
        """Every tensor the arch optimizer updates; ``arch_gradients`` returns one gradient per entry."""
        return [self.alpha]

    def build_arch_optimizer(self, params: list[torch.Tensor]) -> torch.optim.Optimizer:
        cfg = self.config
        return torch.optim.Adam(
            params,
            lr=cfg["arch_lr"],
            betas=(cfg["arch_beta1"], cfg["arch_beta2"]),
            weight_decay=cfg["arch_weight_decay"],
        )

    # -- the relaxed architecture ---------------------------------------------------------------
    def relaxed(self) -> Relaxed:
        """The mixed-op weights ``[num_decisions, max_choices]``, differentiable in ``alpha``."""
        return masked_softmax(self.alpha, self.mask)

    def weight_arch(self) -> ArchLike:
        """What the weight step trains through (after the arch step): DARTS, the detached relaxed weights."""
        return self.relaxed().detach()

    def scores(self) -> torch.Tensor:
        """Per-decision scores ``derive`` turns into the final architecture."""
        return self.relaxed().detach().cpu()

    def ask(self) -> ArchLike:
        return self.relaxed().detach()

    def cost_loss(self, loss: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``loss`` with ProxylessNAS's cost term for every budgeted cost (docs/algorithms.md#cost-terms).

        ``E`` is the cost's expectation under ``weights`` and ``ref`` the budget's limit:
        ``mul#log`` (default) is ``cost_alpha · loss · Π (log E / log ref)^cost_beta``, ``add#linear`` is
        ``loss + Σ cost_lambda · (E − ref) / ref``. Without a budget the loss is unchanged.
        """
        terms = self.ctx.cost_terms(weights)
        if not terms:
            return loss
        if self.config["cost_loss"] == "add#linear":
            lam = self.config["cost_lambda"]
            return loss + sum(lam * (t.expected - t.limit) / t.limit for t in terms)
        alpha, beta = self.config["cost_alpha"], self.config["cost_beta"]
        for t in terms:
            loss = loss * (torch.log(t.expected) / math.log(t.limit)) ** beta
        return alpha * loss

    # -- the bilevel step -----------------------------------------------------------------------
    def arch_gradients(self, train_batch: Batch, val_batch: Batch) -> list[torch.Tensor]:
        """Gradients for ``arch_parameters()``; the supernet weights must be unchanged on return."""
        raise NotImplementedError

    def arch_step(self, train_batch: Batch, val_batch: Batch) -> None:
        """One arch-optimizer step with the gradients of ``arch_gradients``."""
        grads = self.arch_gradients(train_batch, val_batch)
        self.arch_optimizer.zero_grad(set_to_none=True)
        for p, g in zip(self.arch_parameters(), grads):
            p.grad = g.detach()
        self.ctx.world.all_reduce_gradients(self.arch_parameters())  # ranks keep one alpha
        self.arch_optimizer.step()

    def train_step(self, batch: Batch, arch: ArchLike) -> torch.Tensor:
        """Architecture step on a validation batch, then a weight step on ``batch`` with the updated weights."""
        if not self.ctx.supernet.training:
            self.ctx.supernet.train()
        self.arch_step(batch, self.ctx.next_val_batch())
        return self.ctx.train_weights(batch, self.weight_arch())

    # -- result, metrics, state -----------------------------------------------------------------
    def final(self) -> Arch:
        """``derive`` of the scores inside the budget; exact ties are a draw from the strategy generator."""
        return self.ctx.derive(self.scores())

    def metrics(self) -> dict[str, Any]:
        """How decided the relaxed weights are, ``samples`` (the arch steps they learned from), and the
        expectation of every budgeted cost under them."""
        with torch.no_grad():
            weights = self.relaxed()
            return {
                **distribution_metrics(self.space, weights, self.ctx.cost_terms(weights)),
                "samples": int(self.ctx.step),
            }

    def state_dict(self) -> dict[str, Any]:
        return {"alpha": self.alpha.detach().clone(), "arch_optimizer": self.arch_optimizer.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for key in ("alpha", "arch_optimizer"):
            if key not in state:
                raise CheckpointError(f"{self.name} state has no {key!r}")
        alpha = torch.as_tensor(state["alpha"])
        if alpha.shape != self.alpha.shape:
            raise CheckpointError(
                f"{self.name} state 'alpha' has shape {tuple(alpha.shape)}, this space needs {tuple(self.alpha.shape)}"
            )
        with torch.no_grad():
            self.alpha.copy_(alpha.to(device=self.alpha.device, dtype=self.alpha.dtype))
        # Adam moves its moment tensors onto alpha's device itself; a JSON round trip turns the
        # betas tuple into a list, which Adam unpacks the same way.
        # (deep-copied: Adam keeps same-device tensors as they are, which would alias the caller's)
        self.arch_optimizer.load_state_dict(copy.deepcopy(dict(state["arch_optimizer"])))
