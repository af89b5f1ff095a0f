"""The published architectures the spaces ship: the released genotypes, and the official code's parameter counts.

Every expected count below is the figure the released code gives, worked out independently of
nasframe: an exact figure the official code (or its asserts) states, or the closed-form count of the
released network written out in this file (``darts_params``, ``proxyless_params``), which also
reproduces every stated figure. docs/reproduce.md cites the source of each.
"""

from __future__ import annotations

import ast
import json

import pytest
from click.testing import CliRunner

from nasframe.cli import _load_commands, cli
from nasframe.engine.training import read_arch, train_config
from nasframe.interfaces.errors import ArchError
from nasframe.measure.cost import count_params
from nasframe.registry import get_registry

_load_commands()

# Genotypes as the released files spell them (DARTS-style flat pairs, or one list per node).
RELEASED = {
    # quark0/darts cnn/genotypes.py
    "darts_v1": "normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), ('sep_conv_3x3', 1), "
    "('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 2)], "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0), "
    "('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('avg_pool_3x3', 0)]",
    "darts_v2": "normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), "
    "('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)]",
    # yuhuixu1993/PC-DARTS genotypes.py PC_DARTS_cifar
    "pc_darts": "normal=[('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 0), ('dil_conv_3x3', 1), "
    "('sep_conv_5x5', 0), ('sep_conv_3x3', 1), ('avg_pool_3x3', 0), ('dil_conv_3x3', 1)], "
    "reduce=[('sep_conv_5x5', 1), ('max_pool_3x3', 0), ('sep_conv_5x5', 1), ('sep_conv_5x5', 2), "
    "('sep_conv_3x3', 0), ('sep_conv_3x3', 3), ('sep_conv_3x3', 1), ('sep_conv_3x3', 2)]",
    # chenxin061/pdarts genotypes.py PDARTS
    "p_darts": "normal=[('skip_connect', 0), ('dil_conv_3x3', 1), ('skip_connect', 0),('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('sep_conv_3x3', 3), ('sep_conv_3x3',0), ('dil_conv_5x5', 4)], "
    "reduce=[('avg_pool_3x3', 0), ('sep_conv_5x5', 1), ('sep_conv_3x3', 0), ('dil_conv_5x5', 2), "
    "('max_pool_3x3', 0), ('dil_conv_3x3', 1), ('dil_conv_3x3', 1), ('dil_conv_5x5', 3)]",
    # D-X-Y/AutoDL-Projects xautodl/nas_infer_model/DXYs/genotypes.py GDAS_V1 (pairs per node)
    "gdas": "normal=[(('skip_connect', 0), ('skip_connect', 1)), (('skip_connect', 0), ('sep_conv_5x5', 2)), "
    "(('sep_conv_3x3', 3), ('skip_connect', 0)), (('sep_conv_5x5', 4), ('sep_conv_3x3', 3))], "
    "reduce=[(('sep_conv_5x5', 0), ('sep_conv_3x3', 1)), (('sep_conv_5x5', 2), ('sep_conv_5x5', 1)), "
    "(('dil_conv_5x5', 2), ('sep_conv_3x3', 1)), (('sep_conv_5x5', 0), ('sep_conv_5x5', 1))]",
    # tanglang96/MDENAS run_darts_cifar.sh --darts_gene (pt.darts format: one list per node)
    "mdenas": "normal=[[('sep_conv_5x5', 1), ('sep_conv_3x3', 0)], [('skip_connect', 0), ('sep_conv_5x5', 1)], "
    "[('sep_conv_5x5', 3), ('sep_conv_3x3', 1)], [('dil_conv_5x5', 3), ('max_pool_3x3', 4)]], "
    "reduce=[[('max_pool_3x3', 0), ('sep_conv_5x5', 1)], [('skip_connect', 0), ('skip_connect', 1)], "
    "[('sep_conv_3x3', 3), ('skip_connect', 2)], [('dil_conv_3x3', 3), ('sep_conv_5x5', 0)]]",
}

# The MBConv gene lists: ProxylessNAS's released nets are the (kernel, expand) of the non-zero blocks of
# proxyless_gpu.config / proxyless_cpu.config (copies in tanglang96/MDENAS mobile_config/); MdeNAS's are
# the --mobile_gene of run_gpu_imagenet.sh / run_cpu_imagenet.sh, applied to those same blocks in order.
RELEASED_GENES = {
    "proxyless_gpu": [
        (3, 1),
        (5, 3),
        (7, 3),
        (3, 3),
        (7, 6),
        (5, 3),
        (5, 6),
        (3, 3),
        (5, 3),
        (7, 6),
        (7, 6),
        (7, 6),
        (5, 6),
        (7, 6),
    ],
    "proxyless_cpu": [
        (3, 1),
        (3, 6),
        (3, 3),
        (3, 3),
        (3, 3),
        (3, 6),
        (3, 3),
        (3, 3),
        (5, 3),
        (3, 6),
        (3, 3),
        (5, 6),
        (3, 3),
        (3, 3),
        (3, 3),
        (5, 6),
        (5, 3),
        (5, 3),
        (3, 3),
        (5, 6),
    ],
    "mdenas_gpu": [
        (7, 6),
        (5, 6),
        (7, 3),
        (3, 6),
        (5, 6),
        (3, 1),
        (7, 3),
        (7, 6),
        (3, 3),
        (3, 6),
        (7, 3),
        (3, 3),
        (3, 3),
        (5, 6),
    ],
    "mdenas_cpu": [
        (5, 3),
        (7, 1),
        (3, 6),
        (5, 3),
        (5, 3),
        (5, 3),
        (5, 1),
        (5, 6),
        (5, 1),
        (5, 6),
        (7, 3),
        (5, 3),
        (7, 3),
        (7, 6),
        (3, 6),
        (5, 3),
        (7, 6),
        (7, 1),
        (3, 3),
        (3, 3),
    ],
}

# (entry, dataset) -> parameters of the network the official code builds, auxiliary head left out as
# the official counts do. CIFAR: C=36, 20 cells; ImageNet: C=48, 14 cells (GDAS: C=50, its config).
EXPECTED = {
    ("darts_v1", "cifar10"): 3_169_414,
    ("darts_v2", "cifar10"): 3_349_342,
    ("darts_v2", "imagenet"): 4_718_752,
    ("pc_darts", "cifar10"): 3_634_678,
    ("pc_darts", "imagenet"): 5_270_560,
    ("p_darts", "cifar10"): 3_433_798,
    ("p_darts", "imagenet"): 4_944_352,
    ("gdas", "cifar10"): 3_368_782,
    ("gdas", "imagenet"): 5_345_075,
    ("mdenas", "cifar10"): 3_786_742,  # MdeNAS's network: pt.darts, pools followed by BatchNorm
    ("mdenas", "imagenet"): 5_329_024,
    ("proxyless_gpu", "imagenet"): 7_119_848,  # osmr/imgclsmob proxylessnas.py: assert weight_count == 7119848
    ("proxyless_cpu", "imagenet"): 4_361_648,  # ... assert weight_count == 4361648
    ("mdenas_gpu", "imagenet"): 5_745_984,
    ("mdenas_cpu", "imagenet"): 4_069_992,
}


def _literal(text: str) -> list:
    """The first bracketed Python literal of ``text``."""
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "["
        depth -= ch == "]"
        if depth == 0:
            return ast.literal_eval(text[: i + 1])
    raise ValueError(text)


def released_cells(name: str) -> dict[str, list[list]]:
    out = {}
    for cell in ("normal", "reduce"):
        value = _literal(RELEASED[name].split(f"{cell}=", 1)[1])
        flat = [pair for node in value for pair in node] if isinstance(value[0][0], (tuple, list)) else value
        out[cell] = [list(pair) for pair in flat]
    return out


def darts_params(name: str, dataset: str, C: int, layers: int, pool_bn: bool, classes: int) -> int:
    """Parameters of DARTS's NetworkCIFAR / NetworkImageNet (model.py, operations.py) without the auxiliary head.

    sep_conv k: two (depthwise k*k, pointwise C*C, BN 2C); dil_conv k: one; skip at stride 2:
    FactorizedReduce (two 1x1 to C/2, BN 2C); pools: nothing, or a BN of 2C in pt.darts (MdeNAS).
    """
    cells = released_cells(name)

    def op(kind: str, c: int, stride: int) -> int:
        if kind.startswith("sep_conv"):
            k = int(kind[-1])
            return 2 * (c * k * k + c * c + 2 * c)
        if kind.startswith("dil_conv"):
            k = int(kind[-1])
            return c * k * k + c * c + 2 * c
        if kind == "skip_connect":
            return 0 if stride == 1 else c * c + 2 * c
        return 2 * c if pool_bn else 0

    if dataset == "imagenet":
        total = 3 * (C // 2) * 9 + 2 * (C // 2) + (C // 2) * C * 9 + 2 * C + C * C * 9 + 2 * C
        c_pp = c_p = C
    else:
        total = 3 * 3 * C * 9 + 2 * 3 * C
        c_pp = c_p = 3 * C
    c = C
    for i in range(layers):
        reduction = i in (layers // 3, 2 * layers // 3)
        c = 2 * c if reduction else c
        total += c_pp * c + 2 * c + c_p * c + 2 * c  # preprocess0 (1x1 or FactorizedReduce), preprocess1
        for kind, src in cells["reduce" if reduction else "normal"]:
            total += op(kind, c, 2 if reduction and src < 2 else 1)
        c_pp, c_p = c_p, 4 * c
    return total + c_p * classes + classes


# ProxylessNAS's released nets, block by block as their configs list them: (in, out, stride); the
# blocks whose op is a ZeroLayer are None (mit-han-lab/proxylessnas model_zoo.py loads these configs).
PROXYLESS_BLOCKS = {
    "gpu": (
        40,
        1728,
        [
            (40, 24, 1),
            (24, 32, 2),
            None,
            None,
            None,
            (32, 56, 2),
            None,
            None,
            (56, 56, 1),
            (56, 112, 2),
            None,
            None,
            (112, 112, 1),
            (112, 128, 1),
            None,
            (128, 128, 1),
            (128, 128, 1),
            (128, 256, 2),
            (256, 256, 1),
            (256, 256, 1),
            (256, 256, 1),
            (256, 432, 1),
        ],
    ),
    "cpu": (
        40,
        1432,
        [
            (40, 24, 1),
            (24, 32, 2),
            (32, 32, 1),
            (32, 32, 1),
            (32, 32, 1),
            (32, 48, 2),
            (48, 48, 1),
            (48, 48, 1),
            (48, 48, 1),
            (48, 88, 2),
            None,
            None,
            (88, 88, 1),
            (88, 104, 1),
            (104, 104, 1),
            (104, 104, 1),
            (104, 104, 1),
            (104, 216, 2),
            (216, 216, 1),
            (216, 216, 1),
            (216, 216, 1),
            (216, 360, 1),
        ],
    ),
}


def proxyless_params(config: str, genes: list[tuple[int, int]], classes: int = 1000) -> int:
    """Parameters of a ProxylessNAS net: stem 3x3, MBInvertedConvLayers, feature mix 1x1, linear classifier.

    MBInvertedConvLayer(in, out, k, e): 1x1 to in*e + BN (absent when e = 1), depthwise k x k + BN,
    1x1 to out + BN. The genes go to the non-zero blocks in order (MdeNAS's proxyless_nets.py).
    """
    stem, head, blocks = PROXYLESS_BLOCKS[config]
    real = [b for b in blocks if b is not None]
    assert len(real) == len(genes)
    total = 3 * stem * 9 + 2 * stem
    for (cin, cout, _), (k, e) in zip(real, genes):
        mid = cin * e
        total += (cin * mid + 2 * mid if e != 1 else 0) + mid * k * k + 2 * mid + mid * cout + 2 * cout
    return total + real[-1][1] * head + 2 * head + head * classes + classes


def test_every_named_entry_is_shipped_with_its_paper_and_source():
    published = get_registry().published()
    assert set(published) >= {name for name, _ in EXPECTED}
    for name, obj in published.items():
        record = obj["published"]
        assert record["paper"] and record["source"] and record["reported"], name


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_shipped_genotypes_are_the_released_ones(name):
    obj = read_arch(name)
    assert "published" not in obj and obj["space"] == "darts"
    assert {cell: obj[cell] for cell in ("normal", "reduce")} == released_cells(name)
    assert obj.get("pool_bn", False) == (name == "mdenas")


@pytest.mark.parametrize("name", sorted(RELEASED_GENES))
def test_shipped_mbconv_nets_are_the_released_gene_lists(name):
    obj = read_arch(name)
    assert obj["skeleton"] == name.split("_")[1] and obj["variant"] == "imagenet"
    assert [(b["kernel"], b["expand"]) for b in obj["blocks"]] == RELEASED_GENES[name]


@pytest.mark.parametrize("name, dataset", sorted(EXPECTED))
def test_expected_counts_are_the_official_networks_counted_independently(name, dataset):
    if name in RELEASED_GENES:
        count = proxyless_params(name.split("_")[1], RELEASED_GENES[name])
    else:
        C, layers = (36, 20) if dataset == "cifar10" else (50 if name == "gdas" else 48, 14)
        count = darts_params(name, dataset, C, layers, name == "mdenas", 10 if dataset == "cifar10" else 1000)
    assert count == EXPECTED[name, dataset]


def paper_setting(name: str, dataset: str) -> dict:
    """The config overrides the entry's record gives for ``dataset``, as ``nasframe list`` shows them."""
    record = get_registry().published()[name]["published"]
    (reported,) = [r for r in record["reported"] if r["dataset"] == dataset]
    return {"data.dataset": dataset, **reported["config"]}


@pytest.mark.parametrize("name, dataset", sorted(EXPECTED))
def test_each_entry_has_the_official_count_at_its_paper_setting(name, dataset):
    arch = read_arch(name)
    config = train_config(arch, "paper", paper_setting(name, dataset))
    space = get_registry().build_space(config)
    model = space.build_child(space.arch_from_json(arch))
    assert count_params(model) == EXPECTED[name, dataset]


def test_train_by_name_reports_the_count_without_data(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(
        cli,
        [
            "train",
            "--arch",
            "darts_v2",
            "--epochs",
            "0",
            "--out",
            str(out),
            "--device",
            "cpu",
            "--data-dir",
            str(tmp_path / "none"),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert "published" not in config["arch"] and (config["space"]["layers"], config["space"]["channels"]) == (20, 36)
    assert json.loads((out / "summary.json").read_text())["params"] == EXPECTED["darts_v2", "cifar10"]


def test_an_unknown_name_lists_the_shipped_ones(tmp_path):
    with pytest.raises(ArchError, match="darts_v2.*mdenas_gpu"):
        read_arch("darts_v9")
    result = CliRunner().invoke(cli, ["train", "--arch", "darts_v9", "--epochs", "0", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and "no shipped architecture" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["train", "--arch", "missing.json", "--epochs", "0", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and "no architecture file at missing.json" in result.output


def test_list_shows_every_entry_with_its_source_and_figures():
    result = CliRunner(env={"COLUMNS": "250"}).invoke(cli, ["list"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for name in {name for name, _ in EXPECTED}:
        assert name in result.output
    assert "quark0/darts" in result.output and "run_gpu_imagenet.sh" in result.output
    assert "4.7M params" in result.output and "7.12M params" in result.output
