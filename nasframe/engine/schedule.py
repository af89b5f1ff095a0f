"""Learning-rate schedules over a run's budget: one function picks the rate of an epoch for search and training."""

from __future__ import annotations

import math
from typing import Any, Mapping


def cosine_lr(base: float, minimum: float, fraction: float) -> float:
    """Cosine annealing from ``base`` at fraction 0 towards ``minimum`` at fraction 1 (as DARTS's scheduler)."""
    return minimum + (base - minimum) * (1 + math.cos(math.pi * fraction)) / 2


def epoch_lr(train: Mapping[str, Any], epoch: int, fraction: float) -> float:
    """The learning rate of ``epoch`` (0-based) under ``train.schedule``; ``fraction`` is the budget spent.

    ``cosine`` anneals to ``train.lr_min`` (DARTS's CIFAR scheduler); ``exponential`` multiplies the rate by
    ``train.gamma`` every epoch (DARTS's ImageNet StepLR(1, 0.97)); ``step`` every ``train.step_epochs`` epochs.
    """
    name, base = train.get("schedule", "cosine"), float(train["lr"])
    if name == "cosine":
        return cosine_lr(base, float(train["lr_min"]), fraction)
    period = 1 if name == "exponential" else int(train["step_epochs"])
    return base * float(train["gamma"]) ** (epoch // period)
