"""Data for a run: in-memory uint8 tensors, augmented in batches on the training device."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Protocol

import torch
import torch.nn.functional as F

from nasframe import cifar
from nasframe.distributed import World
from nasframe.errors import ConfigError
from nasframe.space import DataInfo

Batch = tuple[torch.Tensor, torch.Tensor]


class Batches(Protocol):
    """One split as an iterable of device batches; ``epoch`` draws its order from ``generator``."""

    def __len__(self) -> int: ...

    def epoch(self, generator: torch.Generator | None = None) -> Iterator[Batch]: ...

    def sample(self, size: int, generator: torch.Generator) -> Batch:
        """A random batch of ``size`` images without augmentation (a bilevel method's validation step)."""
        ...

    @property
    def num_images(self) -> int: ...


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
        mean: tuple[float, ...] = cifar.MEAN,
        std: tuple[float, ...] = cifar.STD,
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
            hole = ((yy >= cy - half) & (yy < cy + half + self.cutout % 2)
                    & (xx >= cx - half) & (xx < cx + half + self.cutout % 2))
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


def build_cifar(config: Mapping[str, Any], device: torch.device, *, purpose: str, world: World = World()) -> DataModule:
    """``purpose`` ``search``: train/val split of the training set; ``train``: full training set and test set."""
    data_cfg, train_cfg = config["data"], config["train"]
    root = Path(data_cfg["dir"]).expanduser() if data_cfg.get("dir") else cifar.default_data_dir()
    batches_dir = cifar.locate(root, download=bool(data_cfg.get("download", True)))
    images, labels = cifar.read_split(batches_dir, train=True)
    if data_cfg.get("limit"):
        images, labels = images[: data_cfg["limit"]], labels[: data_cfg["limit"]]
    info = DataInfo("cifar10", num_classes=10, image_size=32)
    channels_last = bool(train_cfg.get("channels_last")) and device.type == "cuda"
    common = dict(device=device, channels_last=channels_last, world=world)
    if int(train_cfg["batch_size"]) % world.size:
        raise ConfigError(f"train.batch_size={train_cfg['batch_size']} does not split over {world.size} processes")
    bs, ebs = int(train_cfg["batch_size"]), int(train_cfg.get("eval_batch_size") or train_cfg["batch_size"])
    if purpose == "search":
        n_train, n_val = split_sizes(len(labels), data_cfg.get("val_size"))
        if n_val == 0:
            raise ConfigError("a search needs validation images: set data.val_size above 0")
        train = TensorBatches(images[:n_train], labels[:n_train], bs, augment=True, drop_last=n_train >= bs, **common)
        val = TensorBatches(images[n_train:], labels[n_train:], ebs, augment=False, **common)
        return DataModule(info, train, val, None)
    test_images, test_labels = cifar.read_split(batches_dir, train=False)
    if data_cfg.get("test_limit"):
        test_images, test_labels = test_images[: data_cfg["test_limit"]], test_labels[: data_cfg["test_limit"]]
    train = TensorBatches(images, labels, bs, augment=True, cutout=int(data_cfg.get("cutout") or 0),
                          drop_last=len(labels) >= bs, **common)
    test = TensorBatches(test_images, test_labels, ebs, augment=False, **common)
    return DataModule(info, train, None, test)


def build_data(config: Mapping[str, Any], device: torch.device, *, purpose: str, world: World = World()) -> DataModule:
    """The data module named by ``data.dataset``; with several processes each batch is this rank's shard."""
    name = config["data"]["dataset"]
    if name == "cifar10":
        return build_cifar(config, device, purpose=purpose, world=world)
    if world.active:
        raise ConfigError(f"data-parallel runs read cifar10 only for now, not {name!r}")
    if name == "imagenet":
        from nasframe.imagenet import build_imagenet

        return build_imagenet(config, device, purpose=purpose)
    raise ConfigError(f"unknown data.dataset {name!r}; available: cifar10, imagenet")


def data_info(config: Mapping[str, Any]) -> DataInfo:
    """What a space needs of the data set, without reading it (for ``nasframe train --epochs 0``)."""
    name = config["data"]["dataset"]
    if name == "imagenet":
        return DataInfo("imagenet", num_classes=int(config["data"].get("num_classes") or 1000), image_size=224)
    return DataInfo("cifar10", num_classes=10, image_size=32)
