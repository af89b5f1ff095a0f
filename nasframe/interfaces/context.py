"""The SearchContext a strategy and an evaluator see: the engine's side of the plugin contract."""

from __future__ import annotations

from typing import Any, Callable, Iterator, Protocol

import torch

from nasframe.interfaces.cost_model import CostTerm
from nasframe.interfaces.feedback import Feedback
from nasframe.interfaces.space import Arch, ArchLike, DataInfo, SearchSpace, Supernet
from nasframe.interfaces.world import World

Batch = tuple[torch.Tensor, torch.Tensor]
"""Images (normalised, on the training device) and integer labels."""


class Batches(Protocol):
    """One split as an iterable of device batches; ``epoch`` draws its order from ``generator``."""

    def __len__(self) -> int: ...

    def epoch(self, generator: torch.Generator | None = None) -> Iterator[Batch]: ...

    def sample(self, size: int, generator: torch.Generator) -> Batch:
        """A random batch of ``size`` images without augmentation (a bilevel method's validation step)."""
        ...

    @property
    def num_images(self) -> int: ...


class Splits(Protocol):
    """The splits of one run: a search has train and val, training from scratch train and test."""

    info: DataInfo
    train: Batches
    val: Batches | None
    test: Batches | None


class SearchContext(Protocol):
    """What the engine hands a strategy (``self.ctx``) and an evaluator: everything but the budget.

    The engine owns epochs, the clock and the data; a strategy reaches them only through this,
    which is what keeps every strategy's budget the same.
    """

    config: dict[str, Any]
    """The fully resolved run configuration (read-only by convention)."""
    space: SearchSpace
    supernet: Supernet
    optimizer: torch.optim.Optimizer
    """The shared weights' optimizer; the engine sets its learning rate every epoch."""
    data: Splits
    device: torch.device
    generator: torch.Generator
    """The strategy's own random stream (CPU); the engine seeds and checkpoints it."""
    val_generator: torch.Generator
    world: World
    """This process's place in a data-parallel run (a world of 1 otherwise)."""
    epoch: int
    """Epochs finished before the current one."""
    step: int
    """Training steps finished before the current one, over the whole run (0 during the first step)."""

    @property
    def lr(self) -> float:
        """The weight optimizer's current learning rate."""
        ...

    @property
    def steps_per_epoch(self) -> int: ...

    def weights(self) -> list[torch.Tensor]:
        """The shared weights the engine's optimizer trains, in its order (a bilevel method's virtual step)."""
        ...

    def weight_step(self, grads: list[torch.Tensor]) -> list[torch.Tensor]:
        """For gradients of ``weights()``, the direction the optimizer's next step would subtract, lr left out
        (momentum and weight decay included), without taking it: ``w' = w - lr * step`` is DARTS's virtual step."""
        ...

    def forward_loss(
        self,
        batch: Batch,
        arch: ArchLike,
        amp: bool = True,
        gates: torch.Tensor | None = None,
        probe: Arch | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Supernet loss and logits of ``arch`` on ``batch``, with the autograd graph (``amp=False``: full precision).

        ``gates`` (``[num_decisions]``, with an Arch) scale each decision's chosen path; with ``probe`` (a second
        Arch) they are ``[num_decisions, 2]`` and also gate the probe's path (see ``nasframe.Supernet``).
        """
        ...

    def train_weights(self, batch: Batch, arch: ArchLike) -> torch.Tensor:
        """One optimizer step of the shared weights through ``arch``; returns the detached loss."""
        ...

    def next_val_batch(self) -> Batch:
        """A random validation batch of the training batch size (a bilevel method's arch step)."""
        ...

    def evaluate(self, arch: ArchLike, max_batches: int | None = None) -> Feedback:
        """Validation feedback for ``arch`` from the run's evaluator (``evaluator.name``)."""
        ...

    def feasible(self, arch: Arch) -> bool:
        """Whether ``arch`` fits the run's ``constraint.*`` budget (always, without one)."""
        ...

    def sample_feasible(self, draw: Callable[[], Arch]) -> Arch:
        """The first draw of ``draw()`` that fits the budget; after ``constraint.tries`` misses, a one-line error."""
        ...

    def derive(self, scores: torch.Tensor) -> Arch:
        """``space.derive`` of ``[num_decisions, max_choices]`` scores, moved inside the budget if it is outside;
        exact ties are a draw from ``generator`` (the strategy's stream, see ``nasframe.ranked_choices``)."""
        ...

    def cost_terms(self, weights: torch.Tensor) -> list[CostTerm]:
        """Per budgeted cost, its expectation under ``weights`` (differentiable) and the limit: a gradient strategy's cost loss."""
        ...
