"""`nasframe train`: the found architecture trained from scratch, tested and exported."""

import json

import pytest
import torch
from click.testing import CliRunner

import nasframe
from nasframe.cli import cli
from nasframe.search_spaces.darts import ARCHS_DIR


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("name,params", [("darts_v2", 3_349_342), ("darts_v1", 3_169_414)])
def test_epochs_zero_reports_the_published_parameter_count_without_data(tmp_path, name, params):
    out = tmp_path / name
    result = invoke(
        "train",
        "--arch",
        ARCHS_DIR / f"{name}.json",
        "--set",
        "space.layers=20",
        "--set",
        "space.channels=36",
        "--epochs",
        0,
        "--out",
        out,
        "--data-dir",
        tmp_path / "no-data-needed",
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["params"] == params and summary["flops"] > 0 and summary["test_accuracy"] is None
    assert f"{params:,}" in result.output


def test_nested_genotype_form_is_accepted(tmp_path):
    flat = json.loads((ARCHS_DIR / "darts_v2.json").read_text())
    nested = {
        **flat,
        "normal": [flat["normal"][i : i + 2] for i in range(0, 8, 2)],
        "reduce": [flat["reduce"][i : i + 2] for i in range(0, 8, 2)],
    }
    path = tmp_path / "nested.json"
    path.write_text(json.dumps(nested))
    result = invoke(
        "train",
        "--arch",
        path,
        "--set",
        "space.layers=20",
        "--set",
        "space.channels=36",
        "--epochs",
        0,
        "--out",
        tmp_path / "out",
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["params"] == 3_349_342


@pytest.mark.parametrize(
    "content,message",
    [
        ("{not json", "not valid JSON"),
        ('["sep_conv_3x3", 0]', '"space" key'),
        ('{"space": "darts", "normal": [["sep_conv_3x3", 0]]}', "expected 8"),
        ('{"space": "nope"}', "unknown search space 'nope'"),
        ('{"space": "mbconv", "blocks": []}', "blocks"),
    ],
    ids=["not-json", "no-space", "pair-count", "unknown-space", "mbconv-wrong-count"],
)
def test_malformed_arch_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "arch.json"
    path.write_text(content)
    result = invoke("train", "--arch", path, "--epochs", 0, "--out", tmp_path / "out", "--device", "cpu")
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("pair,expected", [(["max_pool_3x3", 9], "input 9"), (["sep_conv_9x9", 0], "sep_conv_9x9")])
def test_bad_pair_is_named_by_cell_and_pair(tmp_path, pair, expected):
    arch = json.loads((ARCHS_DIR / "darts_v2.json").read_text())
    arch["reduce"][5] = pair
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(arch))
    result = invoke("train", "--arch", path, "--epochs", 0, "--out", tmp_path / "out", "--device", "cpu")
    assert result.exit_code == 1 and "reduce" in result.output and "5" in result.output, result.output
    assert expected in result.output


@pytest.mark.parametrize("space", ["darts", "mbconv"])
def test_tiny_search_then_train_beats_chance_and_exports_a_loadable_model(tmp_path, cifar_dir, space):
    search = tmp_path / "search"
    result = invoke(
        "run",
        "--strategy",
        "random",
        "--space",
        space,
        "--preset",
        "tiny",
        "--epochs",
        1,
        "--data-dir",
        cifar_dir,
        "--out",
        search,
        "--device",
        "cpu",
        "--set",
        "data.limit=200",
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "train"
    result = invoke(
        "train",
        "--arch",
        search / "arch.json",
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
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test_accuracy"] > 0.10 and summary["params"] > 0 and summary["latency_ms"] > 0
    model = nasframe.load_model(out)
    assert not model.training
    with torch.no_grad():
        logits = model(torch.zeros(2, 3, 32, 32))
    assert logits.shape == (2, 10)


def test_load_model_refuses_a_run_without_exported_weights(tmp_path):
    with pytest.raises(nasframe.NasframeError, match="model.safetensors"):
        nasframe.load_model(tmp_path)
