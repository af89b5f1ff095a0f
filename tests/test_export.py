"""`nasframe export`: trained networks of every registered space to ONNX and torch.export programs, checked
against PyTorch on real images, with a model card naming the run's figures; every bad input is one line."""

from __future__ import annotations

import importlib.util
import json
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import nasframe
from nasframe.cli import _load_commands, cli
from nasframe.config import run_hash
from nasframe.registry import get_registry

_load_commands()

SPACES = sorted(get_registry().spaces)
FORMATS = ("onnx", "exported-program")
FILES = {"onnx": "model.onnx", "exported-program": "model.pt2"}
TOLERANCE = 1e-4


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_line_error(result, *fragments):
    """Exit 1, one line of output, no traceback, each fragment in it."""
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def shipped(space):
    names = sorted(name for name, obj in get_registry().published().items() if obj["space"] == space)
    if not names:
        pytest.skip(f"space {space!r} ships no architecture")
    return names[0]


@pytest.fixture(scope="module", params=SPACES)
def runs(request, tmp_path_factory, cifar_dir):
    """A tiny search of the space, and its architecture trained from scratch for one epoch."""
    space = request.param
    root = tmp_path_factory.mktemp(f"runs-{space}")
    common = ("--preset", "tiny", "--epochs", 1, "--data-dir", cifar_dir, "--device", "cpu")
    search = root / "search"
    result = invoke("run", "--strategy", "random", "--space", space, *common, "--out", search, "--set", "data.limit=64")
    assert result.exit_code == 0, result.output
    train = root / "train"
    result = invoke(
        "train",
        "--arch",
        search / "arch.json",
        *common,
        "--out",
        train,
        "--set",
        "data.limit=64",
        "--set",
        "data.test_limit=64",
    )
    assert result.exit_code == 0, result.output
    return space, search, train


def real_images(cifar_dir, preprocessing, count):
    """CIFAR test images normalised by the export's own preprocessing record (what a consumer would do)."""
    folder = cifar_dir / "cifar-10-batches-py" if (cifar_dir / "cifar-10-batches-py").is_dir() else cifar_dir
    with open(folder / "test_batch", "rb") as f:
        batch = pickle.load(f, encoding="bytes")  # the test's own reader: torchvision's documented layout
    data = batch[b"data"] if b"data" in batch else batch["data"]
    images = torch.from_numpy(np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32)[:count].copy())
    mean = torch.tensor(preprocessing["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(preprocessing["std"]).view(1, -1, 1, 1)
    return ((images[:count].float() / 255 - mean) / std).contiguous()


NO_NASFRAME_LOADER = textwrap.dedent(
    """
    import importlib.abc, sys
    import numpy as np

    class NoNasframe(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "nasframe" or name.startswith("nasframe."):
                raise ImportError("nasframe is blocked in this process")
            return None

    sys.meta_path.insert(0, NoNasframe())
    import torch

    program = torch.export.load(sys.argv[1]).module()
    for batch in (1, 7):
        x = torch.from_numpy(np.load(sys.argv[2])[:batch])
        np.save(f"logits-{batch}.npy", program(x).detach().numpy())
    assert not any(m == "nasframe" or m.startswith("nasframe.") for m in sys.modules)
    """
)


def run_exported(fmt, path, x, tmp_path):
    """Logits of the exported file at batch 1 and 7, run as a deployment runs it (a program: without nasframe)."""
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == ["images"]
        return {b: torch.from_numpy(session.run(None, {"images": x[:b].numpy()})[0]) for b in (1, 7)}
    work = tmp_path / "bare"
    work.mkdir()
    np.save(work / "x.npy", x.numpy())
    (work / "load.py").write_text(NO_NASFRAME_LOADER)
    done = subprocess.run(
        [sys.executable, "-I", "load.py", str(path), "x.npy"], cwd=work, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return {b: torch.from_numpy(np.load(work / f"logits-{b}.npy")) for b in (1, 7)}


@pytest.mark.parametrize("fmt", FORMATS)
def test_trained_network_exports_matching_pytorch_on_real_images_with_a_card_of_its_run(runs, fmt, tmp_path, cifar_dir):
    space, search, train = runs
    out = tmp_path / "exports" / "net"
    result = invoke("export", train, "--format", fmt, "--out", out, "--search", search, "--data-dir", cifar_dir)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "exports").iterdir()) == ["net"]  # no staging folder left
    record = json.loads((out / "export.json").read_text())
    summary = json.loads((train / "summary.json").read_text())
    search_config = json.loads((search / "config.json").read_text())

    assert record["weights"] == "trained" and record["space"] == space and record["file"] == FILES[fmt]
    parity = record["parity"]
    assert parity["origin"] == "real" and parity["images"] == 32
    assert parity["max_abs_diff"] <= TOLERANCE and parity["top1_agreement"] == 1.0
    assert parity["logit_scale"] > 1e-3  # trained logits: the difference is measured against real numbers
    if fmt == "onnx":
        assert isinstance(record["opset"], int) and record["opset"] >= 17
    assert record["latency"]["exported_ms"] > 0 and record["latency"]["pytorch_ms"] > 0

    reference = nasframe.load_model(train)
    x = real_images(cifar_dir, record["preprocessing"], 7)
    with torch.no_grad():
        expected = reference(x)
    for batch, logits in run_exported(fmt, out / FILES[fmt], x, tmp_path).items():
        assert logits.shape == (batch, 10)
        assert (logits - expected[:batch]).abs().max() <= TOLERANCE
        assert torch.equal(logits.argmax(1), expected[:batch].argmax(1))
    with torch.no_grad():  # the export folder loads back as the trained network
        assert torch.equal(nasframe.load_model(out)(x), expected)

    card = (out / "README.md").read_text()
    assert record["network"]["params"] == summary["params"] and record["network"]["flops"] == summary["flops"]
    assert record["training"]["test_accuracy"] == summary["test_accuracy"]
    for figure in (
        f"{100 * summary['test_accuracy']:.2f} %",
        f"{summary['params']:,}",
        f"{summary['flops']:,}",
        f"{parity['max_abs_diff']:.3g}",
        run_hash(json.loads((train / "config.json").read_text())),
        run_hash(search_config),
        f"`{search_config['strategy']['name']}`",
    ):
        assert figure in card, figure
    assert record["search"]["seed"] == search_config["seed"] and record["search"]["strategy"] == "random"
    assert "Untrained" not in card


def test_search_run_is_refused_as_trained_and_exports_untrained_when_asked(runs, tmp_path):
    space, search, _ = runs
    out = tmp_path / "out"
    one_line_error(invoke("export", search, "--format", "exported-program", "--out", out), "no trained weights")
    assert not out.exists()
    result = invoke("export", search, "--format", "exported-program", "--out", out, "--weights", "untrained")
    assert result.exit_code == 0, result.output
    assert "UNTRAINED" in result.output
    record = json.loads((out / "export.json").read_text())
    assert record["weights"] == "untrained" and record["training"] is None and record["source"]["kind"] == "search run"
    assert record["search"]["config_digest"] == run_hash(json.loads((search / "config.json").read_text()))
    card = (out / "README.md").read_text()
    assert "**Untrained**" in card and "no test accuracy exists" in card


def test_a_trained_run_with_another_search_is_refused(runs, tmp_path):
    _, search, train = runs
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text((search / "config.json").read_text())
    arch = json.loads((search / "arch.json").read_text())
    space = get_registry().build_space(json.loads((train / "config.json").read_text()))
    found = space.arch_from_json(arch)
    draws = (space.sample_final(torch.Generator().manual_seed(seed)) for seed in range(100))
    changed = next(arch for arch in draws if arch != found)
    (other / "arch.json").write_text(json.dumps(space.arch_to_json(changed)))
    out = tmp_path / "out"
    result = invoke("export", train, "--format", "exported-program", "--out", out, "--search", other)
    one_line_error(result, "found another architecture")
    assert not out.exists()


def test_a_trained_run_is_not_resized(runs, tmp_path):
    _, _, train = runs
    out = tmp_path / "out"
    result = invoke("export", train, "--format", "exported-program", "--out", out, "--set", "space.channels=4")
    one_line_error(result, "--preset and --set", "config.json")
    assert not out.exists()


@pytest.mark.parametrize("space", SPACES)
def test_shipped_architecture_exports_untrained_and_says_so(space, tmp_path):
    name = shipped(space)
    one_line_error(
        invoke("export", name, "--format", "exported-program", "--weights", "trained", "--out", tmp_path / "x"),
        "no weights",
    )
    out = tmp_path / "shipped"
    empty = tmp_path / "no-data"
    empty.mkdir()
    result = invoke(
        "export", name, "--format", "exported-program", "--preset", "tiny", "--out", out, "--data-dir", empty
    )
    assert result.exit_code == 0, result.output
    record = json.loads((out / "export.json").read_text())
    assert record["weights"] == "untrained" and record["source"]["kind"] == "shipped architecture"
    card = (out / "README.md").read_text()
    assert record["published"]["paper"] in card
    assert record["parity"]["origin"] == "random" and "not at hand" in record["parity"]["description"]
    assert "random images" in card
    program = torch.export.load(str(out / "model.pt2")).module()
    for batch in (1, 7):
        x = torch.randn(batch, *record["preprocessing"]["input_shape"][1:])
        with torch.no_grad():
            assert (program(x) - nasframe.load_model(out)(x)).abs().max() <= TOLERANCE


def test_folder_that_is_not_a_run_is_one_line(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("x")
    one_line_error(invoke("export", notes, "--format", "onnx", "--out", tmp_path / "out"), "is not a run directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes"]


def test_unknown_format_is_one_line(tmp_path):
    one_line_error(invoke("export", "x", "--format", "tflite", "--out", tmp_path / "out"), "'tflite'", "onnx")
    assert list(tmp_path.iterdir()) == []


def test_out_with_other_content_is_refused_and_kept(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    one_line_error(invoke("export", shipped(SPACES[0]), "--format", "onnx", "--out", out), "already holds files")
    assert [p.name for p in out.iterdir()] == ["mine.txt"] and (out / "mine.txt").read_text() == "keep me"


def test_missing_extras_name_what_to_install(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    line = one_line_error(invoke("export", "x", "--format", "onnx", "--out", tmp_path / "out"), "onnxruntime")
    assert "pip install 'nasframe[export]'" in line
    assert list(tmp_path.iterdir()) == []


def test_bad_tolerance_is_one_line(tmp_path):
    result = invoke("export", "x", "--format", "onnx", "--tolerance", -1, "--out", tmp_path / "out")
    one_line_error(result, "export.tolerance", "> 0")


class DataDependent(torch.nn.Module):
    """A branch on a tensor's value: neither exporter can put it in a static graph."""

    def __init__(self, classes):
        super().__init__()
        self.fc = torch.nn.Linear(3, classes)

    def forward(self, x):
        y = self.fc(x.mean((2, 3)))
        return y if y.sum() > 0 else -y


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_op_the_exporter_cannot_express_is_named_in_one_line(tmp_path, monkeypatch, fmt):
    name = shipped(SPACES[0])
    space_cls = get_registry().space(get_registry().published()[name]["space"])
    monkeypatch.setattr(space_cls, "build_child", lambda self, arch: DataDependent(self.data.num_classes))
    out = tmp_path / "out"
    result = invoke("export", name, "--format", fmt, "--preset", "tiny", "--out", out)
    one_line_error(result, "cannot express this network", "GuardOnDataDependentSymNode")
    assert list(tmp_path.iterdir()) == []


def test_parity_beyond_tolerance_is_refused_with_the_difference(tmp_path, monkeypatch):
    from nasframe.deploy import export

    load = export.load

    def off_by_a_little(fmt, path):
        run = load(fmt, path)
        return lambda x: run(x) + 3e-3

    monkeypatch.setattr(export, "load", off_by_a_little)
    name = shipped(SPACES[0])
    out = tmp_path / "deep" / "out"
    result = invoke("export", name, "--format", "exported-program", "--preset", "tiny", "--out", out)
    one_line_error(result, "export refused", "0.003", "--tolerance 0.0001")
    assert list(tmp_path.iterdir()) == []  # not even the parent folder it made


def test_a_space_that_draws_and_has_ground_truth_gets_both_on_the_card(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from nasframe.interfaces.space import CellDrawing, StripDrawing

    name = shipped(SPACES[0])
    space_cls = get_registry().space(get_registry().published()[name]["space"])
    panels = (
        CellDrawing("cell", ("in0", "in1"), ("0", "1"), "out", (("in0", "0", "conv"), ("0", "1", "pool")), concat=True),
        StripDrawing("blocks", (("MB3 3x3", 0.0), ("skip", None), ("MB6 7x7", 1.0))),
    )
    truth = {"cifar10": 93.76, "regret_cifar10": 0.61, "source": "a tabular benchmark (test double)"}
    monkeypatch.setattr(space_cls, "drawing", lambda self, arch: panels)
    monkeypatch.setattr(space_cls, "ground_truth", lambda self, arch: truth)
    out = tmp_path / "drawn"
    result = invoke("export", name, "--format", "exported-program", "--preset", "tiny", "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / "arch.png").read_bytes().startswith(b"\x89PNG")
    assert json.loads((out / "export.json").read_text())["drawing"] == "arch.png"
    card = (out / "README.md").read_text()
    assert "![architecture](arch.png)" in card
    assert json.loads((out / "export.json").read_text())["ground_truth"] == truth
    assert "| cifar10 | 93.76 |" in card and "| regret_cifar10 | 0.61 |" in card and truth["source"] in card


def test_export_help_does_not_import_torch():
    code = (
        "import sys\nfrom nasframe.cli import main\nsys.argv = ['nasframe', 'export', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\nprint('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "RUN_OR_ARCH" in done.stdout and "--weights" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "False", done.stdout + done.stderr
