"""The Strategy interface: which architectures to train, and which one is best."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Mapping

import torch

from nasframe.interfaces.feedback import Feedback
from nasframe.interfaces.keys import Configurable
from nasframe.interfaces.space import Arch, ArchLike, SearchSpace

if TYPE_CHECKING:
    from nasframe.interfaces.context import SearchContext


def mean_entropy(weights: torch.Tensor) -> float:
    """Mean over rows of each row's entropy in nats (``0 log 0 = 0``): how undecided a distribution still is."""
    return float(torch.special.entr(weights.detach()).sum(-1).mean())


class Strategy(Configurable, ABC):
    """Decides which architectures to train and learns which is best; sees only decisions and choices.

    The engine calls ``setup`` once, ``ask`` whenever it starts a new sample (every step, or every
    epoch when ``sample_every == "epoch"``), ``train_step`` for every training batch, ``tell`` with
    validation feedback (after every epoch, or every step when ``feedback_every == "step"``), and
    ``final`` at the end. The engine, not the strategy, owns epochs, the clock and the data.
    """

    name: ClassVar[str] = ""
    # ``keys``: the ``strategy.*`` settings it reads, declared as ``nasframe.Key`` (type, range, default, help)
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    """Per preset, dotted config overrides giving the search setting of the strategy's own paper."""
    selection: ClassVar[str] = ""
    """How ``final`` picks the architecture, in words, for a bench's protocol record; ``{key}`` is the
    ``strategy.key`` config value, and a text naming ``derive`` is followed by the space's derive rule."""

    space: SearchSpace
    ctx: SearchContext

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config: dict[str, Any] = self.checked_config(config or {}, "strategy")

    @property
    def sample_every(self) -> Literal["step", "epoch"]:
        """How long one asked architecture is trained before the engine asks again."""
        return "step"

    @property
    def feedback_every(self) -> Literal["step", "epoch"]:
        """``step``: tell after every step (one validation batch); ``epoch``: after every epoch."""
        return "epoch"

    def setup(self, space: SearchSpace, ctx: SearchContext) -> None:
        """Create the strategy's state; ``self.space`` and ``self.ctx`` are already set."""

    @abstractmethod
    def ask(self) -> ArchLike:
        """The architecture to train next: an Arch (single path) or Relaxed weights (mixed)."""

    def tell(self, arch: ArchLike, feedback: Feedback) -> None:
        """Learn from the validation result of an architecture that was trained."""

    @abstractmethod
    def final(self) -> Arch:
        """The architecture the search returns."""

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor], arch: ArchLike) -> torch.Tensor:
        """Train the shared weights on one batch; bilevel methods override this (see docs/plugins.md)."""
        return self.ctx.train_weights(batch, arch)

    def metrics(self) -> dict[str, Any]:
        """Extra per-epoch values for events.jsonl and the progress display."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Resumable state: tensors plus JSON-able values, so it checkpoints into safetensors."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""
