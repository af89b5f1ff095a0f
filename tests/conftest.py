from __future__ import annotations

import os
from pathlib import Path

# One intra-op thread in tests and the CLI processes they start: the networks are tiny, and on a
# 2-core machine several test processes with 2 spinning threads each slow one another down tenfold.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
import torch

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

from nasframe.testing import dataset_dir, subset_dir  # noqa: E402 - threads are set before torch work starts


@pytest.fixture(scope="session")
def cifar_dir() -> Path:
    """Real CIFAR-10 images when the subset is beside the checkout, else a generated look-alike (fresh clones).

    ``NASFRAME_TEST_DATA=generated`` (any value that is not a folder) forces the look-alike.
    """
    return dataset_dir()


@pytest.fixture(scope="session")
def real_cifar_dir() -> Path:
    """The real CIFAR-10 subset, for tests whose claim is about real images; they skip without it."""
    path = subset_dir()
    if path is None:
        pytest.skip("the CIFAR-10 subset (../shared/data/cifar10-subset) is not beside this checkout")
    return path
