import json

import pytest
import torch
from click.testing import CliRunner

from nasframe import TensorBatches, split_sizes
from nasframe.cli import cli
from nasframe.config import ENGINE_DEFAULTS, resolve
from nasframe.interfaces.errors import ConfigError, DataError
from nasframe.plugins import cifar
from nasframe.plugins.cifar import Cifar10
from nasframe.registry import get_registry


def test_subset_loads_as_one_uint8_tensor(real_cifar_dir):
    images, labels = cifar.read_split(real_cifar_dir / cifar.CIFAR10.folder, cifar.CIFAR10, True)
    assert images.shape == (10000, 3, 32, 32) and images.dtype == torch.uint8
    assert torch.bincount(labels).tolist() == [1000] * 10
    test_images, _ = cifar.read_split(real_cifar_dir / cifar.CIFAR10.folder, cifar.CIFAR10, False)
    assert test_images.shape == (2000, 3, 32, 32)


def test_the_generated_look_alike_loads_like_cifar(tmp_path):
    root = Cifar10.write_look_alike(tmp_path, train=300, test=100, seed=1)
    images, labels = cifar.read_split(root / cifar.CIFAR10.folder, cifar.CIFAR10, True)
    assert images.shape == (300, 3, 32, 32) and images.dtype == torch.uint8
    assert set(labels.tolist()) == set(range(10))
    assert cifar.read_split(root / cifar.CIFAR10.folder, cifar.CIFAR10, False)[0].shape == (100, 3, 32, 32)
    again_dir = Cifar10.write_look_alike(tmp_path / "again", train=300, test=100, seed=1)
    again, _ = cifar.read_split(again_dir / cifar.CIFAR10.folder, cifar.CIFAR10, True)
    assert torch.equal(images, again)


def test_missing_data_without_download_says_what_to_pass(tmp_path):
    with pytest.raises(DataError, match="--data-dir"):
        cifar.locate(tmp_path, cifar.CIFAR10, download=False)


def test_failed_download_says_what_to_pass(tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(DataError, match="could not be downloaded.*--data-dir"):
        cifar.locate(tmp_path / "empty", cifar.CIFAR10, download=True)


@pytest.mark.parametrize("n,val,expected", [(100, 0.5, (50, 50)), (100, 30, (70, 30)), (100, None, (100, 0))])
def test_split_sizes(n, val, expected):
    assert split_sizes(n, val) == expected


def test_split_that_leaves_nothing_is_refused():
    with pytest.raises(ConfigError):
        split_sizes(100, 100)


def _batches(augment, cutout=0):
    images = torch.arange(6 * 3 * 32 * 32).remainder(256).to(torch.uint8).view(6, 3, 32, 32)
    labels = torch.arange(6)
    return TensorBatches(
        images,
        labels,
        4,
        torch.device("cpu"),
        augment=augment,
        cutout=cutout,
        mean=cifar.Cifar10.mean,
        std=cifar.Cifar10.std,
    )


def test_augmentation_is_reproducible_from_the_generator():
    a = [x for x, _ in _batches(True, cutout=16).epoch(torch.Generator().manual_seed(1))]
    b = [x for x, _ in _batches(True, cutout=16).epoch(torch.Generator().manual_seed(1))]
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert [x.shape[0] for x in a] == [4, 2]


def test_crop_without_shift_or_flip_is_identity_after_normalising():
    loader = _batches(False)
    (x, y), _ = list(loader.epoch(None))
    raw = x / loader.inv_std + loader.mean
    assert torch.allclose(raw, loader.images[:4].float(), atol=1e-3)
    assert y.tolist() == [0, 1, 2, 3]


def test_crop_is_a_shifted_window_of_the_padded_image():
    loader = _batches(True)
    gen = torch.Generator().manual_seed(0)
    x, y = next(loader.epoch(gen))
    raw = (x / loader.inv_std + loader.mean).round()
    padded = torch.nn.functional.pad(loader.images.float(), (4, 4, 4, 4))
    for img, label in zip(raw, y):
        src = padded[label]
        found = any(
            torch.equal(img, src[:, dy : dy + 32, dx : dx + 32])
            or torch.equal(img, src[:, dy : dy + 32, dx : dx + 32].flip(2))
            for dy in range(9)
            for dx in range(9)
        )
        assert found


def test_search_split_is_deterministic_and_disjoint(cifar_dir):

    config = resolve(get_registry().space("darts"), None, "tiny", {"data.dir": str(cifar_dir)})
    data = get_registry().build_data(config, torch.device("cpu"), purpose="search")
    n_train, n_val = data.train.num_images, data.val.num_images
    assert n_train + n_val == config["data"]["limit"]
    again = get_registry().build_data(config, torch.device("cpu"), purpose="search")
    assert torch.equal(data.val.images, again.val.images)


def test_engine_defaults_name_every_documented_key():
    for key in ("limit", "val_size", "dir"):
        assert key in ENGINE_DEFAULTS["data"]
    assert "batch_size" in ENGINE_DEFAULTS["train"]


def test_cifar100_loads_from_its_torchvision_layout_and_a_search_runs_on_it(tmp_path):
    from nasframe.plugins.cifar import Cifar100
    from nasframe.testing import tiny_search

    root = Cifar100.write_look_alike(tmp_path / "c100", train=300, test=100, seed=2)
    assert sorted(p.name for p in (root / "cifar-100-python").iterdir()) == ["test", "train"]
    config = {
        "data": {"dataset": "cifar100", "dir": str(root), "download": False, "val_size": 0.5},
        "train": {"batch_size": 32},
    }
    splits = get_registry().build_data(config, torch.device("cpu"), purpose="search")
    assert (splits.info.name, splits.info.num_classes) == ("cifar100", 100)
    assert (splits.train.num_images, splits.val.num_images) == (150, 150)
    summary = tiny_search("random", "darts", tmp_path / "run", data_dir=root, sets={"data.dataset": "cifar100"})
    assert summary["epochs"] == 1
    config_json = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config_json["data"]["dataset"] == "cifar100"
    space = get_registry().build_space(config_json)
    child = space.build_child(space.arch_from_json(summary["arch"])).eval()
    assert child(torch.zeros(2, 3, 32, 32)).shape == (2, 100)


def test_an_unknown_data_set_is_one_line_naming_the_registered_ones(tmp_path):
    result = CliRunner().invoke(cli, ["run", "--strategy", "random", "--space", "darts", "--dataset", "cifar1000"])
    assert result.exit_code == 1
    assert (
        result.output.strip()
        .splitlines()[-1]
        .endswith("unknown data set 'cifar1000'; available: cifar10, cifar100, imagenet")
    )
