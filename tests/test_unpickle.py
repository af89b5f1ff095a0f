import io
import os
import pickle

import numpy as np
import pytest

from nasframe import load_pickled_batch as load_batch
from nasframe.interfaces.errors import DataError


class Planted:
    def __reduce__(self):
        return (os.system, ("echo planted > /dev/null",))


def test_planted_pickle_is_refused_without_running_code():
    payload = pickle.dumps({b"data": Planted()}, protocol=2)
    with pytest.raises(DataError, match="refusing to load posix.system|refusing to load os.system"):
        load_batch(io.BytesIO(payload), "planted_batch")


def test_batch_with_numpy_array_and_bytes_keys_loads():
    data = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    payload = pickle.dumps({b"data": data, b"labels": [1, 2], b"batch_label": b"x"}, protocol=2)
    batch = load_batch(io.BytesIO(payload), "ok")
    assert batch["labels"] == [1, 2]
    assert np.array_equal(batch["data"], data)


def test_garbage_is_a_data_error():
    with pytest.raises(DataError, match="not a batch file"):
        load_batch(io.BytesIO(b"not a pickle"), "garbage")


def test_real_subset_batch_loads(cifar_dir):
    with open(cifar_dir / "cifar-10-batches-py" / "data_batch_1", "rb") as f:
        batch = load_batch(f, "data_batch_1")
    assert batch["data"].shape == (2000, 3072)
    assert len(batch["labels"]) == 2000
