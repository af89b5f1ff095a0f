"""Budgets every strategy honours: constraint.* keys, feasible sampling and deriving, one-line errors."""

import json

import pytest
import torch
from click.testing import CliRunner

from nasframe import DataInfo, NasframeError
from nasframe.config import resolve
from nasframe.engine.budget import Budget
from nasframe.measure.cost import arch_cost
from nasframe.measure.counted_tables import counted_tables
from nasframe.registry import get_registry
from nasframe.testing import iter_pairs, tiny_search

SMALL = {"data.limit": 96, "train.batch_size": 16, "train.eval_batch_size": 48}
CIFAR = DataInfo("cifar10", 10, 32)


def tiny_space(name):
    registry = get_registry()
    return registry.build_space(resolve(registry.space(name), None, "tiny", {}), CIFAR)


def flops_range(space):
    table = counted_tables(space)["flops"]
    smallest = space.derive(space.scores_from_tensor(-table.values))
    largest = space.derive(space.scores_from_tensor(table.values))
    return arch_cost(space, smallest).flops, arch_cost(space, largest).flops


@pytest.mark.parametrize("space", ["mbconv", "darts"])
def test_counted_tables_are_exact_for_the_builtin_spaces(space):
    space = tiny_space(space)
    tables = counted_tables(space)
    generator = torch.Generator().manual_seed(3)
    for _ in range(3):
        arch = space.sample(generator)
        cost = arch_cost(space, arch)
        assert tables["flops"].predict(space, arch) == cost.flops
        assert tables["params"].predict(space, arch) == cost.params


@pytest.mark.parametrize("strategy,space", list(iter_pairs()))
def test_every_strategy_returns_an_architecture_inside_a_multiply_add_budget(tmp_path, cifar_dir, strategy, space):
    low, high = flops_range(tiny_space(space))
    limit = int(low + 0.3 * (high - low))
    summary = tiny_search(
        strategy, space, tmp_path / "run", seed=1, data_dir=cifar_dir, sets={**SMALL, "constraint.max_flops": limit}
    )
    assert summary["flops"] <= limit
    assert summary["constraint"]["max_flops"] == limit
    events = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    assert events, "the engine refuses to train an architecture outside the budget, so training happened inside it"


def test_mdenas_logs_the_multiply_adds_its_distribution_expects_every_epoch(tmp_path, cifar_dir):
    from nasframe import load_run

    low, high = flops_range(tiny_space("darts"))
    limit = int(low + 0.5 * (high - low))
    tiny_search(
        "mdenas", "darts", tmp_path / "run", epochs=2, data_dir=cifar_dir, sets={**SMALL, "constraint.max_flops": limit}
    )
    run = load_run(tmp_path / "run")
    p, table = run.strategy_state["probabilities"], counted_tables(run.space)["flops"]
    by_hand = table.base + sum(
        float(p[d, c]) * float(table.values[d, c]) for d in range(p.shape[0]) for c in range(p.shape[1])
    )
    assert [("expected_flops" in e) for e in run.events] == [True, True]
    assert run.events[-1]["expected_flops"] == pytest.approx(by_hand, rel=1e-9)
    assert low < run.events[-1]["expected_flops"] < high


def test_an_unreachable_budget_stops_the_run_naming_the_smallest_value(tmp_path, cifar_dir):
    low, _ = flops_range(tiny_space("mbconv"))
    with pytest.raises(NasframeError) as info:
        tiny_search(
            "random", "mbconv", tmp_path / "run", data_dir=cifar_dir, sets={**SMALL, "constraint.max_flops": low - 1}
        )
    message = str(info.value)
    assert "\n" not in message and "constraint.max_flops" in message and f"{low:,}" in message


def test_derive_moves_a_preferred_architecture_inside_the_budget():
    space = tiny_space("mbconv")
    low, high = flops_range(space)
    limit = low + 0.5 * (high - low)
    budget = Budget({"constraint": {"max_flops": limit}}, space, lambda: None)
    table = counted_tables(space)["flops"]
    noise = torch.rand(table.values.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    greedy = 0.5 * noise + torch.nn.functional.one_hot(table.values.argmax(-1), table.values.shape[1])  # dearest first
    arch = budget.derive(greedy)
    assert arch_cost(space, arch).flops <= limit
    assert not budget.feasible(space.derive(space.scores_from_tensor(greedy)))
    # it keeps as much of the preference as fits: well above the cheapest architecture
    assert arch_cost(space, arch).flops > low + 0.3 * (high - low)


def test_a_latency_budget_needs_a_space_with_latency_blocks(tmp_path, cifar_dir):
    with pytest.raises(NasframeError, match="constraint.max_latency_ms"):
        tiny_search(
            "random", "darts", tmp_path / "run", data_dir=cifar_dir, sets={**SMALL, "constraint.max_latency_ms": 5}
        )


def test_latency_command_writes_a_table_that_a_run_reads(tmp_path, cifar_dir):
    from nasframe.cli import _load_commands, cli

    _load_commands()
    table = tmp_path / "cpu.json"
    result = CliRunner().invoke(
        cli, ["latency", "--space", "mbconv", "--device", "cpu", "--preset", "tiny", "--out", str(table)]
    )
    assert result.exit_code == 0, result.output
    record = json.loads(table.read_text())
    assert record["device"] == "cpu" and record["batch_size"] == 1 and record["torch"] == torch.__version__
    assert record["device_name"] and record["unit"] == "us"
    assert len(record["choices_us"]) == len(tiny_space("mbconv").decisions) == 14  # the gpu skeleton's positions
    summary = tiny_search(
        "mdenas", "mbconv", tmp_path / "run", data_dir=cifar_dir, sets={**SMALL, "cost.table": str(table)}
    )
    space = tiny_space("mbconv")
    arch = space.arch_from_json(summary["arch"])
    expected = record["fixed_us"] + sum(record["choices_us"][d][c] for d, c in space.choice_names(arch).items())
    assert summary["predicted_latency_ms"] == pytest.approx(expected / 1000, abs=6e-4)  # rounded to 3 decimals
    assert summary["latency_error"] == pytest.approx(
        summary["predicted_latency_ms"] / summary["latency_ms"] - 1, abs=2e-3
    )
    with pytest.raises(NasframeError, match="width_mult"):
        tiny_search(
            "mdenas",
            "mbconv",
            tmp_path / "other",
            data_dir=cifar_dir,
            sets={**SMALL, "cost.table": str(table), "space.width_mult": 0.5},
        )


CONSTANT_MODEL = """
import nasframe

class Constant(nasframe.CostModel):
    name = "constant"

    def fit(self, space, device, batch_size):
        self.space = space
        return True

    def predict_us(self, arch):
        return 1000.0 + 10.0 * sum(arch.values())

@nasframe.hookimpl
def register_cost_models(register):
    register(Constant)
"""


def test_a_third_party_latency_predictor_plugs_in_through_the_hook(tmp_path, cifar_dir):
    from nasframe.testing import install_plugin, plugin_path

    root = install_plugin(
        tmp_path / "site", "nasframe-constant", {"constant": "constant_model"}, {"constant_model": CONSTANT_MODEL}
    )
    with plugin_path(root):
        assert get_registry().cost_models["constant"].distribution == "nasframe-constant"
        summary = tiny_search(
            "random", "darts", tmp_path / "run", data_dir=cifar_dir, sets={**SMALL, "cost.model": "constant"}
        )
    space = tiny_space("darts")
    arch = space.arch_from_json(summary["arch"])
    assert summary["predicted_latency_ms"] == pytest.approx((1000 + 10 * sum(arch.values())) / 1000, abs=6e-4)


def test_a_latency_budget_resumes_with_the_table_it_was_measured_with(tmp_path, cifar_dir):
    from nasframe.engine.search import SearchJob
    from nasframe.storage import checkpoint as ckpt_io

    summary = tiny_search(
        "mdenas", "mbconv", tmp_path / "run", data_dir=cifar_dir, sets={**SMALL, "constraint.max_latency_ms": 1e4}
    )
    assert summary["predicted_latency_ms"] <= 1e4
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    config.pop("versions")
    saved = ckpt_io.load(tmp_path / "run" / "checkpoint.safetensors")
    table = saved.nested("budget")["latency_us"]
    job = SearchJob(config)
    job.setup()  # measures a table of its own on this machine, which the checkpoint then replaces
    job.load_state(saved)
    restored = job.ctx.budget.tables["latency_us"]
    assert torch.equal(restored.values, table["values"]) and restored.base == table["base"]


def test_an_undecided_distribution_derives_a_seeded_draw_inside_the_budget_not_the_cheapest():
    space = tiny_space("mbconv")
    low, high = flops_range(space)
    limit = low + 0.3 * (high - low)
    budget = Budget({"constraint": {"max_flops": limit}}, space, lambda: None)
    uniform = space.choice_mask.double() / space.choice_mask.sum(-1, keepdim=True)  # MdeNAS before any feedback

    def derived(seed):
        return budget.derive(uniform, torch.Generator().manual_seed(seed))

    assert derived(4) == derived(4)
    archs = [derived(seed) for seed in range(4)]
    assert all(arch_cost(space, arch).flops <= limit for arch in archs)
    assert len({tuple(a.values()) for a in archs}) > 1
    assert all(arch != budget.cheapest() for arch in archs)
