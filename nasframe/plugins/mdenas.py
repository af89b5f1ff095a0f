"""MdeNAS (Zheng et al., ICCV 2019): multinomial distribution learning, as the paper defines it (docs/algorithms.md#mdenas).

Every decision keeps a multinomial distribution ``p`` over its choices, the number of epochs ``He``
each choice was trained, and ``Ha``, the validation accuracy of the latest sampled network that
contained the choice. Each round draws one choice per decision from ``p``, trains that single path,
measures it, and moves ``p`` by the pairwise comparison rule in :func:`update_probabilities`.

Two sampling modes (``strategy.sample_every``):

- ``epoch`` (default): one architecture per epoch, trained for the whole epoch and measured on the
  whole validation split; ``He`` counts epochs. This is the paper's Algorithm 1, so its reported
  numbers come from this mode (the released repository holds evaluation code only, no search loop).
- ``step``: a new architecture every training step; ``He`` counts steps and ``Ha`` is the accuracy on
  one validation batch measured right after the step (the engine tells with
  ``evaluate(arch, max_batches=1)``). ``strategy.lr`` is a per-update step, so this mode moves ``p``
  far more often per epoch than the paper's setting.
"""

from __future__ import annotations

from typing import Any, Literal, Mapping

import torch

import nasframe
from nasframe import Arch, CheckpointError, Key

MODES = ("epoch", "step")


def update_probabilities(
    p: torch.Tensor,
    epochs: torch.Tensor,
    accuracies: torch.Tensor,
    lr: float,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """One MdeNAS update of multinomial distributions; pure and vectorised over rows of shape ``[..., M]``.

    With ``dHe[i, j] = He_i - He_j`` and ``dHa[i, j] = Ha_i - Ha_j`` (all comparisons strict, so
    ties count nothing)::

        p_i <- p_i + lr * ( #{j : dHe[i, j] < 0 and dHa[i, j] > 0} - #{j : dHe[i, j] > 0 and dHa[i, j] < 0} )

    A choice gains one ``lr`` for each rival trained more that scores lower and loses one for each
    rival trained less that scores higher. The increments of a row sum to zero; negative entries are
    then clipped to 0 and every row is renormalised to sum to 1 (never a softmax).

    ``mask`` (bool, broadcastable to ``p``) marks the real choices of rows that have fewer than ``M``
    (a space whose decisions have different numbers of choices): masked-out entries are never
    compared with anything and come back as exactly 0. Without a mask every entry is a real choice.
    """
    d_he = epochs.unsqueeze(-1) - epochs.unsqueeze(-2)  # [..., M, M]: [i, j] = He_i - He_j
    d_ha = accuracies.unsqueeze(-1) - accuracies.unsqueeze(-2)
    gains = (d_he < 0) & (d_ha > 0)
    losses = (d_he > 0) & (d_ha < 0)
    if mask is not None:
        mask = mask.to(torch.bool).expand(p.shape)
        pair = mask.unsqueeze(-1) & mask.unsqueeze(-2)
        gains = gains & pair
        losses = losses & pair
    delta = gains.sum(-1) - losses.sum(-1)
    out = (p + lr * delta.to(p.dtype)).clamp_min(0)
    if mask is not None:
        out = out.masked_fill(~mask, 0)
    return out / out.sum(-1, keepdim=True)


class MdeNAS(nasframe.Strategy):
    """Multinomial distribution learning (docs/algorithms.md#mdenas): sample from ``p``, train one path, compare, update ``p``.

    State, one row per decision in ``space.decisions`` order and one column per choice (float64,
    ``[num_decisions, max_choices]``, entries beyond a decision's real choices stay 0):
    ``probabilities`` (uniform over the real choices at start), ``epochs`` (He) and ``accuracies`` (Ha).
    The result is ``ctx.derive`` (``space.derive``, inside the run's budget) of the probabilities
    (for the DARTS space, the genotype of docs/algorithms.md#deriving-a-genotype).
    ``strategy.sample_every``: ``epoch`` (default, the paper's Algorithm 1) or
    ``step`` (see the module docstring).
    """

    name = "mdenas"
    keys = (
        Key(
            "sample_every",
            "epoch",
            "epoch: one architecture per epoch (the paper); step: one per training step",
            choices=MODES,
        ),
        Key("lr", 0.01, "step of the probability update", low=0, low_open=True),
    )
    selection = "space derive of the learned multinomial probabilities p (one sample per {sample_every})"
    # No presets of its own: MdeNAS is the seed paper, so every space's `paper` preset is its search
    # setting (DARTS space: 6 cells, C=16, batch 512, 100 epochs, SGD 0.025 cosine to 0, 5,000 held out).

    @property
    def sample_every(self) -> Literal["step", "epoch"]:
        return self.config["sample_every"]

    @property
    def feedback_every(self) -> Literal["step", "epoch"]:
        return self.config["sample_every"]

    def setup(self, space: nasframe.SearchSpace, ctx: Any) -> None:
        self.mask = space.choice_mask
        counts = self.mask.sum(-1, keepdim=True).to(torch.float64)
        self.probabilities = self.mask.to(torch.float64) / counts
        self.epochs = torch.zeros(self.mask.shape, dtype=torch.float64)
        self.accuracies = torch.zeros(self.mask.shape, dtype=torch.float64)

    def ask(self) -> Arch:
        """One choice per decision from Multinomial(p_d), drawn from the engine's strategy generator (inside the budget)."""
        return self.ctx.sample_feasible(self._draw)

    def _draw(self) -> Arch:
        idx = torch.multinomial(self.probabilities, 1, generator=self.ctx.generator).squeeze(-1)
        return {d.name: int(i) for d, i in zip(self.space.decisions, idx.tolist())}

    def _index(self, arch: Arch) -> torch.Tensor:
        return torch.tensor([arch[d.name] for d in self.space.decisions], dtype=torch.long)

    def tell(self, arch: Any, feedback: nasframe.Feedback) -> None:
        """He += 1 and Ha = accuracy for every sampled choice, then update p of every decision."""
        rows = torch.arange(len(self.space.decisions))
        cols = self._index(arch)
        self.epochs[rows, cols] += 1
        self.accuracies[rows, cols] = float(feedback.accuracy)
        self.probabilities = update_probabilities(
            self.probabilities, self.epochs, self.accuracies, float(self.config["lr"]), self.mask
        )

    def final(self) -> Arch:
        """``derive`` of ``p`` inside the budget; ties (an untrained ``p`` is all ties) are a draw from the strategy generator."""
        return self.ctx.derive(self.probabilities)

    def metrics(self) -> dict[str, Any]:
        """How decided ``p`` is, the budgeted costs expected under it, and ``samples`` (measurements per decision)."""
        p = self.probabilities
        return {
            **nasframe.distribution_metrics(self.space, p, self.ctx.cost_terms(p)),
            "samples": int(self.epochs[0].sum()),
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "probabilities": self.probabilities.clone(),
            "epochs": self.epochs.clone(),
            "accuracies": self.accuracies.clone(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for key in ("probabilities", "epochs", "accuracies"):
            if key not in state:
                raise CheckpointError(f"mdenas state has no {key!r}")
            value = torch.as_tensor(state[key])
            current = getattr(self, key)
            if value.shape != current.shape:
                raise CheckpointError(
                    f"mdenas state {key!r} has shape {tuple(value.shape)}, this space needs {tuple(current.shape)}"
                )
            setattr(self, key, value.to(dtype=torch.float64, device="cpu").clone())


@nasframe.hookimpl
def register_strategies(register: Any) -> None:
    register(MdeNAS)
