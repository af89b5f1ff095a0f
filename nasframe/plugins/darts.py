"""DARTS (Liu et al., ICLR 2019): first- and second-order differentiable search (docs/algorithms.md#darts-first-and-second-order).

The bilevel machinery (``alpha``, its Adam optimizer, the two-step ``train_step``) lives in
:class:`nasframe.GradientStrategy`; DARTS supplies the architecture gradient. See
``docs/gradient-strategies.md``.
"""

from __future__ import annotations

from typing import Any

import torch

import nasframe
from nasframe import Batch, GradientStrategy, Key, grads_or_zeros


class Darts(GradientStrategy):
    """DARTS (docs/algorithms.md#darts-first-and-second-order): ``strategy.order`` 1 (default) is ∇α L_val(w, α); 2 unrolled.

    Under a budget, L_val carries the expected-cost term of ``GradientStrategy.cost_loss`` (the
    expectation of multiply-adds, parameters or predicted latency under softmax(α)).

    Second order: virtual step ``w' = w - ξ(μ·momentum + ∇w L_train(w, α) + λw)`` with ξ the weight
    optimizer's current lr (``ctx.lr``), μ and λ its momentum and weight decay and the momentum
    buffer from its state (zero before the first step); then
    ``grad = ∇α L_val(w', α) - ξ·H`` with ``H = [∇α L_train(w⁺, α) - ∇α L_train(w⁻, α)] / (2ε)``,
    ``w± = w ± ε·∇w' L_val(w', α)``, ``ε = 0.01 / ‖∇w' L_val(w', α)‖`` (norm of all weight
    gradients concatenated). The weights are restored afterwards; a weight that a forward does not
    use has gradient zero.
    """

    name = "darts"
    keys = (
        Key("order", 1, "1: first-order arch gradient; 2: the unrolled second-order step", choices=(1, 2)),
        *GradientStrategy.keys,
    )
    presets = {
        "paper": {
            "space.layers": 8,
            "space.channels": 16,
            "train.batch_size": 64,
            "train.epochs": 50,
            "train.lr": 0.025,
            "train.lr_min": 0.001,
            "data.val_size": 0.5,
        }
    }

    def arch_gradients(self, train_batch: Batch, val_batch: Batch) -> list[torch.Tensor]:
        if self.config["order"] == 1:
            loss, _ = self.ctx.forward_loss(val_batch, self.relaxed())
            return grads_or_zeros(self.cost_loss(loss, self.relaxed()), [self.alpha])
        return [self.unrolled_gradient(train_batch, val_batch)]

    def unrolled_gradient(self, train_batch: Batch, val_batch: Batch) -> torch.Tensor:
        """The second-order architecture gradient (DARTS eq. 7 and 8; docs/algorithms.md#darts-first-and-second-order)."""
        ctx = self.ctx
        params = ctx.weights()
        xi = ctx.lr
        loss, _ = ctx.forward_loss(train_batch, self.relaxed().detach(), amp=False)
        g_train = grads_or_zeros(loss, params)
        saved = [p.detach().clone() for p in params]
        try:
            with torch.no_grad():  # w' = w - xi * (mu * momentum + dL_train/dw + lambda * w)
                for p, step in zip(params, ctx.weight_step(g_train)):
                    p.sub_(xi * step)
            del g_train
            loss, _ = ctx.forward_loss(val_batch, self.relaxed(), amp=False)
            d_alpha, *d_w = grads_or_zeros(self.cost_loss(loss, self.relaxed()), [self.alpha, *params])
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in d_w]))
            eps = 0.01 / norm.clamp_min(1e-12)  # a tensor: no host sync
            grads = []
            for sign in (1.0, -1.0):  # w+ = w + eps * d_w, then w- = w - eps * d_w
                with torch.no_grad():
                    for p, w, g in zip(params, saved, d_w):
                        p.copy_(w + (sign * eps).to(w.dtype) * g)
                loss, _ = ctx.forward_loss(train_batch, self.relaxed(), amp=False)
                grads.append(grads_or_zeros(loss, [self.alpha])[0])
            hessian = (grads[0] - grads[1]) / (2 * eps).to(grads[0].dtype)
            return d_alpha - xi * hessian
        finally:
            with torch.no_grad():
                for p, w in zip(params, saved):
                    p.copy_(w)


@nasframe.hookimpl
def register_strategies(register: Any) -> None:
    register(Darts)
