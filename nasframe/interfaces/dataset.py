"""The Dataset interface: a data set a run trains and evaluates on, registered by a plugin like a space."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from nasframe.interfaces.space import DataInfo
from nasframe.interfaces.world import World

if TYPE_CHECKING:
    import torch

    from nasframe.interfaces.context import Splits


class Dataset(ABC):
    """A data set: what a space needs to know of it without reading it, and its splits on a device.

    It reads the engine's ``data.*`` keys (``dir``, ``limit``, ``val_size``, ``test_limit``, ``cutout``,
    ``mean``/``std``, ``download``, ``workers``) and ``train.batch_size``/``eval_batch_size``;
    ``nasframe.TensorBatches`` (in-memory images augmented on the device) and ``nasframe.DataModule``
    are the parts the built-in data sets are made of.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    """One line for ``nasframe list``: what it is and the folder layout it reads."""
    default: ClassVar[bool] = False
    """The data set a run uses when ``data.dataset`` is not set (exactly one registered data set says so)."""
    distributed: ClassVar[bool] = False
    """Whether its batches shard over data-parallel processes (``torchrun``)."""
    sizes: ClassVar[Mapping[str, int]] = {}
    """Images in the full ``train`` and ``test`` splits, where known without reading (a study's protocol record)."""

    @classmethod
    @abstractmethod
    def info(cls, config: Mapping[str, Any]) -> DataInfo:
        """Classes, image size and channels, from the config alone (``nasframe train --epochs 0`` reads no image)."""

    @classmethod
    @abstractmethod
    def build(cls, config: Mapping[str, Any], device: torch.device, *, purpose: str, world: World) -> Splits:
        """The run's splits: ``purpose`` ``search`` gives train and val (the training set split by
        ``data.val_size``); ``train`` gives the whole training set and the test set."""

    @classmethod
    def is_at(cls, root: Path) -> bool:
        """Whether ``root`` holds this data set in the layout it reads (tests find a shipped subset by it)."""
        return False

    @classmethod
    def write_look_alike(cls, root: Path, train: int, test: int, seed: int = 0) -> Path:
        """Write a small generated copy in the data set's own layout under ``root`` and return the folder to pass as
        ``data.dir``: what its tests and plugin authors' tests run on in a fresh clone. Its classes must be
        learnable above chance in an epoch of a tiny network."""
        raise NotImplementedError(f"data set {cls.name!r} cannot generate a look-alike")
