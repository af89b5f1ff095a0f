from __future__ import annotations

from pathlib import Path

import pytest

from nasframe.testing import subset_dir


@pytest.fixture(scope="session")
def cifar_dir() -> Path:
    """The real CIFAR-10 subset beside the checkout; tests that need real images skip without it."""
    path = subset_dir()
    if path is None:
        pytest.skip("the CIFAR-10 subset (../shared/data/cifar10-subset) is not beside this checkout")
    return path
