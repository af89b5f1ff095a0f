"""A run whose loss is no longer a number stops, instead of training on NaN weights to a meaningless result.

Once a loss is NaN or infinite every later step is too (SGD spreads the NaN into every weight), yet the
loop would go on for every remaining epoch and write a checkpoint and an arch.json that look like results.
The usual cause is a learning rate too high for the network. ``train.nonfinite = "continue"`` keeps the
old behaviour for a user who wants to see it happen.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

from nasframe.interfaces.errors import NasframeError


class Diverged(NasframeError):
    """The training loss became NaN or infinite."""


def check_finite(metrics: Mapping[str, Any], config: Mapping[str, Any], epoch: int, kept: Path | None) -> None:
    """Raise ``Diverged`` when a loss of the epoch (0-based ``epoch``) is not finite and the config says stop.

    ``kept``: the run folder when it holds the checkpoint of the last good epoch, else None. Called before
    the epoch is recorded, so that checkpoint stays the newest one.
    """
    train = config.get("train", {})
    if train.get("nonfinite", "stop") != "stop":
        return
    bad = [
        f"{key} {value}"
        for key, value in metrics.items()
        if key.endswith("loss") and isinstance(value, float) and not math.isfinite(value)
    ]
    if not bad:
        return
    left = (
        f"{kept} keeps the checkpoint of epoch {epoch}, the last good one"
        if kept is not None
        else "no epoch finished, so there is no checkpoint to keep"
    )
    raise Diverged(
        f"epoch {epoch + 1}: the loss is not a number ({', '.join(bad)}); the learning rate "
        f"(train.lr={train.get('lr')}) is likely too high; {left}; start a new --out with a lower train.lr, "
        "or set train.nonfinite=continue to train on"
    )
