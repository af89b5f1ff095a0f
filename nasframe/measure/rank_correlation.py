"""Rank correlation for the performance-ranking study (docs/algorithms.md#ranking-study): Kendall's τ-b and p_τ.

Pure Python, no dependencies: the study ranks a handful of architectures, so the O(n²) pair count
is instant and easy to check by hand.
"""

from __future__ import annotations

import math
from typing import Sequence

PAPER_MEAN_TAU = 0.474
"""MdeNAS (Zheng et al., ICCV 2019), Figure 4: mean τ between each epoch's ranking and the final one."""


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's τ-b between two equally long sequences of scores.

    Over all pairs i < j: P concordant (x and y order the pair the same way), Q discordant, T_x tied in
    x only, T_y tied in y only (pairs tied in both count nowhere):
    τ-b = (P − Q) / sqrt((P + Q + T_x)(P + Q + T_y)). Without ties it is (P − Q)/(P + Q), the τ of docs/algorithms.md#ranking-study.

    Undefined cases return ``nan``: fewer than two items, or either sequence all tied (then one
    denominator factor is 0: a ranking where every item ties carries no order to compare).
    """
    if len(x) != len(y):
        raise ValueError(f"kendall_tau_b needs sequences of equal length, got {len(x)} and {len(y)}")
    concordant = discordant = tied_x = tied_y = 0
    n = len(x)
    for i in range(n):
        for j in range(i + 1, n):
            dx = (x[i] > x[j]) - (x[i] < x[j])
            dy = (y[i] > y[j]) - (y[i] < y[j])
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                tied_x += 1
            elif dy == 0:
                tied_y += 1
            elif dx == dy:
                concordant += 1
            else:
                discordant += 1
    denominator = math.sqrt((concordant + discordant + tied_x) * (concordant + discordant + tied_y))
    if denominator == 0:
        return math.nan
    return (concordant - discordant) / denominator


def p_tau(tau: float) -> float:
    """(τ + 1) / 2: the chance that a random pair keeps its order (``nan`` stays ``nan``)."""
    return (tau + 1) / 2


def epoch_taus(curves: Sequence[Sequence[float]], reference: int = -1) -> list[float]:
    """τ-b between each epoch's ranking and the ``reference`` epoch's (default: the last).

    ``curves[a][e]`` is architecture ``a``'s score after epoch ``e``; every curve has the same length.
    """
    if not curves:
        return []
    lengths = {len(c) for c in curves}
    if len(lengths) != 1:
        raise ValueError(f"every architecture needs the same number of epochs, got lengths {sorted(lengths)}")
    epochs = lengths.pop()
    if epochs == 0:
        return []
    final = [c[reference] for c in curves]
    return [kendall_tau_b([c[e] for c in curves], final) for e in range(epochs)]


def mean_tau(taus: Sequence[float]) -> float:
    """Mean over the epochs before the reference one (the last, whose τ with itself is 1 by definition);
    undefined (``nan``) epochs are left out; ``nan`` when nothing is left."""
    values = [t for t in taus[:-1] if not math.isnan(t)]
    return sum(values) / len(values) if values else math.nan
