"""The parts data sets are made of: in-memory images batched and augmented on the training device, ImageFolder
loaders, input normalisation, the default data folder and a safe unpickler. The data sets themselves are plugins
(``register_datasets``)."""

from __future__ import annotations

from nasframe.data.batches import DataModule, TensorBatches, split_sizes
from nasframe.data.folders import default_data_dir
from nasframe.data.normalisation import normalisation
from nasframe.data.unpickle import load_pickled_batch

__all__ = [
    "DataModule",
    "TensorBatches",
    "default_data_dir",
    "load_pickled_batch",
    "normalisation",
    "split_sizes",
]
