"""How decided a search's distribution is, and how ``derive`` breaks its ties: by the seed, never by position."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import torch

from nasframe.interfaces.strategy import mean_entropy

if TYPE_CHECKING:
    from nasframe.interfaces.cost_model import CostTerm
    from nasframe.interfaces.space import SearchSpace

NEAR_TIE_MARGIN = 0.01
"""Top-two gap (in probability) below which a decision counts as undecided: one MdeNAS update at its
default ``strategy.lr`` moves a choice's probability by 0.01, so one more sample could swap such a pair."""


def ranked_choices(values: Sequence[float], generator: torch.Generator | None = None) -> list[int]:
    """Indices of ``values`` from highest to lowest; equal values in the generator's random order.

    Without a generator equal values keep their positions (the lower index first), as before seeds
    broke ties; a search passes its strategy generator so that an undecided choice is a draw.
    """
    order = torch.randperm(len(values), generator=generator).tolist() if generator is not None else range(len(values))
    priority = {index: rank for rank, index in enumerate(order)}
    return sorted(range(len(values)), key=lambda i: (-values[i], priority[i]))


def near_tie_share(weights: torch.Tensor, mask: torch.Tensor, margin: float = NEAR_TIE_MARGIN) -> float:
    """Share of rows whose two highest real choices differ by less than ``margin``."""
    if mask.shape[-1] < 2:
        return 0.0
    top = weights.detach().double().cpu().masked_fill(~mask.cpu(), float("-inf")).topk(2, dim=-1).values
    gaps = top[:, 0] - top[:, 1]
    real = mask.sum(-1) >= 2  # a decision with one choice is decided by construction
    if not bool(real.any()):
        return 0.0
    return float((gaps[real.cpu()] < margin).double().mean())


def skip_share(space: SearchSpace, weights: torch.Tensor) -> float:
    """Mean weight on the space's parameter-free shortcuts (``space.shortcuts``): DARTS's collapse shows as this
    rising."""
    rows = [
        sum(float(weights[i, k]) for k, name in enumerate(d.choices) if name in space.shortcuts)
        for i, d in enumerate(space.decisions)
    ]
    return sum(rows) / len(rows) if rows else 0.0


def distribution_metrics(space: SearchSpace, weights: torch.Tensor, costs: Sequence[CostTerm] = ()) -> dict[str, Any]:
    """A strategy's per-epoch record of its weights over choices ``[num_decisions, max_choices]``.

    ``entropy`` (mean nats; ``entropy_max`` is that of the uniform distribution), ``near_ties`` (share
    of decisions whose top two choices are within :data:`NEAR_TIE_MARGIN`), ``skip_share``; and with
    ``costs`` (``ctx.cost_terms(weights)`` under a budget), ``expected_<metric>``: the cost the search is heading for.
    """
    weights = weights.detach().double().cpu()
    mask = space.choice_mask
    counts = mask.sum(-1).double()
    return {
        "entropy": mean_entropy(weights),
        "entropy_max": float(counts.log().mean()),
        "near_ties": near_tie_share(weights, mask),
        "skip_share": skip_share(space, weights),
        "choices": int(counts.max()),
        **{f"expected_{t.metric}": float(t.expected) for t in costs},
    }
