"""Learning-rate schedules over a run's budget: one function picks the rate of an epoch for search and training."""
from __future__ import annotations

import math
from typing import Any, Mapping

from nasframe.interfaces.errors import ConfigError

SCHEDULES = ("cosine", "exponential", "step")
"""``train.schedule``: cosine annealing to ``train.lr_min`` (DARTS's CIFAR scheduler); ``exponential``,
the rate times ``train.gamma`` every epoch (DARTS's ImageNet StepLR(1, 0.97)); ``step``, times
``train.gamma`` every ``train.step_epochs`` epochs."""


def cosine_lr(base: float, minimum: float, fraction: float) -> float:
    """Cosine annealing from ``base`` at fraction 0 towards ``minimum`` at fraction 1 (as DARTS's scheduler)."""
    return minimum + (base - minimum) * (1 + math.cos(math.pi * fraction)) / 2


def check_schedule(train: Mapping[str, Any]) -> None:
    """Refuse an unknown schedule or a decay that is not a rate in (0, 1] before any epoch runs."""
    name = train.get("schedule", "cosine")
    if name not in SCHEDULES:
        raise ConfigError(f"train.schedule must be one of {', '.join(SCHEDULES)}, not {name!r}")
    if name == "cosine":
        return
    gamma = train.get("gamma")
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not 0 < gamma <= 1:
        raise ConfigError(f"train.gamma must be a number in (0, 1] for the {name} schedule, not {gamma!r}")
    period = train.get("step_epochs")
    if name == "step" and (isinstance(period, bool) or not isinstance(period, int) or period < 1):
        raise ConfigError(f"train.step_epochs must be a positive integer for the step schedule, not {period!r}")


def epoch_lr(train: Mapping[str, Any], epoch: int, fraction: float) -> float:
    """The learning rate of ``epoch`` (0-based) under ``train.schedule``; ``fraction`` is the budget spent."""
    check_schedule(train)
    name, base = train.get("schedule", "cosine"), float(train["lr"])
    if name == "cosine":
        return cosine_lr(base, float(train["lr_min"]), fraction)
    period = 1 if name == "exponential" else int(train["step_epochs"])
    return base * float(train["gamma"]) ** (epoch // period)
