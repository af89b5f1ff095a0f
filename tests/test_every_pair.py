"""Every registered strategy on every registered space, as timm tests every registered model."""

import json

import pytest
import torch
from safetensors.torch import load_file

from nasframe.registry import get_registry
from nasframe.testing import iter_pairs, tiny_search

PAIRS = list(iter_pairs())
SMALL = {"data.limit": 96, "train.batch_size": 16, "train.eval_batch_size": 48}


def test_every_builtin_strategy_and_space_is_registered():
    pairs = set(PAIRS)
    assert {(s, p) for s in ("random", "mdenas", "darts") for p in ("darts", "mbconv")} <= pairs


@pytest.mark.parametrize("strategy,space", PAIRS)
def test_one_epoch_tiny_search_twice_gives_the_same_architecture(tmp_path, cifar_dir, strategy, space):
    first = tiny_search(strategy, space, tmp_path / "a", seed=5, data_dir=cifar_dir, sets=SMALL)
    second = tiny_search(strategy, space, tmp_path / "b", seed=5, data_dir=cifar_dir, sets=SMALL)
    arch = json.loads((tmp_path / "a" / "arch.json").read_text())
    assert arch == json.loads((tmp_path / "b" / "arch.json").read_text())
    assert first["val_accuracy"] == second["val_accuracy"]
    registry = get_registry()
    space_obj = registry.build_space(json.loads((tmp_path / "a" / "config.json").read_text()))
    assert space_obj.arch_to_json(space_obj.arch_from_json(arch)) == arch
    truth = space_obj.ground_truth(space_obj.arch_from_json(arch))  # a tabular benchmark's space: its row, verbatim
    assert first.get("benchmark") == truth and (truth is None) == (space != "nb201")
    a = load_file(str(tmp_path / "a" / "checkpoint.safetensors"))
    b = load_file(str(tmp_path / "b" / "checkpoint.safetensors"))
    strategy_keys = [k for k in a if k.startswith("strategy.")]
    assert all(torch.equal(a[k], b[k]) for k in strategy_keys)
