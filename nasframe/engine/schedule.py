"""Learning-rate schedules over a run's budget, as a function of the share of it already spent."""
from __future__ import annotations

import math


def cosine_lr(base: float, minimum: float, fraction: float) -> float:
    """Cosine annealing from ``base`` at fraction 0 towards ``minimum`` at fraction 1 (as DARTS's scheduler)."""
    return minimum + (base - minimum) * (1 + math.cos(math.pi * fraction)) / 2
