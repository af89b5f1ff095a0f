"""The SearchContext a strategy and an evaluator see: the engine's side of the plugin contract."""
from __future__ import annotations

from typing import Any, Iterator, Protocol

import torch

from nasframe.interfaces.feedback import Feedback
from nasframe.interfaces.space import ArchLike, DataInfo, SearchSpace, Supernet
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
    step: int

    @property
    def lr(self) -> float:
        """The weight optimizer's current learning rate."""
        ...

    @property
    def steps_per_epoch(self) -> int: ...

    def forward_loss(self, batch: Batch, arch: ArchLike, amp: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Supernet loss and logits of ``arch`` on ``batch``, with the autograd graph (``amp=False``: full precision)."""
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
