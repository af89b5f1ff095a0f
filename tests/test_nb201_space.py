"""The NAS-Bench-201 space: its string notation, the shipped table, the benchmark's network sizes, the supernet."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest
import torch

from nasframe import ArchError, CellDrawing, DataInfo
from nasframe.config import resolve
from nasframe.measure.cost import count_flops, count_params
from nasframe.measure.counted_tables import counted_tables
from nasframe.registry import get_registry
from nasframe.search_spaces.nb201 import DECISIONS, OPS, NB201Space, arch_from_string, arch_to_string
from nasframe.search_spaces.nb201.cell import NUM_CELLS, arch_from_code
from nasframe.search_spaces.nb201.table import CSV_COLUMNS, DATASETS, TABLE_SHA256, build_payload

TABLE_DIR = Path(__file__).resolve().parents[2] / "shared/data/nats-bench-tss"
CSV_PATH = TABLE_DIR / "nats_bench_tss_200ep.csv"
CIFAR10 = DataInfo("cifar10", 10, 32)

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
ALL_3X3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"


def uniform(op: str) -> str:
    return f"|{op}~0|+|{op}~0|{op}~1|+|{op}~0|{op}~1|{op}~2|"


@pytest.fixture(scope="module")
def space() -> NB201Space:
    return NB201Space({}, CIFAR10)


@pytest.fixture(scope="module")
def small() -> NB201Space:
    return NB201Space({"channels": 4, "cells_per_stage": 1}, CIFAR10)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    if not CSV_PATH.is_file():
        pytest.skip(f"the NATS-Bench extraction ({CSV_PATH}) is not beside this checkout")
    with open(CSV_PATH, newline="") as f:
        return list(csv.DictReader(f))


# -- registration and presets ------------------------------------------------------------------------


def test_the_space_is_registered_as_a_builtin_plugin():
    reg = get_registry().spaces["nb201"]
    assert reg.cls is NB201Space and reg.distribution == "nasframe"


@pytest.mark.parametrize("train", [False, True])
@pytest.mark.parametrize("preset", ["paper", "tiny"])
@pytest.mark.parametrize("strategy", [None, "mdenas", "darts", "random", "proxyless"])
def test_presets_resolve_with_every_strategy(preset, train, strategy):
    cls = None if strategy is None else get_registry().strategies[strategy].cls
    config = resolve(NB201Space, cls, preset, train=train)
    assert config["space"]["name"] == "nb201"
    if preset == "paper":
        assert (config["space"]["channels"], config["space"]["cells_per_stage"]) == (16, 5)
        assert config["train"]["weight_decay"] == 5e-4


def test_paper_presets_per_strategy_are_the_released_scripts():
    darts = resolve(NB201Space, get_registry().strategies["darts"].cls, "paper")
    assert darts["train"]["epochs"] == 50 and darts["data"]["val_size"] == 0.5
    assert (darts["strategy"]["arch_lr"], darts["strategy"]["arch_beta1"], darts["strategy"]["arch_weight_decay"]) == (
        3e-4,
        0.5,
        1e-3,
    )
    random = resolve(NB201Space, get_registry().strategies["random"].cls, "paper")
    assert random["train"]["epochs"] == 250 and random["strategy"]["candidates"] == 100
    train = resolve(NB201Space, None, "paper", train=True)
    assert (train["train"]["epochs"], train["train"]["batch_size"], train["train"]["lr"]) == (200, 256, 0.1)


# -- the string notation ------------------------------------------------------------------------------


def test_decisions_are_the_six_edges_over_the_five_ops_in_the_benchmarks_order(space):
    assert [d.name for d in space.decisions] == ["edge_1_0", "edge_2_0", "edge_2_1", "edge_3_0", "edge_3_1", "edge_3_2"]
    assert all(
        d.choices == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3") for d in space.decisions
    )
    assert space.shortcuts == frozenset({"skip_connect"})


def test_every_cell_round_trips_through_arch_json(space):
    seen = set()
    for code in range(NUM_CELLS):
        string = arch_to_string(arch_from_code(code))
        obj = json.loads(json.dumps(space.arch_to_json(arch_from_string(string))))
        assert obj["arch"] == string and obj["space"] == "nb201"
        assert arch_to_string(space.arch_from_json(obj)) == string
        seen.add(string)
    assert len(seen) == NUM_CELLS


def test_arch_json_is_the_benchmark_string(space):
    arch = arch_from_string(BEST)
    assert arch == dict(zip(DECISIONS, [3, 3, 3, 1, 3, 2]))
    assert space.arch_to_json(arch)["arch"] == BEST
    assert NB201Space.arch_from_text(BEST)["arch"] == BEST


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("|conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv_3x3' on node 1; valid ops: none,"),
        ("|none~0|+|none~0|nor_conv_3x3~3|+|none~0|none~1|none~2|", "node 2 cannot read from '3'"),
        ("|none~0|+|none~1|none~0|+|none~0|none~1|none~2|", "out of order"),
        ("|none~0|+|none~0|none~1|", "3 node parts joined by '+'"),
        ("|none~0|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "node 1 takes exactly 1 edge"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|none~3|", "node 3 takes exactly 3 edge"),
        ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "is not 'op~input'"),
        ("|garbage", "starts and ends with '|'"),
        ("||+||+||", "is not 'op~input'"),
    ],
)
def test_a_bad_string_is_one_line_naming_what_is_wrong(text, named):
    with pytest.raises(ArchError) as info:
        arch_from_string(text)
    message = str(info.value)
    assert named in message and "\n" not in message
    with pytest.raises(ArchError):
        NB201Space.arch_from_text(text)


def test_text_that_is_not_a_cell_string_is_not_this_spaces_notation():
    assert NB201Space.arch_from_text("darts_v2") is None
    assert NB201Space.arch_from_text("runs/x/arch.json") is None


def test_arch_json_of_another_space_or_a_disagreeing_code_is_refused(space):
    with pytest.raises(ArchError, match="for space 'darts'"):
        space.arch_from_json({"space": "darts", "arch": BEST})
    with pytest.raises(ArchError, match="'code'"):
        space.arch_from_json({"space": "nb201", "arch": BEST, "code": 0})
    with pytest.raises(ArchError, match="'arch' key"):
        space.arch_from_json({"space": "nb201"})


# -- the table ----------------------------------------------------------------------------------------


def test_the_shipped_table_is_the_extraction(rows):
    assert hashlib.sha256(build_payload(CSV_PATH)).hexdigest() == TABLE_SHA256


def test_ground_truth_equals_the_csv_for_every_cell(space, rows):
    best = {name: max(float(row[column]) for row in rows) for name, column in zip(DATASETS, CSV_COLUMNS)}
    for index, row in enumerate(rows):
        arch = arch_from_string(row["ArchitectureString"])
        record = space.ground_truth(arch)
        assert space.table_index(arch) == index and space.arch_at(index) == arch
        for name, column in zip(DATASETS, CSV_COLUMNS):
            value = float(row[column])
            assert abs(record[name] - value) <= 5e-4 + 1e-9
            assert abs(record[f"regret_{name}"] - (best[name] - value)) <= 1e-3


def test_ground_truth_of_the_papers_cells(space):
    best = space.ground_truth(arch_from_string(BEST))
    assert (best["cifar10"], best["regret_cifar10"]) == (94.373, 0.0)
    assert "NAS-Bench-201" in best["source"]
    skip = space.ground_truth(arch_from_string(ALL_SKIP))
    assert (skip["cifar10"], skip["cifar100"], skip["imagenet16-120"]) == (54.297, 15.607, 16.322)
    assert skip["regret_cifar100"] == round(73.51333326009114 - 15.606666666666667, 3)
    cut = space.ground_truth(arch_from_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|"))
    assert cut["cifar10"] == 10.0  # output cut off from the input: chance


def test_references_are_the_best_cifar10_cell_and_the_all_skip_cell(space):
    refs = space.references()
    assert arch_to_string(refs["best cell (cifar10)"]) == BEST
    assert arch_to_string(refs["all skip_connect"]) == ALL_SKIP


# -- the benchmark's network --------------------------------------------------------------------------

# Per cell edge, over the 5 cells of each stage (C=16, 2C=32, 4C=64 at 32x32, 16x16, 8x8):
# nor_conv_3x3 (conv 9C^2 + BN 2C):  params 5 * (2,336 + 9,280 + 36,992) = 243,040
#                                    MACs 5 * (9*16*16*1024 + 9*32*32*256 + 9*64*64*64) = 5 * 3 * 2,359,296 = 35,389,440
# nor_conv_1x1 (conv C^2 + BN 2C):   params 5 * (288 + 1,088 + 4,224) = 28,000
#                                    MACs 5 * (16*16*1024 + 32*32*256 + 64*64*64) = 5 * 3 * 262,144 = 3,932,160
# skip_connect, avg_pool_3x3, none:  0 and 0 (pooling is no multiply-add)
# Fixed: stem conv 432 + BN 32; reductions 16->32 (conv_a 4,608+64, conv_b 9,216+64, shortcut 1x1 512) = 14,464
# and 32->64 (18,432+128, 36,864+128, 2,048) = 57,600; last BN 128; classifier 650: params 73,306.
# MACs: stem 3*16*9*1024 = 442,368; reductions (1,179,648 + 2,359,296 + 131,072) twice; classifier 640: 7,783,040.
# The benchmark's InferCell builds and runs every edge's op, also one whose node feeds only `none`
# edges, so those count too.
FIXED = (73_306, 7_783_040)
CONV3 = (243_040, 35_389_440)
CONV1 = (28_000, 3_932_160)


@pytest.mark.parametrize(
    ("string", "conv3", "conv1", "published"),
    [
        (ALL_3X3, 6, 0, (1_531_546, 220_119_680)),  # the benchmark: 1,531,546 params, 220.12 M
        (ALL_SKIP, 0, 0, (73_306, 7_783_040)),  # the benchmark: 73,306 params, 7.78 M
        (uniform("none"), 0, 0, None),
        (uniform("nor_conv_1x1"), 0, 6, None),
        (BEST, 4, 1, None),
        # node 1's conv feeds only `none` edges: its output is never used, it still counts
        ("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", 1, 0, None),
        ("|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|", 2, 1, None),
        # the output is cut off from the input altogether
        ("|nor_conv_1x1~0|+|avg_pool_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|", 1, 1, None),
    ],
)
def test_child_params_and_multiply_adds_are_the_benchmarks(space, string, conv3, conv1, published):
    expected = tuple(f + conv3 * c3 + conv1 * c1 for f, c3, c1 in zip(FIXED, CONV3, CONV1))
    if published is not None:
        assert expected == published
    child = space.build_child(arch_from_string(string))
    assert (count_params(child), count_flops(child, CIFAR10)) == expected


def test_cost_blocks_add_up_to_the_child():
    small = NB201Space({"channels": 4, "cells_per_stage": 2}, CIFAR10)
    tables = counted_tables(small)
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        arch = small.sample(gen)
        child = small.build_child(arch)
        for metric, counted in (("params", count_params(child)), ("flops", count_flops(child, CIFAR10))):
            table = tables[metric]
            total = table.base + sum(float(table.values[i, arch[d.name]]) for i, d in enumerate(small.decisions))
            assert total == counted


def test_drawing_leaves_none_edges_out(space):
    (drawing,) = space.drawing(
        arch_from_string("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|")
    )
    assert isinstance(drawing, CellDrawing)
    assert (drawing.inputs, drawing.nodes, drawing.output) == (("0",), ("1", "2"), "3")
    assert drawing.edges == (("0", "1", "nor_conv_3x3"), ("1", "2", "skip_connect"), ("2", "3", "avg_pool_3x3"))


# -- derive and sampling ------------------------------------------------------------------------------


def test_derive_takes_the_argmax_over_all_five_ops_none_included(space):
    scores = {name: torch.tensor([0.5, 0.1, 0.2, 0.1, 0.1]) for name in DECISIONS}
    scores["edge_3_2"] = torch.tensor([0.1, 0.1, 0.2, 0.5, 0.1])
    arch = space.derive(scores)
    assert arch == {**dict.fromkeys(DECISIONS, 0), "edge_3_2": 3}


def test_derive_breaks_ties_by_the_generator(space):
    scores = {name: torch.full((5,), 0.2) for name in DECISIONS}
    assert space.derive(scores) == dict.fromkeys(DECISIONS, 0)  # without a generator: the first
    draws = [space.derive(scores, torch.Generator().manual_seed(seed)) for seed in range(6)]
    assert draws[0] == space.derive(scores, torch.Generator().manual_seed(0))
    assert len({tuple(a.values()) for a in draws}) > 1
    scores["edge_1_0"] = torch.tensor([0.2, 0.2, 0.1, 0.2, 0.1])
    for seed in range(10):
        assert space.derive(scores, torch.Generator().manual_seed(seed))["edge_1_0"] in (0, 1, 3)


def test_sample_final_reaches_every_op_on_every_edge(space):
    gen = torch.Generator().manual_seed(0)
    seen = {name: set() for name in DECISIONS}
    for _ in range(200):
        for name, k in space.sample_final(gen).items():
            seen[name].add(k)
    assert all(s == set(range(len(OPS))) for s in seen.values())


# -- the supernet -------------------------------------------------------------------------------------


def _copy_into_child(supernet, child, arch):
    """The child's weights from the supernet's: the fixed parts by name, each cell op from its edge's op."""
    state = supernet.state_dict()
    target = child.state_dict()
    for key in target:
        parts = key.split(".")
        if parts[0] == "cells" and parts[2] == "ops":
            e = DECISIONS.index(parts[3])
            source = ".".join(["cells", parts[1], "edges", str(e), "ops", OPS[arch[parts[3]]], *parts[4:]])
            if source in state:
                target[key] = state[source]
        elif key in state:
            target[key] = state[key]
    child.load_state_dict(target)


@pytest.mark.parametrize(
    "string",
    [BEST, "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|", uniform("none")],
)
def test_single_path_is_the_child_computation(small, string):
    torch.manual_seed(0)
    arch = arch_from_string(string)
    net, child = small.build_supernet(), small.build_child(arch)
    _copy_into_child(net, child, arch)
    x = torch.randn(8, 3, 32, 32)
    # training mode: every BatchNorm normalises by the batch (the child's affine ones start as 1 and 0)
    torch.testing.assert_close(net(x, arch), child(x))


def test_forward_shapes_for_every_kind_of_arch(small):
    torch.manual_seed(0)
    net = small.build_supernet()
    x = torch.randn(4, 3, 32, 32)
    arch = arch_from_string(BEST)
    assert net(x, arch).shape == (4, 10)
    assert net(x, torch.tensor(list(arch.values()))).shape == (4, 10)
    assert net(x, torch.softmax(torch.randn(6, 5), -1)).shape == (4, 10)
    assert net(x, arch, gates=torch.ones(6)).shape == (4, 10)
    assert net(x, arch, gates=torch.ones(6, 2), probe=arch_from_string(ALL_3X3)).shape == (4, 10)
    with pytest.raises(ArchError, match=r"\[6, 5\]"):
        net(x, torch.zeros(6, 4))


def test_gates_of_one_and_a_probe_gate_of_zero_leave_outputs_unchanged(small):
    torch.manual_seed(0)
    net = small.build_supernet().eval()
    x = torch.randn(4, 3, 32, 32)
    arch = arch_from_string(BEST)
    plain = net(x, arch)
    gates = torch.ones(6, requires_grad=True)
    gated = net(x, arch, gates=gates)
    torch.testing.assert_close(gated, plain)
    gated.sum().backward()
    assert gates.grad is not None and bool((gates.grad != 0).all())
    pair = torch.tensor([[1.0, 0.0]] * 6, requires_grad=True)
    probed = net(x, arch, gates=pair, probe=arch_from_string(uniform("avg_pool_3x3")))
    torch.testing.assert_close(probed, plain)
    probed.sum().backward()
    assert bool((pair.grad[:, 1] != 0).all())  # every probe op differs from the chosen one here


def test_relaxed_one_hot_equals_single_path(small):
    torch.manual_seed(0)
    net = small.build_supernet()
    x = torch.randn(4, 3, 32, 32)
    arch = arch_from_string("|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|avg_pool_3x3~1|none~2|")
    one_hot = torch.zeros(6, 5)
    one_hot[range(6), list(arch.values())] = 1.0
    torch.testing.assert_close(net(x, one_hot), net(x, arch))


def test_single_path_skips_nodes_that_cannot_reach_the_output(small, monkeypatch):
    net = small.build_supernet()
    conv = net.cells[0].edges[0].ops["nor_conv_3x3"]
    calls = []
    monkeypatch.setattr(conv, "forward", lambda x: calls.append(1) or x)
    arch = arch_from_string("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    net(torch.randn(2, 3, 32, 32), arch)
    assert calls == []


def test_search_batchnorm_is_the_benchmarks(small, space):
    net = small.build_supernet()
    bn = net.cells[0].edges[0].ops["nor_conv_3x3"].op[2]
    assert not bn.affine and not bn.track_running_stats
    tracked = NB201Space({"channels": 4, "cells_per_stage": 1, "track_running_stats": True}, CIFAR10)
    assert tracked.build_supernet().cells[0].edges[0].ops["nor_conv_3x3"].op[2].track_running_stats
    child = space.build_child(arch_from_string(ALL_3X3))
    assert child.cells[0].ops["edge_1_0"].op[2].affine
