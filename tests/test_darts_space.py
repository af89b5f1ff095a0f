"""The DARTS cell space (docs/algorithms.md#darts-cell-space), through its public interface, at tiny sizes."""

from __future__ import annotations

import copy
import json
from typing import Any, Sequence

import pytest
import torch
from torch import nn

from nasframe.interfaces.errors import ArchError, ConfigError
from nasframe.interfaces.space import DataInfo
from nasframe.layers import FactorizedReduce, Identity, Pool, ReLUConvBN, Zero
from nasframe.measure.cost import arch_cost, count_params
from nasframe.search_spaces.darts import ARCHS_DIR, DartsSpace
from nasframe.search_spaces.darts.ops import CHOICES, make_op

CIFAR = DataInfo("cifar10", num_classes=10, image_size=32)
OPS = CHOICES[1:]


def _genotype(normal: Sequence[tuple[str, int]], reduce: Sequence[tuple[str, int]]) -> dict[str, Any]:
    return {
        "space": "darts",
        "normal": [list(p) for p in normal],
        "normal_concat": [2, 3, 4, 5],
        "reduce": [list(p) for p in reduce],
        "reduce_concat": [2, 3, 4, 5],
    }


def shipped_genotype(name: str) -> dict[str, Any]:
    """A genotype the space ships, as its arch.json (``nasframe train --arch NAME`` reads the same)."""
    return {k: v for k, v in DartsSpace.published()[name].items() if k != "published"}


DARTS_V1 = _genotype(
    [
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0),
        ("skip_connect", 0),
        ("sep_conv_3x3", 1),
        ("skip_connect", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0),
        ("skip_connect", 2),
    ],
    [
        ("max_pool_3x3", 0),
        ("max_pool_3x3", 1),
        ("skip_connect", 2),
        ("max_pool_3x3", 0),
        ("max_pool_3x3", 0),
        ("skip_connect", 2),
        ("skip_connect", 2),
        ("avg_pool_3x3", 0),
    ],
)
"""DARTS (first order) genotype of the DARTS paper's code (``genotypes.py``), written out as the reference the shipped
file is checked against."""

DARTS_V2 = _genotype(
    [
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 1),
        ("skip_connect", 0),
        ("skip_connect", 0),
        ("dil_conv_3x3", 2),
    ],
    [
        ("max_pool_3x3", 0),
        ("max_pool_3x3", 1),
        ("skip_connect", 2),
        ("max_pool_3x3", 1),
        ("max_pool_3x3", 0),
        ("skip_connect", 2),
        ("skip_connect", 2),
        ("max_pool_3x3", 1),
    ],
)
"""DARTS (second order) genotype of the DARTS paper's code, in arch.json form."""


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny convolutions run faster on one thread, especially beside other jobs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_space(**config) -> DartsSpace:
    return DartsSpace({"channels": 4, "layers": 3, **config}, CIFAR)


def images(n: int = 2, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def one_hot(space: DartsSpace, arch: dict[str, int]) -> torch.Tensor:
    w = torch.zeros(len(space.decisions), space.max_choices)
    for i, d in enumerate(space.decisions):
        w[i, arch[d.name]] = 1.0
    return w


# -- ops --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("name", CHOICES)
@pytest.mark.parametrize("affine", [False, True])
def test_every_op_keeps_channels_and_subsamples_at_stride_2(name, stride, affine):
    op = make_op(name, 4, stride, affine=affine, pool_bn=not affine)
    x = torch.randn(2, 4, 8, 8)
    y = op(x)
    assert y.shape == (2, 4, 8 // stride, 8 // stride)
    if name == "none":
        assert isinstance(op, Zero) and not y.any()
    assert all(m.bias is None for m in op.modules() if isinstance(m, nn.Conv2d))
    assert all(m.affine is affine for m in op.modules() if isinstance(m, nn.BatchNorm2d))


@pytest.mark.parametrize("name", CHOICES)
def test_ops_on_odd_sizes(name):
    y = make_op(name, 4, 2, affine=False, pool_bn=True)(torch.randn(1, 4, 7, 7))
    assert y.shape == (1, 4, 4, 4)


def test_op_structure():
    assert isinstance(make_op("skip_connect", 4, 1, False, True), Identity)
    assert isinstance(make_op("skip_connect", 4, 2, False, True), FactorizedReduce)
    pool = make_op("max_pool_3x3", 4, 1, False, pool_bn=True)
    assert isinstance(pool, Pool) and isinstance(pool.bn, nn.BatchNorm2d)
    assert make_op("avg_pool_3x3", 4, 1, True, pool_bn=False).bn is None
    convs = [m for m in make_op("sep_conv_5x5", 4, 2, False, True).modules() if isinstance(m, nn.Conv2d)]
    assert [(c.kernel_size, c.stride, c.padding, c.groups) for c in convs] == [
        ((5, 5), (2, 2), (2, 2), 4),
        ((1, 1), (1, 1), (0, 0), 1),
        ((5, 5), (1, 1), (2, 2), 4),
        ((1, 1), (1, 1), (0, 0), 1),
    ]
    for k, pad in ((3, 2), (5, 4)):
        convs = [m for m in make_op(f"dil_conv_{k}x{k}", 4, 2, False, True).modules() if isinstance(m, nn.Conv2d)]
        assert (convs[0].kernel_size, convs[0].dilation, convs[0].padding, convs[0].stride) == (
            (k, k),
            (2, 2),
            (pad, pad),
            (2, 2),
        )
        assert len(convs) == 2 and convs[1].kernel_size == (1, 1)


def test_avg_pool_does_not_count_padding():
    y = make_op("avg_pool_3x3", 2, 1, True, pool_bn=False)(torch.ones(1, 2, 5, 5))
    assert torch.allclose(y, torch.ones_like(y))


def test_factorized_reduce_shifts_the_second_half():
    fr = FactorizedReduce(1, 2, affine=True)
    nn.init.ones_(fr.conv_1.weight)
    nn.init.ones_(fr.conv_2.weight)
    fr.eval()
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    y = fr(x) * (1 + fr.bn.eps) ** 0.5  # undo the eval-mode BatchNorm (mean 0, var 1)
    assert torch.allclose(y[0, 0], x[0, 0, ::2, ::2])
    assert torch.allclose(y[0, 1], x[0, 0, 1::2, 1::2])


@pytest.mark.parametrize("size", [(8, 8), (7, 7), (8, 7), (7, 8)])
def test_factorized_reduce_equals_the_stride_2_convolutions_of_the_reference(size):
    torch.manual_seed(0)
    fr = FactorizedReduce(3, 4, affine=True).double().eval()
    nn.init.normal_(fr.bn.running_mean)
    x = torch.randn(3, 3, *size, dtype=torch.double)
    xr = torch.relu(x)
    shifted = nn.functional.pad(xr[:, :, 1:, 1:], (0, 1, 0, 1)) if size[0] % 2 or size[1] % 2 else xr[:, :, 1:, 1:]
    halves = [
        nn.functional.conv2d(xr, fr.conv_1.weight, stride=2),
        nn.functional.conv2d(shifted, fr.conv_2.weight, stride=2),
    ]
    assert torch.equal(fr(x), fr.bn(torch.cat(halves, dim=1)))


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("stride", [1, 2])
def test_mixed_op_form_matches_weight_times_op(name, stride):
    op = make_op(name, 4, stride, affine=False, pool_bn=True)
    x = torch.randn(2, 4, 8, 8)
    w = torch.tensor(0.3)
    expected = w * op(x)
    got = op.forward_mixed(x, torch.relu(x) if op.relu_first else None, w, w.expand(4).contiguous())
    assert torch.allclose(got, expected, atol=1e-5)


def test_relu_conv_bn():
    op = ReLUConvBN(6, 4, 1, 1, 0, affine=False)
    assert op(torch.randn(2, 6, 8, 8)).shape == (2, 4, 8, 8)


# -- decisions --------------------------------------------------------------------------------------
def test_decisions_are_28_edges_in_darts_order():
    space = tiny_space()
    names = [d.name for d in space.decisions]
    assert len(names) == 28
    edges = [(n, s) for n in range(4) for s in range(n + 2)]
    assert names == [f"{c}.node{n}.from{s}" for c in ("normal", "reduce") for n, s in edges]
    assert all(d.choices == CHOICES for d in space.decisions)
    assert CHOICES == (
        "none",
        "max_pool_3x3",
        "avg_pool_3x3",
        "skip_connect",
        "sep_conv_3x3",
        "sep_conv_5x5",
        "dil_conv_3x3",
        "dil_conv_5x5",
    )
    assert space.max_choices == 8 and bool(space.choice_mask.all())


def test_defaults_and_presets():
    assert DartsSpace.name == "darts"
    assert DartsSpace.defaults == {
        "channels": 16,
        "layers": 8,
        "nodes": 4,
        "stem_multiplier": 3,
        "auxiliary": True,
        "auxiliary_weight": 0.4,
        "drop_path": 0.2,
        "variant": "auto",
        "pool_bn": False,
    }
    assert DartsSpace.presets["paper"]["space.layers"] == 6
    assert DartsSpace.train_presets["paper"]["space.channels"] == 36
    with pytest.raises(ConfigError):
        DartsSpace({"channels": 5}, CIFAR)
    with pytest.raises(ConfigError):
        DartsSpace({"layers": 0}, CIFAR)


def test_registered_as_a_plugin():
    from nasframe.registry import load_registry

    assert load_registry().space("darts") is DartsSpace


# -- supernet ---------------------------------------------------------------------------------------
def test_supernet_structure():
    net = tiny_space().build_supernet()
    assert [c.reduction for c in net.cells] == [False, True, True]
    for name, m in net.named_modules():
        if isinstance(m, nn.Conv2d):
            assert m.bias is None, name
        if isinstance(m, nn.BatchNorm2d) and name.startswith("cells"):
            assert not m.affine, name
    assert net.classifier.in_features == 4 * 4 * 4 and net.classifier.out_features == 10


def test_supernet_forward_discrete_and_relaxed_shapes():
    space = tiny_space()
    net = space.build_supernet()
    x = images()
    arch = space.sample(torch.Generator().manual_seed(1))
    assert net(x, arch).shape == (2, 10)
    weights = torch.softmax(torch.randn(28, 8), dim=-1).requires_grad_()
    out = net(x, weights)
    assert out.shape == (2, 10)
    out.sum().backward()
    assert weights.grad is not None and weights.grad[:, 1:].abs().sum() > 0
    with pytest.raises(ArchError):
        net(x, torch.ones(27, 8))
    with pytest.raises(ArchError):
        net(x, {k: v for k, v in arch.items() if k != "reduce.node3.from4"})


def _hook_ops(net):
    """Record which (cell, edge, op name) ran (any of its layers did), via forward hooks."""
    called = set()
    for c, cell in enumerate(net.cells):
        for e, edge in enumerate(cell.edges):
            for name, op in edge.ops.items():
                for m in op.modules():  # the op or any of its layers
                    m.register_forward_hook(lambda m, i, o, key=(c, e, name): called.add(key))
    return called


def test_discrete_forward_runs_only_the_chosen_ops():
    space = tiny_space()
    net = space.build_supernet()
    called = _hook_ops(net)
    arch = space.sample(torch.Generator().manual_seed(3))
    arch["normal.node0.from0"] = 0
    arch["normal.node0.from1"] = 4
    net(images(), arch)
    E = 14
    expected = set()
    for c, cell in enumerate(net.cells):
        offset = E if cell.reduction else 0
        for e in range(E):
            k = arch[space.decisions[offset + e].name]
            if k:
                expected.add((c, e, CHOICES[k]))
    assert called == expected
    assert (0, 0, "sep_conv_3x3") not in called and (0, 1, "sep_conv_3x3") in called


def test_all_none_arch_and_all_none_node_give_zeros():
    space = tiny_space()
    net = space.build_supernet()
    arch = {d.name: 0 for d in space.decisions}
    assert net(images(), arch).shape == (2, 10)
    called = _hook_ops(net)
    net(images(), arch)
    assert not called
    arch = space.sample(torch.Generator().manual_seed(4))
    for s in range(2):
        arch[f"normal.node0.from{s}"] = 0
    outputs = []
    net.cells[0].register_forward_hook(lambda m, i, o: outputs.append(o))
    net(images(), arch)
    (out,) = outputs
    assert out.shape == (2, 16, 32, 32)
    assert not out[:, :4].any() and out[:, 4:].abs().sum() > 0


@pytest.mark.parametrize("train", [True, False])
def test_discrete_equals_relaxed_one_hot(train):
    space = tiny_space()
    net = space.build_supernet().train(train)
    x = images()
    for seed in range(2):
        arch = space.sample(torch.Generator().manual_seed(10 + seed))
        assert torch.allclose(net(x, arch), net(x, one_hot(space, arch)), atol=1e-5)


def test_integer_tensor_arch_equals_dict_arch():
    space = tiny_space()
    net = space.build_supernet().eval()
    arch = space.sample(torch.Generator().manual_seed(5))
    as_tensor = torch.tensor([arch[d.name] for d in space.decisions])
    assert torch.equal(net(images(), arch), net(images(), as_tensor))


def _naive_forward(net, x, weights):
    """The textbook DARTS mixed forward: every op of every edge, none included, times its weight."""
    E = net.num_edges
    s0 = s1 = net.stem(x)
    for cell in net.cells:
        w = weights[E:] if cell.reduction else weights[:E]
        states = [cell.preprocess0(s0), cell.preprocess1(s1)]
        e = 0
        for _ in range(cell.nodes):
            total = 0
            for h in list(states):
                edge = cell.edges[e]
                total = total + w[e, 0] * Zero(edge.stride)(h)
                for k in range(1, len(CHOICES)):
                    total = total + w[e, k] * edge.op(k)(h)
                e += 1
            states.append(total)
        s0, s1 = s1, torch.cat(states[2:], dim=1)
    return net.classifier(net.global_pooling(s1).flatten(1))


def test_relaxed_forward_matches_naive_mixed_ops_with_gradients():
    # A fixed init: with batch 2 at 4x4, some inits put ties into max-pool windows and near-zero
    # variance into BatchNorm, where equally valid subgradients differ by up to 1e-3.
    torch.manual_seed(0)
    space = tiny_space()
    net = space.build_supernet()
    twin = copy.deepcopy(net)
    x = images()
    alpha = torch.randn(28, 8, generator=torch.Generator().manual_seed(2))
    weights = torch.softmax(alpha, dim=-1)
    weights[3, 2] = 0.0  # an exactly-zero weight is skipped; it contributes nothing either way
    w1 = weights.clone().requires_grad_()
    w2 = weights.clone().requires_grad_()
    out, ref = net(x, w1), _naive_forward(twin, x, w2)
    assert torch.allclose(out, ref, atol=1e-5)
    out.square().sum().backward()
    ref.square().sum().backward()
    mask = weights != 0
    mask[:, 0] = False  # none's gradient is zero in both
    assert torch.allclose(w1.grad[mask], w2.grad[mask], atol=1e-5)
    for (name, p), (_, q) in zip(net.named_parameters(), twin.named_parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-5), name
    for (name, b), (_, c) in zip(net.named_buffers(), twin.named_buffers()):
        if "num_batches_tracked" not in name and "edges.3.ops.avg_pool_3x3" not in name:  # skipped op
            assert torch.allclose(b, c, atol=1e-5), name


def test_relaxed_skips_zero_weight_ops():
    space = tiny_space()
    net = space.build_supernet()
    called = _hook_ops(net)
    weights = torch.zeros(28, 8)
    weights[:, 0] = 1.0
    weights[0, 5] = 0.5  # normal.node0.from0: sep_conv_5x5
    net(images(), weights)
    assert called == {(c, 0, "sep_conv_5x5") for c, cell in enumerate(net.cells) if not cell.reduction}


# -- derive -----------------------------------------------------------------------------------------
def test_derive_ignores_none_and_keeps_the_top_two_edges():
    space = tiny_space()
    scores = {d.name: torch.full((8,), 0.01) for d in space.decisions}
    # node 0: "none" dominates edge from0, but its best real op (avg pool, 0.2) still counts
    scores["normal.node0.from0"] = torch.tensor([0.9, 0.0, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0])
    scores["normal.node0.from1"] = torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 0.3, 0.0, 0.0])
    # node 2: edges from 1 and 3 win; from 3 scores higher, so it is listed first
    scores["normal.node2.from1"] = torch.tensor([0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0])
    scores["normal.node2.from3"] = torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.7, 0.0])
    scores["normal.node2.from0"] = torch.tensor([0.99, 0.4, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    arch = space.derive(scores)
    assert space.check_arch(arch) == arch
    genotype = space.arch_to_json(arch)
    assert genotype["normal"][0:2] == [["sep_conv_5x5", 1], ["avg_pool_3x3", 0]]
    assert genotype["normal"][4:6] == [["dil_conv_3x3", 3], ["skip_connect", 1]]
    # all-equal scores: lowest op index among real ops, lowest edge indices
    assert genotype["normal"][2:4] == [["max_pool_3x3", 0], ["max_pool_3x3", 1]]
    assert genotype["reduce"] == [["max_pool_3x3", s] for s in (0, 1)] * 4
    assert arch["normal.node2.from0"] == 0 and arch["normal.node2.from2"] == 0


def test_derive_of_a_tensor_of_probabilities():
    space = tiny_space()
    p = torch.softmax(torch.randn(28, 8, generator=torch.Generator().manual_seed(0)), dim=-1)
    arch = space.derive(space.scores_from_tensor(p))
    space.arch_to_json(arch)  # raises unless every node has exactly two real inputs (a genotype)
    with pytest.raises(ArchError, match="no scores"):
        space.derive({})


# -- JSON -------------------------------------------------------------------------------------------
def test_json_round_trip_flat_keeps_the_genotype_order():
    space = tiny_space()
    arch = space.arch_from_json(DARTS_V1)
    assert space.arch_to_json(arch) == DARTS_V1
    assert json.loads(json.dumps(space.arch_to_json(arch))) == DARTS_V1
    assert space.check_arch(arch) == arch


def test_json_nested_form_and_dict_pairs():
    space = tiny_space()
    flat = DARTS_V2
    nested = {
        **flat,
        "normal": [flat["normal"][i : i + 2] for i in range(0, 8, 2)],
        "reduce": [flat["reduce"][i : i + 2] for i in range(0, 8, 2)],
    }
    assert space.arch_from_json(nested) == space.arch_from_json(flat)
    as_dicts = {"normal": [{"op": o, "input": i} for o, i in flat["normal"]], "reduce": flat["reduce"]}
    assert space.arch_to_json(space.arch_from_json(as_dicts)) == flat


def test_shipped_genotypes():
    assert sorted(p.name for p in ARCHS_DIR.glob("*.json")) == [
        "darts_v1.json",
        "darts_v2.json",
        "gdas.json",
        "mdenas.json",
        "p_darts.json",
        "pc_darts.json",
    ]
    shipped = {name: {k: v for k, v in obj.items() if k != "published"} for name, obj in DartsSpace.published().items()}
    assert shipped["darts_v1"] == DARTS_V1 and shipped["darts_v2"] == DARTS_V2


def test_arch_to_json_needs_a_genotype():
    space = tiny_space()
    arch = space.sample(torch.Generator().manual_seed(0))
    arch.update({f"normal.node1.from{s}": 4 for s in range(3)})
    with pytest.raises(ArchError, match="normal cell node 1 has 3"):
        space.arch_to_json(arch)


def _broken(cell="normal", index=0, pair=None, **top):
    obj = json.loads(json.dumps(DARTS_V2))
    if pair is not None:
        obj[cell][index] = pair
    obj.update(top)
    return obj


@pytest.mark.parametrize(
    "obj, message",
    [
        ([1, 2], "JSON object"),
        ("normal", "JSON object"),
        (_broken(space="mbconv"), "space 'mbconv'"),
        (
            _broken(pair=["sep_conv_7x7", 0]),
            r"normal cell, pair 0 \(node 0\): unknown op 'sep_conv_7x7'; valid ops: max_pool_3x3",
        ),
        (_broken("reduce", 3, ["none", 0]), r"reduce cell, pair 3 \(node 1\): op 'none'"),
        (_broken("normal", 1, ["sep_conv_3x3", 2]), r"normal cell, pair 1 \(node 0\): input 2 is out of range"),
        (_broken("reduce", 7, ["skip_connect", -1]), r"reduce cell, pair 7 \(node 3\): input -1 is out of range"),
        (_broken("normal", 3, ["sep_conv_3x3", 0]), r"normal cell, pair 3 \(node 1\): input 0 is used twice"),
        (_broken("normal", 3, ["sep_conv_3x3", "1"]), r"pair 3 \(node 1\): input must be an integer"),
        (_broken("normal", 2, {"op": "sep_conv_3x3"}), r"pair 2 \(node 1\): missing key 'input'"),
        (_broken("normal", 2, ["sep_conv_3x3"]), r"pair 2 \(node 1\): expected an \[op, input\] pair"),
        ({"space": "darts", "normal": DARTS_V2["normal"]}, "no 'reduce' key"),
        ({"reduce": DARTS_V2["reduce"]}, "no 'normal' key"),
        ({"normal": DARTS_V2["normal"][:7], "reduce": DARTS_V2["reduce"]}, "normal cell: has 7 pairs, expected 8"),
        ({"normal": DARTS_V2["normal"], "reduce": {"a": 1}}, "reduce cell: expected a list"),
        (_broken(normal_concat=[2, 3, 4]), "normal_concat"),
        (
            {"normal": [DARTS_V2["normal"][0:3], *([DARTS_V2["normal"][2:4]] * 3)], "reduce": DARTS_V2["reduce"]},
            "normal cell node 0: has 3 pairs, expected 2",
        ),
    ],
)
def test_arch_from_json_errors(obj, message):
    with pytest.raises(ArchError, match=message):
        tiny_space().arch_from_json(obj)


# -- sampling ---------------------------------------------------------------------------------------
def test_sample_final_draws_genotypes():
    space = tiny_space()
    g = torch.Generator().manual_seed(0)
    seen_ops = set()
    for _ in range(50):
        arch = space.sample_final(g)
        assert space.check_arch(arch) == arch
        genotype = space.arch_to_json(arch)
        for cell in ("normal", "reduce"):
            for node in range(4):
                pairs = genotype[cell][2 * node : 2 * node + 2]
                assert pairs[0][1] != pairs[1][1] and all(0 <= s < node + 2 for _, s in pairs)
                seen_ops.update(op for op, _ in pairs)
    assert seen_ops == set(OPS)
    a = space.sample_final(torch.Generator().manual_seed(7))
    b = space.sample_final(torch.Generator().manual_seed(7))
    assert a == b and list(a) == list(b)


# -- child network ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name, params", [("darts_v2", 3_349_342), ("darts_v1", 3_169_414)])
def test_child_parameter_counts(name, params):
    space = DartsSpace({"channels": 36, "layers": 20}, CIFAR)
    model = space.build_child(space.arch_from_json(shipped_genotype(name)))
    assert count_params(model) == params
    assert sum(p.numel() for p in model.auxiliary_head.parameters()) == 476_426
    assert (
        count_params(
            DartsSpace({"channels": 36, "layers": 20, "auxiliary": False}, CIFAR).build_child(
                space.arch_from_json(shipped_genotype(name))
            )
        )
        == params
    )


def test_child_keeps_the_genotype_order_of_ops():
    space = tiny_space()
    model = space.build_child(space.arch_from_json(DARTS_V1))
    # DARTS_V1 normal node 0 lists ("sep_conv_3x3", 1) before ("sep_conv_3x3", 0); node 1 skip first
    ops = model.cells[0].ops
    assert [type(op).__name__ for op in ops][:4] == ["SepConv", "SepConv", "Identity", "SepConv"]


def test_child_forward_train_and_eval():
    space = tiny_space(channels=6)
    model = space.build_child(space.arch_from_json(DARTS_V2))
    model.train()
    logits, aux = model(images())
    assert logits.shape == aux.shape == (2, 10)
    model.eval()
    out = model(images())
    assert isinstance(out, torch.Tensor) and out.shape == (2, 10)
    no_aux = tiny_space(channels=6, auxiliary=False).build_child(space.arch_from_json(DARTS_V2)).train()
    out = no_aux(images())
    assert isinstance(out, torch.Tensor) and out.shape == (2, 10)
    assert all(m.affine for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Conv2d))


def test_child_of_a_non_derived_arch():
    space = tiny_space()
    arch = space.sample(torch.Generator().manual_seed(2))
    arch.update({f"normal.node0.from{s}": 0 for s in range(2)})
    model = space.build_child(arch).eval()
    assert model(images()).shape == (2, 10)
    assert len(model.cells[0].ops) == sum(1 for k, v in arch.items() if k.startswith("normal") and v)


def test_drop_path_only_in_training_mode():
    space = tiny_space()
    model = space.build_child(space.arch_from_json(DARTS_V2))
    x = images(4)
    model.eval()
    reference = model(x)
    model.drop_path_prob = 0.6
    assert torch.equal(model(x), reference)
    model.train()
    model.drop_path_prob = 0.0
    torch.manual_seed(0)
    plain = model(x)[0]
    assert torch.equal(model(x)[0], plain)
    model.drop_path_prob = 0.6
    torch.manual_seed(0)
    assert not torch.allclose(model(x)[0], plain)


def test_cost_of_a_tiny_child():
    space = tiny_space()
    cost = arch_cost(space, space.arch_from_json(DARTS_V2))
    assert cost.params == count_params(space.build_child(space.arch_from_json(DARTS_V2)))
    assert cost.flops > 0


IMAGENET = DataInfo("imagenet", num_classes=1000, image_size=224)


def test_variant_follows_the_data_unless_set():
    assert tiny_space().variant == "cifar"
    assert DartsSpace({"channels": 4, "layers": 3}, IMAGENET).variant == "imagenet"
    assert DartsSpace({"channels": 4, "layers": 3, "variant": "cifar"}, IMAGENET).variant == "cifar"
    with pytest.raises(ConfigError, match="space.variant"):
        tiny_space(variant="mobile")
    with pytest.raises(ConfigError, match="space.pool_bn"):
        tiny_space(pool_bn=1)


def test_imagenet_network_is_darts_network_imagenet():
    """Stem 3x3/2 to C/2, 3x3/2 to C, then 3x3/2 (224 -> 28), 14 cells with reductions 4 and 9, ImageNet aux head."""
    space = DartsSpace({"channels": 8, "layers": 14}, DataInfo("imagenet", num_classes=5, image_size=224))
    net = space.build_child(space.arch_from_json(DARTS_V2))
    convs = [m for m in list(net.stem.modules()) + list(net.stem1.modules()) if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (3, 4, (3, 3), (2, 2)),
        (4, 8, (3, 3), (2, 2)),
        (8, 8, (3, 3), (2, 2)),
    ]
    assert [i for i, cell in enumerate(net.cells) if cell.reduction] == [4, 9]
    assert isinstance(net.cells[0].preprocess0, FactorizedReduce)  # the stem counts as a reduction before cell 0
    aux = net.auxiliary_head.features
    assert not any(isinstance(m, nn.BatchNorm2d) and m.num_features == 768 for m in aux)
    assert [m.stride for m in aux if isinstance(m, nn.AvgPool2d)] == [2]
    shapes = []
    for i in (3, 8, 13):
        net.cells[i].register_forward_hook(lambda m, inp, out: shapes.append(tuple(out.shape[-2:])))
    net.train()
    logits, aux_logits = net(torch.randn(2, 3, 224, 224))
    assert shapes == [(28, 28), (14, 14), (7, 7)] and logits.shape == aux_logits.shape == (2, 5)


def test_darts_v2_imagenet_has_the_published_count_and_the_cifar_net_is_unchanged():
    net = DartsSpace({"channels": 48, "layers": 14}, IMAGENET).build_child(
        DartsSpace({}, IMAGENET).arch_from_json(DARTS_V2)
    )
    assert count_params(net) == 4_718_752  # quark0/darts README: 4.7M; the official NetworkImageNet, counted
    cifar = DartsSpace({"channels": 36, "layers": 20}, CIFAR)
    assert count_params(cifar.build_child(cifar.arch_from_json(DARTS_V2))) == 3_349_342


def test_imagenet_supernet_runs_single_path_and_relaxed():
    space = DartsSpace({"channels": 4, "layers": 3}, DataInfo("imagenet", num_classes=3, image_size=224))
    net = space.build_supernet()
    arch = space.sample(torch.Generator().manual_seed(0))
    assert net(images(1, 224), arch).shape == (1, 3)
    assert net(images(1, 224), one_hot(space, arch)).shape == (1, 3)


def test_pool_bn_follows_every_pool_by_batch_norm_and_travels_in_arch_json():
    plain, with_bn = tiny_space(), tiny_space(pool_bn=True)
    arch = plain.arch_from_json(shipped_genotype("mdenas"))
    pools = [op for cell in with_bn.build_child(arch).cells for op in cell.ops if isinstance(op, Pool)]
    assert pools and all(p.bn is not None for p in pools)
    assert count_params(with_bn.build_child(arch)) - count_params(plain.build_child(arch)) == sum(
        2 * p.bn.num_features for p in pools
    )
    assert with_bn.arch_to_json(arch)["pool_bn"] is True and "pool_bn" not in plain.arch_to_json(arch)
    assert DartsSpace.arch_config(shipped_genotype("mdenas")) == {"space.pool_bn": True}
    assert DartsSpace.arch_config(DARTS_V2) == {}
