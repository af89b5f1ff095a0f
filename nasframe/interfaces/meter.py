"""Loss and top-1 accuracy summed on the device and read once per pass, so steps never wait for the host."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nasframe.interfaces.world import World


@dataclass(frozen=True)
class LossAccuracy:
    """Mean loss and top-1 accuracy over ``images`` images (every rank's together)."""

    loss: float
    accuracy: float
    images: int


class ClassificationMeter:
    """Accumulates a pass's loss and correct predictions; ``read`` sums them over ranks and starts over."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.reset()

    def reset(self) -> None:
        self._loss = torch.zeros((), device=self.device)
        self._correct = torch.zeros((), dtype=torch.long, device=self.device)
        self._seen = 0

    def update(self, loss: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> None:
        """Add one batch: ``loss`` is the batch mean, so it is weighted by the batch's size."""
        n = labels.numel()
        self._loss += loss.detach().float() * n
        self._correct += (logits.detach().argmax(1) == labels).sum()
        self._seen += n

    def read(self, world: World = World()) -> LossAccuracy:
        """The pass's totals over every rank; the meter is empty afterwards."""
        seen = torch.tensor(self._seen, device=self.device)
        world.all_reduce_sum(self._loss, self._correct, seen)
        images = int(seen)
        out = LossAccuracy(float(self._loss) / max(images, 1), int(self._correct) / max(images, 1), images)
        self.reset()
        return out
