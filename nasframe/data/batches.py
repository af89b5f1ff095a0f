"""Batches over in-memory uint8 tensors, augmented on the training device, and the splits of one run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn.functional as F

from nasframe.interfaces.context import Batch, Batches
from nasframe.interfaces.errors import ConfigError
from nasframe.interfaces.space import DataInfo
from nasframe.interfaces.world import World


class TensorBatches:
    """Batches over one uint8 tensor already on the device: crop, flip, cutout and normalise as tensor ops."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        device: torch.device,
        *,
        augment: bool,
        cutout: int = 0,
        drop_last: bool = False,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        channels_last: bool = False,
        world: World = World(),
    ) -> None:
        self.world = world
        self.images = images.to(device)
        self.labels = labels.to(device)
        self.batch_size = batch_size
        self.device = device
        self.augment = augment
        self.cutout = cutout
        self.drop_last = drop_last
        self.channels_last = channels_last
        self.mean = torch.tensor(mean, device=device).view(1, -1, 1, 1) * 255
        self.inv_std = 1 / (torch.tensor(std, device=device).view(1, -1, 1, 1) * 255)

    @property
    def num_images(self) -> int:
        return len(self.labels)

    def __len__(self) -> int:
        n = self.num_images
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def epoch(self, generator: torch.Generator | None = None) -> Iterator[Batch]:
        n = self.num_images
        if generator is not None:
            order = torch.randperm(n, generator=generator).to(self.device, non_blocking=True)
        else:
            order = None
        for i in range(len(self)):
            start, stop = i * self.batch_size, min((i + 1) * self.batch_size, n)
            if order is None and not self.world.active:
                x, y = self.images[start:stop], self.labels[start:stop]
                yield self._finish(x.float()), y
                continue
            idx = order[start:stop] if order is not None else torch.arange(start, stop, device=self.device)
            # Random draws cover the global batch before sharding, so every world size sees the same images.
            rand = torch.rand((len(idx), 5), generator=generator) if self.augment else None
            mine = self.world.shard(len(idx))
            idx = idx[mine]
            x, y = self.images.index_select(0, idx), self.labels.index_select(0, idx)
            if rand is not None:
                x = self._augment(x, rand[mine].to(self.device, non_blocking=True))
            yield self._finish(x.float()), y

    def sample(self, size: int, generator: torch.Generator) -> Batch:
        idx = torch.randperm(self.num_images, generator=generator)[:size][self.world.shard(size)]
        idx = idx.to(self.device, non_blocking=True)
        return self._finish(self.images[idx].float()), self.labels[idx]

    def _finish(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) * self.inv_std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _augment(self, x: torch.Tensor, rand: torch.Tensor) -> torch.Tensor:
        """Random crop with 4 pixels of zero padding, horizontal flip, optional cutout (float out).

        ``rand`` holds five uniform draws per image: crop rows, crop columns, flip, cutout centre.
        """
        b, c, h, w = x.shape
        pad = 4
        oy = (rand[:, 0] * (2 * pad + 1)).long()
        ox = (rand[:, 1] * (2 * pad + 1)).long()
        flip = rand[:, 2] < 0.5
        wp = w + 2 * pad
        xp = F.pad(x, (pad, pad, pad, pad)).flatten(2)
        cols = torch.arange(w, device=self.device).expand(b, w)
        cols = torch.where(flip[:, None], w - 1 - cols, cols) + ox[:, None]
        rows = oy[:, None] + torch.arange(h, device=self.device)
        # one flat gather per image plane: cheaper than 4-D advanced indexing
        index = (rows[:, :, None] * wp + cols[:, None, :]).view(b, 1, h * w).expand(b, c, h * w)
        out = xp.gather(2, index).view(b, c, h, w).float()
        if self.cutout > 0:
            cy = (rand[:, 3] * h).long()[:, None, None]
            cx = (rand[:, 4] * w).long()[:, None, None]
            yy = torch.arange(h, device=self.device)[None, :, None]
            xx = torch.arange(w, device=self.device)[None, None, :]
            half = self.cutout // 2
            hole = (
                (yy >= cy - half)
                & (yy < cy + half + self.cutout % 2)
                & (xx >= cx - half)
                & (xx < cx + half + self.cutout % 2)
            )
            # cutout zeroes the normalised image, i.e. sets raw pixels to the mean
            out = torch.where(hole[:, None], self.mean.expand(b, -1, h, w), out)
        return out


@dataclass
class DataModule:
    """The splits of one run and what the space needs to know about them."""

    info: DataInfo
    train: Batches
    val: Batches | None
    test: Batches | None


def split_sizes(n: int, val_size: float | int | None) -> tuple[int, int]:
    """(train, val) counts: ``val_size`` < 1 is a fraction of ``n``, >= 1 a count, 0/None no validation."""
    if not val_size:
        return n, 0
    val = int(round(n * val_size)) if val_size < 1 else int(val_size)
    if not 0 < val < n:
        raise ConfigError(f"data.val_size={val_size} leaves no training or no validation images out of {n}")
    return n - val, val
