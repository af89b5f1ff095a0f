"""ImageNet in the ImageFolder layout, on a few generated images."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from nasframe.interfaces.errors import DataError
from nasframe.registry import get_registry

CLASSES = ("cat", "dog", "fish")


@pytest.fixture
def folder(tmp_path):
    """train/: 3 classes x 3 images (JPEG and PNG, odd sizes, colour ramps); val/: 1 per class (12 files)."""
    colours = {"cat": (200, 30, 30), "dog": (30, 200, 30), "fish": (30, 30, 200)}
    for split, count in (("train", 3), ("val", 1)):
        for name in CLASSES:
            d = tmp_path / split / name
            d.mkdir(parents=True)
            for i in range(count):
                ext = "png" if i == 1 else "JPEG"
                w = 40 + 8 * i
                ramp = torch.linspace(0.3, 1, w).view(1, w, 1).expand(30, w, 3)  # flips and crops change it
                pixels = (ramp * torch.tensor(colours[name])).to(torch.uint8).numpy()
                Image.fromarray(pixels).save(d / f"{name}_{i}.{ext}")
    (tmp_path / "train" / "cat" / "notes.txt").write_text("not an image")
    return tmp_path


def config(root, **data):
    return {
        "data": {
            "dataset": "imagenet",
            "dir": str(root),
            "limit": None,
            "val_size": 3,
            "test_limit": None,
            "workers": 0,
            **data,
        },
        "train": {"batch_size": 2, "eval_batch_size": 4, "channels_last": False},
    }


def run(batches, seed):
    gen = None if seed is None else torch.Generator().manual_seed(seed)
    return list(batches.epoch(gen))


def test_search_splits_the_train_folder_keeping_every_class_in_validation(folder):
    dm = get_registry().build_data(config(folder), torch.device("cpu"), purpose="search")
    assert (dm.info.name, dm.info.num_classes, dm.info.image_size) == ("imagenet", 3, 224)
    assert dm.test is None
    assert (dm.train.num_images, dm.val.num_images) == (6, 3)
    assert (len(dm.train), len(dm.val)) == (3, 1)
    batches = run(dm.train, 0)
    assert [x.shape for x, _ in batches] == [(2, 3, 224, 224)] * 3
    assert all(x.dtype == torch.float32 and y.dtype == torch.int64 for x, y in batches)
    assert sorted(torch.cat([y for _, y in batches]).tolist()) == [0, 0, 1, 1, 2, 2]
    ((x, y),) = run(dm.val, None)
    assert x.shape == (3, 3, 224, 224) and y.tolist() == [0, 1, 2]


def test_the_same_generator_seed_gives_the_same_batches(folder):
    dm = get_registry().build_data(config(folder), torch.device("cpu"), purpose="search")
    a, b, c = run(dm.train, 7), run(dm.train, 7), run(dm.train, 8)
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not all(torch.equal(xa, xc) for (xa, _), (xc, _) in zip(a, c))


def test_worker_processes_give_the_same_batches_as_the_main_process(folder):
    device = torch.device("cpu")
    main = get_registry().build_data(config(folder), device, purpose="search").train
    workers = get_registry().build_data(config(folder, workers=1), device, purpose="search").train
    for (xa, ya), (xb, yb) in zip(run(main, 3), run(workers, 3), strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_train_uses_the_whole_train_folder_and_val_as_test(folder):
    dm = get_registry().build_data(config(folder), torch.device("cpu"), purpose="train")
    assert dm.val is None
    assert (dm.train.num_images, dm.test.num_images) == (9, 3)
    ((x, y),) = run(dm.test, None)
    ((x2, _),) = run(dm.test, None)
    assert y.tolist() == [0, 1, 2] and torch.equal(x, x2)
    # the classes are coloured: the centre crop of the "cat" image is mostly red
    assert x[0, 0].mean() > x[0, 2].mean()


def test_limits_cap_the_images_read(folder):
    dm = get_registry().build_data(config(folder, limit=5, test_limit=2), torch.device("cpu"), purpose="train")
    assert (dm.train.num_images, dm.test.num_images) == (5, 2)
    assert len(dm.train) == 2  # training drops the last partial batch
    assert run(dm.test, None)[0][1].tolist() == [0, 1]  # the limit keeps the class-interleaved order


def test_a_missing_folder_says_which_layout_to_pass(tmp_path):
    with pytest.raises(DataError, match=r"train/<class>"):
        get_registry().build_data(config(tmp_path / "nowhere"), torch.device("cpu"), purpose="search")


def test_a_missing_val_folder_is_an_error_for_training(folder):
    for p in (folder / "val").rglob("*"):
        if p.is_file():
            p.unlink()
    with pytest.raises(DataError, match="val"):
        get_registry().build_data(config(folder), torch.device("cpu"), purpose="train")


def test_sample_draws_a_reproducible_unaugmented_batch(folder):
    device = torch.device("cpu")
    train = get_registry().build_data(config(folder), device, purpose="search").train
    x, y = train.sample(3, torch.Generator().manual_seed(5))
    x2, y2 = train.sample(3, torch.Generator().manual_seed(5))
    assert x.shape == (3, 3, 224, 224) and torch.equal(x, x2) and torch.equal(y, y2)
    # unaugmented: every image of one draw appears unchanged in another draw of all of them
    every, _ = train.sample(6, torch.Generator().manual_seed(6))
    assert all(any(torch.equal(img, other) for other in every) for img in x)
    augmented = torch.cat([b for b, _ in run(train, 5)])
    assert not all(any(torch.equal(img, other) for other in every) for img in augmented)
    workers = get_registry().build_data(config(folder, workers=1), device, purpose="search").train
    x3, y3 = workers.sample(3, torch.Generator().manual_seed(5))
    assert torch.equal(x, x3) and torch.equal(y, y3)
