"""The MBConv space (docs/algorithms.md#mbconv-space): blocks, backbone, supernet, child networks, derive and arch.json."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from nasframe.config import resolve
from nasframe.interfaces.errors import ArchError, ConfigError
from nasframe.interfaces.space import DataInfo
from nasframe.layers import InvertedResidual
from nasframe.measure.cost import arch_cost
from nasframe.registry import get_registry
from nasframe.search_spaces.mbconv import MBConvSpace

CIFAR = DataInfo("cifar10", num_classes=10, image_size=32)
IMAGENET = DataInfo("imagenet", num_classes=1000, image_size=224)
# docs/algorithms.md#mbconv-space, written out again so the tests do not read the layout back from the code under test
PROXYLESS_STAGES = [(24, 4, 2), (40, 4, 2), (80, 4, 2), (96, 4, 1), (192, 4, 2), (320, 1, 1)]


def tiny(choices: str = "mdenas", data: DataInfo = CIFAR, **config) -> MBConvSpace:
    """The space at width 0.25; the 21-block search skeleton unless ``skeleton`` says otherwise."""
    return MBConvSpace({"width_mult": 0.25, "choices": choices, "skeleton": "search", **config}, data)


def arch_of(space: MBConvSpace, pick) -> dict[str, int]:
    """An arch choosing, per decision, the index ``pick(decision)``."""
    return {d.name: pick(d) for d in space.decisions}


def all_k3_e6(space: MBConvSpace) -> dict[str, int]:
    return arch_of(space, lambda d: d.choices.index("k3_e6"))


def test_the_space_is_registered_as_a_builtin_plugin():
    reg = get_registry().spaces["mbconv"]
    assert reg.cls is MBConvSpace and reg.distribution == "nasframe"


@pytest.mark.parametrize("train", [False, True])
@pytest.mark.parametrize("preset", ["paper", "tiny"])
def test_presets_name_only_existing_config_keys(preset, train):
    config = resolve(MBConvSpace, None, preset, train=train)
    assert config["space"]["name"] == "mbconv"
    if preset == "tiny":
        assert config["space"]["width_mult"] == 0.25


def test_search_skeleton_has_21_blocks_of_nine_mdenas_choices():
    space = tiny()
    assert [d.name for d in space.decisions] == [f"block{i:02d}" for i in range(1, 22)]
    expected = tuple(f"k{k}_e{e}" for k in (3, 5, 7) for e in (1, 3, 6))
    assert all(d.choices == expected for d in space.decisions)
    assert space.choice_mask.all()


@pytest.mark.parametrize("variant", ["cifar", "imagenet"])
def test_proxyless_skip_is_offered_exactly_on_stride1_same_width_blocks(variant):
    space = tiny("proxyless", variant=variant)
    expected_skippable = []
    cin = 16
    for s, (width, count, stride) in enumerate(PROXYLESS_STAGES):
        if variant == "cifar" and s == 0:
            stride = 1
        for j in range(count):
            expected_skippable.append((stride if j == 0 else 1) == 1 and cin == width)
            cin = width
    mbconvs = tuple(f"k{k}_e{e}" for k in (3, 5, 7) for e in (3, 6))
    for d, skippable in zip(space.decisions, expected_skippable, strict=True):
        assert d.choices == (mbconvs + ("skip",) if skippable else mbconvs), d.name
    assert sum(expected_skippable) == 15
    mask = space.choice_mask
    assert mask.shape == (21, 7) and mask.sum() == 21 * 6 + 15


def test_variant_follows_the_data_unless_set():
    assert tiny().variant == "cifar"
    assert tiny(data=IMAGENET).variant == "imagenet"
    assert tiny(variant="imagenet").variant == "imagenet"
    assert tiny(data=IMAGENET, variant="cifar").variant == "cifar"
    with pytest.raises(ConfigError, match="space.variant"):
        tiny(variant="mobile")
    with pytest.raises(ConfigError, match="space.choices"):
        tiny("darts")
    with pytest.raises(ConfigError, match="width_mult"):
        tiny(width_mult=0)


@pytest.mark.parametrize("choices", ["mdenas", "proxyless"])
def test_every_candidate_of_every_block_gives_its_output_shape(choices):
    space = tiny(choices)
    supernet = space.build_supernet().eval()
    strides = set()
    with torch.no_grad():
        for spec, position in zip(space.layout.blocks, supernet.candidates):
            x = torch.randn(2, spec.cin, 8, 8)
            for candidate in position:
                assert candidate(x).shape == (2, spec.cout, 8 // spec.stride, 8 // spec.stride)
            strides.add(spec.stride)
    assert strides == {1, 2}


@pytest.mark.parametrize("kernel", [3, 5, 7])
@pytest.mark.parametrize("expand", [1, 3, 6])
@pytest.mark.parametrize("stride", [1, 2])
def test_mbconv_block_shape_at_stride_1_and_2(kernel, expand, stride):
    block = InvertedResidual(8, 16, kernel, expand, stride, residual=False)
    assert block(torch.randn(2, 8, 9, 9)).shape == (2, 16, 5 if stride == 2 else 9, 5 if stride == 2 else 9)
    same = InvertedResidual(8, 8, kernel, expand, 1, residual=True)
    assert same(torch.randn(2, 8, 9, 9)).shape == (2, 8, 9, 9)
    assert not any(isinstance(m, nn.Conv2d) and m.bias is not None for m in block.modules())


def test_mbconv_expand_1_has_no_expansion_conv():
    convs = [m for m in InvertedResidual(8, 16, 3, 1, 1, residual=False).modules() if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(3, 3), (1, 1)]


def expected_params(num_classes: int, kernel: int = 3, expand: int = 6) -> int:
    """Parameter count (docs/algorithms.md#mbconv-space) of the network with InvertedResidual(kernel, expand) everywhere, from the formula."""
    bn = lambda c: 2 * c  # noqa: E731

    def mbconv(cin: int, cout: int, k: int, e: int) -> int:
        hidden = cin * e
        expand_part = cin * hidden + bn(hidden) if e != 1 else 0
        return expand_part + k * k * hidden + bn(hidden) + hidden * cout + bn(cout)

    total = 3 * 32 * 3 * 3 + bn(32)  # stem
    total += mbconv(32, 16, 3, 1)  # fixed first block
    cin = 16
    for width, count, _ in PROXYLESS_STAGES:
        for _ in range(count):
            total += mbconv(cin, width, kernel, expand)
            cin = width
    total += 320 * 1280 + bn(1280)  # head
    total += 1280 * num_classes + num_classes  # classifier
    return total


@pytest.mark.parametrize("data", [CIFAR, IMAGENET], ids=["cifar", "imagenet"])
def test_all_k3_e6_child_has_the_parameter_count_of_the_formula(data):
    space = MBConvSpace({"skeleton": "search"}, data)
    child = space.build_child(all_k3_e6(space))
    assert sum(p.numel() for p in child.parameters()) == expected_params(data.num_classes)


def test_width_mult_rounds_every_width_to_a_multiple_of_8():
    layout = tiny().layout
    widths = [layout.stem_width, layout.first_width, layout.head_width] + [b.cout for b in layout.blocks]
    assert all(w % 8 == 0 and w >= 8 for w in widths)
    assert (layout.stem_width, layout.first_width, layout.head_width) == (8, 8, 320)
    assert [layout.blocks[i].cout for i in (0, 4, 8, 12, 16, 20)] == [8, 8, 24, 24, 48, 80]


@pytest.mark.parametrize("data, size, final", [(CIFAR, 32, 4), (IMAGENET, 224, 7)], ids=["cifar", "imagenet"])
def test_total_stride_is_8_on_cifar_and_32_on_imagenet(data, size, final):
    space = tiny(data=data)
    child = space.build_child(all_k3_e6(space)).eval()
    seen = []
    child.head.register_forward_hook(lambda m, inp, out: seen.append(inp[0].shape))
    with torch.no_grad():
        assert child(torch.randn(1, 3, size, size)).shape == (1, data.num_classes)
    assert seen[0][-2:] == (final, final)


def hook_calls(supernet) -> set[tuple[int, int]]:
    calls: set[tuple[int, int]] = set()
    for i, position in enumerate(supernet.candidates):
        for o, candidate in enumerate(position):
            candidate.register_forward_hook(lambda m, inp, out, key=(i, o): calls.add(key))
    return calls


def test_single_path_forward_runs_only_the_chosen_blocks():
    space = tiny("proxyless")
    supernet = space.build_supernet()
    calls = hook_calls(supernet)
    arch = space.sample(torch.Generator().manual_seed(3))
    out = supernet(torch.randn(2, 3, 32, 32), arch)
    assert out.shape == (2, 10)
    assert calls == {(i, arch[d.name]) for i, d in enumerate(space.decisions)}


def test_relaxed_forward_mixes_only_the_nonzero_choices():
    space = tiny("proxyless")
    supernet = space.build_supernet()
    calls = hook_calls(supernet)
    weights = torch.zeros(21, space.max_choices)
    weights[:, 0] = 0.5
    weights[:, 3] = 0.5
    weights.requires_grad_()
    out = supernet(torch.randn(2, 3, 32, 32), weights)
    assert out.shape == (2, 10)
    assert calls == {(i, o) for i in range(21) for o in (0, 3)}
    out.sum().backward()
    assert weights.grad is not None and weights.grad[:, [0, 3]].abs().sum() > 0


def test_relaxed_one_hot_equals_single_path():
    space = tiny("proxyless")
    supernet = space.build_supernet().eval()
    arch = space.sample(torch.Generator().manual_seed(1))
    one_hot = torch.zeros(21, space.max_choices)
    for i, d in enumerate(space.decisions):
        one_hot[i, arch[d.name]] = 1.0
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(supernet(x, one_hot), supernet(x, arch))


def test_child_leaves_skipped_blocks_out():
    space = tiny("proxyless")
    arch = arch_of(space, lambda d: d.choices.index("skip") if "skip" in d.choices else 0)
    child = space.build_child(arch)
    assert sum(isinstance(m, InvertedResidual) for m in child.modules()) == 1 + 21 - 15
    assert child(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_derive_takes_the_argmax_of_every_block():
    space = tiny("proxyless")
    scores = space.scores_from_tensor(torch.rand(21, space.max_choices, generator=torch.Generator().manual_seed(0)))
    arch = space.derive(scores)
    assert arch == {name: int(s.argmax()) for name, s in scores.items()}
    assert space.check_arch(arch) == arch


@pytest.mark.parametrize("choices", ["mdenas", "proxyless"])
@pytest.mark.parametrize("seed", [0, 1])
def test_arch_json_round_trips(choices, seed):
    space = tiny(choices)
    arch = space.sample(torch.Generator().manual_seed(seed))
    obj = json.loads(json.dumps(space.arch_to_json(arch)))
    assert obj["space"] == "mbconv" and obj["variant"] == "cifar" and obj["choices"] == choices
    assert len(obj["blocks"]) == 21
    assert space.arch_from_json(obj) == arch


def test_arch_json_writes_kernel_expand_and_skip():
    space = tiny("proxyless")
    arch = arch_of(space, lambda d: d.choices.index("skip") if "skip" in d.choices else d.choices.index("k7_e3"))
    blocks = space.arch_to_json(arch)["blocks"]
    assert blocks[0] == {"kernel": 7, "expand": 3} and blocks[1] == "skip"


def good_json(space: MBConvSpace) -> dict:
    return space.arch_to_json(all_k3_e6(space))


def with_block(obj: dict, i: int, entry) -> dict:
    return {**obj, "blocks": [entry if j == i else b for j, b in enumerate(obj["blocks"])]}


@pytest.mark.parametrize(
    "choices, edit, message",
    [
        ("mdenas", lambda o: {**o, "space": "darts"}, "space 'darts'"),
        ("mdenas", lambda o: [o], "JSON object"),
        ("mdenas", lambda o: {**o, "blocks": o["blocks"][:20]}, "20 blocks"),
        ("mdenas", lambda o: {k: v for k, v in o.items() if k != "blocks"}, "no 'blocks'"),
        ("mdenas", lambda o: with_block(o, 4, {"kernel": 9, "expand": 6}), r"block 5 .*kernel=9"),
        ("proxyless", lambda o: with_block(o, 2, {"kernel": 3, "expand": 1}), r"block 3 .*expand=1"),
        ("mdenas", lambda o: with_block(o, 1, "skip"), r"block 2 .*no skip"),
        ("proxyless", lambda o: with_block(o, 0, "skip"), r"block 1 .*cannot be 'skip'"),
        ("proxyless", lambda o: with_block(o, 16, "skip"), r"block 17 .*cannot be 'skip'"),
        ("mdenas", lambda o: with_block(o, 6, "k3_e6"), r"block 7 .*expected"),
        ("mdenas", lambda o: with_block(o, 6, {"kernel": 3}), r"block 7 .*expected"),
        ("mdenas", lambda o: with_block(o, 6, {"kernel": "3", "expand": 6}), r"block 7 .*integers"),
        ("mdenas", lambda o: {**o, "choices": "all"}, "choices"),
    ],
)
def test_arch_from_json_refuses_with_a_message_naming_the_problem(choices, edit, message):
    space = tiny(choices)
    with pytest.raises(ArchError, match=message):
        space.arch_from_json(edit(good_json(space)))


def test_arch_from_json_hints_at_the_choice_set_it_was_written_with():
    proxyless = tiny("proxyless")
    obj = proxyless.arch_to_json(arch_of(proxyless, lambda d: len(d.choices) - 1))  # skip wherever allowed
    with pytest.raises(ArchError, match="space.choices=proxyless"):
        tiny().arch_from_json(obj)
    # an arch whose blocks all exist in the other set is the same network: accepted
    assert tiny().arch_from_json(good_json(proxyless)) == all_k3_e6(tiny())


def test_cost_counts_params_and_multiply_adds():
    space = tiny()
    arch = all_k3_e6(space)
    cost = arch_cost(space, arch)
    assert cost.params == sum(p.numel() for p in space.build_child(arch).parameters())
    assert cost.flops > 0


# MdeNAS's Table 3 spaces, as issue 19 describes them from ProxylessNAS's released GPU and CPU nets:
# (in, out, stride, residual) at width 1, written out so the tests do not read the layout back.
GPU_POSITIONS = [
    (40, 24, 1, False),
    (24, 32, 2, False),
    (32, 56, 2, False),
    (56, 56, 1, True),
    (56, 112, 2, False),
    (112, 112, 1, True),
    (112, 128, 1, False),
    (128, 128, 1, True),
    (128, 128, 1, True),
    (128, 256, 2, False),
    (256, 256, 1, True),
    (256, 256, 1, True),
    (256, 256, 1, True),
    (256, 432, 1, False),
]
CPU_STAGES = [(24, 1, 1), (32, 4, 2), (48, 4, 2), (88, 2, 2), (104, 4, 1), (216, 4, 2), (360, 1, 1)]


def cpu_positions() -> list[tuple[int, int, int, bool]]:
    out, cin = [], 40
    for width, count, stride in CPU_STAGES:
        for j in range(count):
            s = stride if j == 0 else 1
            out.append((cin, width, s, s == 1 and cin == width))
            cin = width
    return out


def positions(space: MBConvSpace) -> list[tuple[int, int, int, bool]]:
    return [(b.cin, b.cout, b.stride, b.residual) for b in space.layout.blocks]


def test_a_new_run_searches_the_gpu_skeleton_by_default():
    config = resolve(MBConvSpace, None, "paper")
    assert config["space"]["skeleton"] == "gpu"
    space = get_registry().build_space(config)
    assert len(space.decisions) == 14 and space.skeleton == "gpu"


@pytest.mark.parametrize(
    "skeleton, expected, stem, head",
    [
        ("gpu", GPU_POSITIONS, 40, 1728),
        ("cpu", cpu_positions(), 40, 1432),
    ],
)
def test_gpu_and_cpu_skeletons_are_proxylessnas_released_nets_without_zero_layers(skeleton, expected, stem, head):
    space = MBConvSpace({"skeleton": skeleton}, IMAGENET)
    assert positions(space) == expected and len(expected) == {"gpu": 14, "cpu": 20}[skeleton]
    layout = space.layout
    assert (layout.stem_width, layout.stem_stride, layout.first_width, layout.head_width) == (stem, 2, None, head)
    nine = tuple(f"k{k}_e{e}" for k in (3, 5, 7) for e in (1, 3, 6))
    assert all(d.choices == nine for d in space.decisions)  # no zero or identity layers
    child = space.build_child(space.sample(torch.Generator().manual_seed(0)))
    assert isinstance(child.first, nn.Identity)
    assert {m.eps for m in child.modules() if isinstance(m, nn.BatchNorm2d)} == {1e-3}


@pytest.mark.parametrize("skeleton", ["gpu", "cpu"])
def test_cifar_variant_keeps_the_widths_and_the_total_stride_is_8(skeleton):
    imagenet = MBConvSpace({"skeleton": skeleton, "width_mult": 0.25}, IMAGENET)
    cifar = MBConvSpace({"skeleton": skeleton, "width_mult": 0.25}, CIFAR)
    assert [b.cout for b in cifar.layout.blocks] == [b.cout for b in imagenet.layout.blocks]
    strides = [b.stride for b in imagenet.layout.blocks]
    first_down = strides.index(2)
    assert [b.stride for b in cifar.layout.blocks] == [1 if i == first_down else s for i, s in enumerate(strides)]
    assert cifar.layout.stem_stride == 1
    child = cifar.build_child(cifar.sample(torch.Generator().manual_seed(1))).eval()
    seen = []
    child.head.register_forward_hook(lambda m, inp, out: seen.append(inp[0].shape))
    with torch.no_grad():
        assert child(torch.randn(1, 3, 32, 32)).shape == (1, 10)
    assert seen[0][-2:] == (4, 4)


def test_width_mult_scales_the_gpu_skeleton_and_keeps_its_residuals():
    space = MBConvSpace({"skeleton": "gpu", "width_mult": 0.5}, IMAGENET)
    assert [b.cout for b in space.layout.blocks] == [max(8, int(w * 0.5 / 8 + 0.5) * 8) for _, w, _, _ in GPU_POSITIONS]
    assert [b.residual for b in space.layout.blocks] == [r for *_, r in GPU_POSITIONS]
    assert space.layout.head_width == 864


def test_arch_json_records_the_skeleton_and_one_without_it_is_the_search_skeleton():
    gpu = MBConvSpace({"skeleton": "gpu", "width_mult": 0.25}, CIFAR)
    arch = gpu.sample(torch.Generator().manual_seed(2))
    obj = json.loads(json.dumps(gpu.arch_to_json(arch)))
    assert obj["skeleton"] == "gpu" and len(obj["blocks"]) == 14
    assert gpu.arch_from_json(obj) == arch
    assert MBConvSpace.arch_config(obj)["space.skeleton"] == "gpu"
    old = {k: v for k, v in tiny().arch_to_json(all_k3_e6(tiny())).items() if k != "skeleton"}  # before skeletons
    assert MBConvSpace.arch_config(old)["space.skeleton"] == "search"
    with pytest.raises(ArchError, match="space.skeleton=search"):
        gpu.arch_from_json(old)
    with pytest.raises(ArchError, match="skeleton"):
        gpu.arch_from_json({**obj, "skeleton": "mobile"})
    with pytest.raises(ConfigError, match="space.skeleton"):
        MBConvSpace({"skeleton": "mobile"}, CIFAR)


def test_a_run_written_before_skeletons_loads_as_it_was(tmp_path):
    """config.json and arch.json of an earlier run have no skeleton key: they are the 21-block space."""
    from nasframe.engine.training import train_config

    old_arch = {k: v for k, v in tiny().arch_to_json(all_k3_e6(tiny())).items() if k != "skeleton"}
    config = train_config(old_arch, "tiny", {"device": "cpu"})
    assert config["space"]["skeleton"] == "search"
    del config["space"]["skeleton"]  # as an earlier run's config.json
    space = get_registry().build_space(config)
    assert space.skeleton == "search" and space.arch_from_json(old_arch) == all_k3_e6(space)
