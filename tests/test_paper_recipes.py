"""The MdeNAS paper's settings: schedules, label smoothing, normalisation, the ImageNet presets and runs."""

from __future__ import annotations

import json
import math

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import nasframe
from nasframe import normalisation
from nasframe.cli import cli
from nasframe.config import resolve
from nasframe.engine.schedule import cosine_lr, epoch_lr
from nasframe.engine.training import TrainJob, read_arch, train_config
from nasframe.interfaces.errors import ConfigError
from nasframe.plugins.imagenet import ImageNet
from nasframe.registry import get_registry
from nasframe.search_spaces.darts import DartsSpace
from nasframe.search_spaces.mbconv import MBConvSpace


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def imagenet_dir(tmp_path):
    """A generated ImageNet in the ImageFolder layout: 3 classes, 4 training and 1 validation image each."""
    root = tmp_path / "imagenet"
    for split, count in (("train", 4), ("val", 1)):
        for label, colour in enumerate(((200, 30, 30), (30, 200, 30), (30, 30, 200))):
            folder = root / split / f"n0{label}"
            folder.mkdir(parents=True)
            for i in range(count):
                ramp = torch.linspace(0.2, 1, 48 + 8 * i).view(1, -1, 1).expand(40, -1, 3)
                Image.fromarray((ramp * torch.tensor(colour)).to(torch.uint8).numpy()).save(folder / f"{i}.JPEG")
    return root


# -- schedules --------------------------------------------------------------------------------------

TRAIN = {"lr": 0.1, "lr_min": 0.0, "gamma": 0.97, "step_epochs": 3}


def test_cosine_is_the_default_schedule_and_unchanged():
    for epoch, fraction in ((0, 0.0), (5, 0.5), (9, 0.9)):
        assert epoch_lr(TRAIN, epoch, fraction) == cosine_lr(0.1, 0.0, fraction)


def test_exponential_decays_by_gamma_every_epoch_as_darts_imagenet_steplr():
    train = {**TRAIN, "schedule": "exponential"}
    assert [epoch_lr(train, e, 0.0) for e in range(4)] == pytest.approx([0.1 * 0.97**e for e in range(4)])


def test_step_decays_by_gamma_every_step_epochs():
    train = {**TRAIN, "schedule": "step", "gamma": 0.1}
    assert [epoch_lr(train, e, 0.0) for e in range(7)] == pytest.approx([0.1] * 3 + [0.01] * 3 + [0.001])


@pytest.mark.parametrize(
    "overrides",
    [
        {"train.schedule": "linear"},
        {"train.schedule": "exponential", "train.gamma": 1.5},
        {"train.schedule": "step", "train.step_epochs": 0},
        {"data.std": 0},
        {"data.mean": [0.5, 0.5]},
        {"data.std": "wide"},
        {"train.label_smoothing": 1.0},
    ],
)
def test_a_bad_schedule_or_normalisation_is_refused_by_the_schema(overrides):
    key = next(iter(overrides)) if len(overrides) == 1 else list(overrides)[1]
    with pytest.raises(ConfigError, match=f"config key '{key}' = .* is not allowed"):
        resolve(DartsSpace, None, "tiny", overrides)


# -- normalisation ----------------------------------------------------------------------------------


def test_normalisation_defaults_to_the_data_sets_statistics():
    assert normalisation({}, (0.4, 0.5, 0.6), (0.2, 0.2, 0.3)) == ((0.4, 0.5, 0.6), (0.2, 0.2, 0.3))
    assert normalisation({"mean": 0.5, "std": 0.5}, (0.4,) * 3, (0.2,) * 3) == ((0.5,) * 3, (0.5,) * 3)
    assert normalisation({"mean": [0, 0, 0], "std": None}, (0.4,) * 3, (0.2,) * 3) == ((0.0,) * 3, (0.2,) * 3)


def _search_config(**data):
    return {
        "data": {"limit": 64, "val_size": 0.5, "download": False, "workers": 0, **data},
        "train": {"batch_size": 16, "eval_batch_size": 32, "channels_last": False},
    }


def test_cifar_batches_in_minus_one_to_one_with_the_paper_normalisation(cifar_dir):
    config = _search_config(dir=str(cifar_dir), mean=0.5, std=0.5)
    x, _ = next(iter(get_registry().build_data(config, torch.device("cpu"), purpose="search").val.epoch(None)))
    assert x.min() >= -1 and x.max() <= 1 and x.min() < -0.5 and x.max() > 0.5


def test_imagenet_loader_takes_the_configured_normalisation(imagenet_dir):
    def first_val_batch(**data):
        config = _search_config(dir=str(imagenet_dir), val_size=3, dataset="imagenet", **data)
        return next(iter(get_registry().build_data(config, torch.device("cpu"), purpose="search").val.epoch(None)))[0]

    mean, std = torch.tensor(ImageNet.mean).view(1, 3, 1, 1), torch.tensor(ImageNet.std).view(1, 3, 1, 1)
    pixels = first_val_batch() * std + mean
    torch.testing.assert_close(first_val_batch(mean=0.5, std=0.5), (pixels - 0.5) / 0.5, atol=1e-5, rtol=0)


# -- presets ----------------------------------------------------------------------------------------


def test_the_darts_imagenet_paper_preset_is_the_darts_imagenet_recipe():
    config = resolve(DartsSpace, None, "paper", {"data.dataset": "imagenet"}, train=True)
    space, train, data = config["space"], config["train"], config["data"]
    assert (space["layers"], space["channels"], space["auxiliary"], space["auxiliary_weight"]) == (14, 48, True, 0.4)
    assert (train["epochs"], train["batch_size"], train["lr"], train["weight_decay"]) == (250, 128, 0.1, 3e-5)
    assert (train["schedule"], train["gamma"], train["label_smoothing"]) == ("exponential", 0.97, 0.1)
    assert (space["drop_path"], data["cutout"], data["mean"], data["std"]) == (0.0, 0, None, None)


def test_the_cifar_paper_presets_are_mdenas_normalisation_and_drop_path():
    train = resolve(DartsSpace, None, "paper", train=True)
    assert (train["space"]["drop_path"], train["data"]["mean"], train["data"]["std"]) == (0.3, 0.5, 0.5)
    assert train["train"]["schedule"] == "cosine" and train["train"]["label_smoothing"] == 0.0
    for space in (DartsSpace, MBConvSpace):
        search = resolve(space, None, "paper")
        assert (search["data"]["mean"], search["data"]["std"]) == (0.5, 0.5)
    assert resolve(MBConvSpace, None, "paper", {"data.dataset": "imagenet"}, train=True)["train"]["gamma"] == 0.97


def test_training_smooths_the_training_loss_only():
    config = train_config(
        read_arch("darts_v2"), "tiny", {"train.epochs": 0, "train.label_smoothing": 0.1, "device": "cpu"}
    )
    job = TrainJob(config)
    job.setup()
    assert job.train_loss_fn.label_smoothing == 0.1 and job.loss_fn.label_smoothing == 0.0


# -- runs -------------------------------------------------------------------------------------------


def events(run) -> list[dict]:
    return [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]


def test_mdenas_searches_the_14_position_gpu_space_on_cifar_with_an_exponential_schedule(tmp_path, cifar_dir):
    out = tmp_path / "gpu"
    result = invoke(
        "run",
        "--strategy",
        "mdenas",
        "--space",
        "mbconv",
        "--preset",
        "tiny",
        "--data-dir",
        cifar_dir,
        "--out",
        out,
        "--device",
        "cpu",
        "--set",
        "data.limit=200",
        "--set",
        "train.schedule=exponential",
        "--set",
        "train.gamma=0.5",
    )
    assert result.exit_code == 0, result.output
    arch = json.loads((out / "arch.json").read_text())
    assert (arch["skeleton"], arch["variant"], len(arch["blocks"])) == ("gpu", "cifar", 14)
    lrs = [e["lr"] for e in events(out)]
    assert len(lrs) == 2 and math.isclose(lrs[1], lrs[0] * 0.5)
    state = nasframe.load_run(out).strategy_state
    assert tuple(state["probabilities"].shape) == (14, 9)


def test_mdenas_searches_the_20_position_cpu_space(tmp_path, cifar_dir):
    out = tmp_path / "cpu"
    result = invoke(
        "run",
        "--strategy",
        "mdenas",
        "--space",
        "mbconv",
        "--preset",
        "tiny",
        "--epochs",
        1,
        "--data-dir",
        cifar_dir,
        "--out",
        out,
        "--device",
        "cpu",
        "--set",
        "data.limit=200",
        "--set",
        "space.skeleton=cpu",
    )
    assert result.exit_code == 0, result.output
    arch = json.loads((out / "arch.json").read_text())
    assert (arch["skeleton"], len(arch["blocks"])) == ("cpu", 20)


def test_mdenas_searches_the_gpu_space_on_imagenet_folders(tmp_path, imagenet_dir):
    out = tmp_path / "imagenet"
    result = invoke(
        "run",
        "--strategy",
        "mdenas",
        "--space",
        "mbconv",
        "--preset",
        "tiny",
        "--epochs",
        1,
        "--dataset",
        "imagenet",
        "--data-dir",
        imagenet_dir,
        "--out",
        out,
        "--device",
        "cpu",
        "--set",
        "data.workers=0",
    )
    assert result.exit_code == 0, result.output
    arch = json.loads((out / "arch.json").read_text())
    assert (arch["skeleton"], arch["variant"], len(arch["blocks"])) == ("gpu", "imagenet", 14)


def summary_of(out) -> dict:
    return json.loads((out / "summary.json").read_text())


def test_mdenas_gpu_on_imagenet_reports_params_and_multiply_adds(tmp_path):
    out = tmp_path / "mdenas_gpu"
    result = invoke(
        "train",
        "--arch",
        "mdenas_gpu",
        "--dataset",
        "imagenet",
        "--epochs",
        0,
        "--out",
        out,
        "--device",
        "cpu",
        "--data-dir",
        tmp_path / "no-data-needed",
    )
    assert result.exit_code == 0, result.output
    summary = summary_of(out)
    assert summary["params"] == 5_745_984  # tests/test_published_archs.py counts the released net
    # the summary in human units; summary.json keeps the raw counts
    assert f"{summary['params'] / 1e6:.2f} M" in result.output
    assert f"{summary['flops'] / 1e6:.1f} M multiply-adds" in result.output
    assert summary["arch"]["skeleton"] == "gpu" and summary["flops"] > 0


def test_proxyless_gpu_has_the_official_multiply_adds(tmp_path):
    """mit-han-lab/proxylessnas logs/imagenet_gpu_log.txt: 'Total FLOPs: 465.3M' (multiply-adds)."""
    out = tmp_path / "proxyless_gpu"
    result = invoke(
        "train", "--arch", "proxyless_gpu", "--dataset", "imagenet", "--epochs", 0, "--out", out, "--device", "cpu"
    )
    assert result.exit_code == 0, result.output
    assert summary_of(out)["params"] == 7_119_848 and round(summary_of(out)["flops"] / 1e5) == 4653


def test_darts_v2_on_imagenet_builds_the_imagenet_network(tmp_path):
    """Before: the CIFAR network at 224x224 (3,920,572 params, 25.9 G multiply-adds), exit 0."""
    out = tmp_path / "darts_v2"
    result = invoke(
        "train", "--arch", "darts_v2", "--dataset", "imagenet", "--epochs", 0, "--out", out, "--device", "cpu"
    )
    assert result.exit_code == 0, result.output
    summary = summary_of(out)
    assert summary["params"] == 4_718_752 and summary["flops"] < 600e6


def test_the_imagenet_transfer_network_trains_one_tiny_epoch_on_imagenet_folders(tmp_path, imagenet_dir):
    out = tmp_path / "transfer"
    result = invoke(
        "train",
        "--arch",
        "mdenas",
        "--dataset",
        "imagenet",
        "--preset",
        "tiny",
        "--epochs",
        1,
        "--data-dir",
        imagenet_dir,
        "--out",
        out,
        "--device",
        "cpu",
        "--set",
        "data.workers=0",
        "--set",
        "train.schedule=exponential",
        "--set",
        "train.label_smoothing=0.1",
    )
    assert result.exit_code == 0, result.output
    summary = summary_of(out)
    assert summary["test_accuracy"] is not None and summary["epochs"] == 1
    config = json.loads((out / "config.json").read_text())
    assert config["space"]["variant"] == "auto" and config["space"]["pool_bn"] is True
    model = nasframe.load_model(out)
    assert model.stem1 is not None and model.auxiliary_head.features[1].stride == 2  # NetworkImageNet
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)  # data.num_classes, not the folder's 3
