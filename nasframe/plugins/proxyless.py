"""ProxylessNAS (Cai et al., ICLR 2019): binarised paths, binary-gate gradients, a cost loss (docs/algorithms.md#proxylessnas).

Written against the public API like any third party: the bilevel machinery (``alpha``, its Adam
optimizer, checkpointing, ``final``) is :class:`nasframe.GradientStrategy`'s; this module adds the
path binarisation, the gradient estimate through the binary gates and ProxylessNAS's schedule of
weight and architecture steps.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

import nasframe
from nasframe import Arch, Batch, ConfigError, GradientStrategy, Key, grads_or_zeros, masked_softmax

MODES = ("full", "two")
RELEASED = {"arch_lr": 1e-3, "arch_beta1": 0.0, "arch_beta2": 0.999, "arch_weight_decay": 0.0}
"""The architecture optimizer of ProxylessNAS's released search code, in place of GradientStrategy's (DARTS's)."""


def binary_gate_gradient(gate_grads: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """ProxylessNAS's ``dL/dα_i = Σ_j dL/dg_j · p_j · (δ_ij − p_i)``, row by row.

    ``gate_grads`` and ``probs`` are ``[num_decisions, max_choices]``: ``dL/dg_j`` of every path
    whose gate gradient is known (zero elsewhere) and the probabilities of the paths involved
    (zero outside them). In closed form the sum is ``p_i·g_i − p_i·Σ_j g_j·p_j``.
    """
    weighted = gate_grads * probs
    return weighted - probs * weighted.sum(-1, keepdim=True)


class ProxylessNAS(GradientStrategy):
    """ProxylessNAS (docs/algorithms.md#proxylessnas): one sampled path per decision, trained and differentiated.

    Every training step trains the weights through a path ``ask`` drew from ``p = softmax(α)``
    (inside the run's budget). Every ``update_arch_every`` steps, once ``warmup_epochs`` epochs are
    done, an architecture step draws a fresh path, runs a validation batch through it with every
    chosen path's output scaled by a binary gate ``g = 1``, and turns ``dL/dg`` into the gradient of
    ``α`` with :func:`binary_gate_gradient`. ``binary_mode``: ``full`` (default; ``p`` over every
    choice, and only the sampled path's ``dL/dg`` is computed: the released code also runs every other
    candidate to get theirs, one forward of each candidate per decision, and here a step costs what a
    single-path step costs; an unsampled path's ``dL/dg`` counts as 0) or ``two`` (the paper's
    two-path estimate: two candidates drawn from ``p``, the path from their renormalised pair, the
    other one run alongside without a graph as the supernet's ``probe`` so that both ``dL/dg`` are
    exact, the gradient over the pair, and after the Adam step the pair's ``α`` shifted to keep
    their ``logsumexp``, as the released code does). Under a budget the loss carries
    ``GradientStrategy.cost_loss``'s expected-cost term (ProxylessNAS's ``mul#log`` by default) and
    ``final`` derives inside it.
    Defaults follow the released search code (Adam lr 1e-3, betas (0, 0.999), no weight decay,
    an architecture update every 5 steps).
    """

    name = "proxyless"
    keys = (
        *(replace(key, default=RELEASED[key.name]) if key.name in RELEASED else key for key in GradientStrategy.keys),
        Key("binary_mode", "full", "full: p over every choice; two: the paper's two-path estimate", choices=MODES),
        Key("update_arch_every", 5, "training steps between architecture steps", low=1),
        Key("warmup_epochs", 0, "epochs of weight training before the first architecture step", low=0),
    )
    presets = {"tiny": {"strategy.update_arch_every": 1}}

    def setup(self, space: nasframe.SearchSpace, ctx: nasframe.SearchContext) -> None:
        super().setup(space, ctx)
        if self.config["binary_mode"] == "two" and int(self.mask.sum(-1).min()) < 2:
            raise ConfigError("strategy.binary_mode=two needs at least two choices in every decision")
        self.pair: torch.Tensor | None = None

    # -- binarisation ---------------------------------------------------------------------------
    def binarize(self) -> tuple[Arch, torch.Tensor, Arch | None]:
        """One active path per decision, the probabilities of the involved paths, and (``two``) the pair's other path."""
        gen = self.ctx.generator
        p = masked_softmax(self.alpha.detach(), self.mask).double().cpu()
        names = [d.name for d in self.space.decisions]
        if self.config["binary_mode"] == "full":
            active = torch.multinomial(p, 1, generator=gen).squeeze(1)
            arch = dict(zip(names, active.tolist()))
            return arch, p.to(device=self.alpha.device, dtype=self.alpha.dtype), None
        self.pair = torch.multinomial(p, 2, replacement=False, generator=gen)
        pair_p = self.alpha.detach().double().cpu().gather(1, self.pair).softmax(-1)
        pick = torch.multinomial(pair_p, 1, generator=gen)
        arch = dict(zip(names, self.pair.gather(1, pick).squeeze(1).tolist()))
        other = dict(zip(names, self.pair.gather(1, 1 - pick).squeeze(1).tolist()))
        probs = torch.zeros_like(p).scatter(1, self.pair, pair_p)
        return arch, probs.to(device=self.alpha.device, dtype=self.alpha.dtype), other

    def ask(self) -> Arch:
        return self.ctx.sample_feasible(lambda: self.binarize()[0])

    # -- the steps ------------------------------------------------------------------------------
    def train_step(self, batch: Batch, arch: Any) -> torch.Tensor:
        """The weight step through the sampled path, then (on schedule) an architecture step on a validation batch."""
        loss = self.ctx.train_weights(batch, arch)
        ctx = self.ctx
        if (
            ctx.epoch >= int(self.config["warmup_epochs"])
            and (ctx.step + 1) % int(self.config["update_arch_every"]) == 0
        ):
            self.arch_step(batch, ctx.next_val_batch())
        return loss

    def arch_gradients(self, train_batch: Batch, val_batch: Batch) -> list[torch.Tensor]:
        """A validation batch through a fresh path with binary gates; ``dL/dg`` of the path (and, ``two``, the pair's other)."""
        arch, probs, other = self.binarize()
        paths = [arch] if other is None else [arch, other]
        index = torch.tensor([[p[d.name] for p in paths] for d in self.space.decisions], device=self.alpha.device)
        gates = torch.zeros(index.shape, device=self.alpha.device, dtype=self.alpha.dtype)
        gates[:, 0] = 1.0  # the active path's gate is 1, the other's 0: the forward's values are the path's
        gates = (gates[:, 0] if other is None else gates).requires_grad_()
        loss, _ = self.ctx.forward_loss(val_batch, arch, gates=gates, probe=other)
        d_gates, d_alpha = grads_or_zeros(self.cost_loss(loss, self.relaxed()), [gates, self.alpha])
        gate_grads = torch.zeros_like(probs).scatter(1, index, d_gates.reshape(index.shape))
        return [d_alpha + binary_gate_gradient(gate_grads, probs)]

    def arch_step(self, train_batch: Batch, val_batch: Batch) -> None:
        """The Adam step; in ``two`` mode the pair's ``α`` is then shifted so its ``logsumexp`` is what it was."""
        before = self.alpha.detach().clone()
        super().arch_step(train_batch, val_batch)
        if self.config["binary_mode"] == "two" and self.pair is not None:
            pair = self.pair.to(self.alpha.device)
            with torch.no_grad():
                new = self.alpha.gather(1, pair)
                offset = new.logsumexp(-1, keepdim=True) - before.gather(1, pair).logsumexp(-1, keepdim=True)
                self.alpha.scatter_(1, pair, new - offset)


@nasframe.hookimpl
def register_strategies(register: Any) -> None:
    register(ProxylessNAS)
