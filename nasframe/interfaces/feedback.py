"""What the engine tells a strategy about an architecture it trained."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Feedback:
    """What the engine tells a strategy about an architecture it trained."""

    accuracy: float
    """Validation top-1 in [0, 1]."""
    loss: float
    epoch: int
    """The 0-based epoch the feedback was measured in."""
    step: int
    """The global training step the feedback was measured after."""
    images: int
    """Validation images the accuracy was measured on."""
