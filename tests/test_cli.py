import json

import pytest
from click.testing import CliRunner

from nasframe.cli import cli


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("command", [[], ["list"], ["config"], ["run"], ["bench"], ["report"], ["train"], ["rank"]])
def test_every_command_has_help(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0 and "Usage" in result.output


@pytest.mark.parametrize(
    "args,message",
    [
        (["--strategy", "nope", "--space", "darts"], "unknown strategy 'nope'; available: "),
        (["--strategy", "random", "--space", "nope"], "unknown search space 'nope'; available: "),
        (["--strategy", "random", "--space", "darts", "--set", "space.chanels=3"], "unknown config key"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(args, message, tmp_path):
    result = invoke("run", *args, "--out", str(tmp_path / "r"))
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_no_data_and_no_download_says_what_to_pass(tmp_path):
    result = invoke(
        "run",
        "--strategy",
        "random",
        "--space",
        "darts",
        "--preset",
        "tiny",
        "--data-dir",
        str(tmp_path / "nodata"),
        "--set",
        "data.download=false",
        "--out",
        str(tmp_path / "r"),
    )
    assert result.exit_code == 1 and "--data-dir" in result.output


def test_random_tiny_search_writes_a_valid_run_directory(tmp_path, cifar_dir):
    out = tmp_path / "run"
    result = invoke(
        "run",
        "--strategy",
        "random",
        "--space",
        "darts",
        "--preset",
        "tiny",
        "--epochs",
        "2",
        "--data-dir",
        str(cifar_dir),
        "--out",
        str(out),
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    # not a terminal: one line per epoch a log can read, and the summary in human units
    assert "epoch 1/2  loss " in result.output and "epoch 2/2  loss " in result.output
    assert " img/s  elapsed " in result.output and "ETA 0 s" in result.output
    assert "val_accuracy" in result.output and " %" in result.output
    assert "constraint." not in result.output  # no budget: no budget rows
    config = json.loads((out / "config.json").read_text())
    assert config["strategy"]["name"] == "random" and config["space"]["layers"] == 3
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in events] == [0, 1]
    for key in ("train_loss", "train_accuracy", "val_accuracy", "seconds", "images_per_second"):
        assert key in events[0]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["val_accuracy"] > 0.10
    arch = json.loads((out / "arch.json").read_text())
    assert arch["space"] == "darts" and len(arch["normal"]) == 8 and len(arch["reduce"]) == 8
    from safetensors import safe_open

    with safe_open(str(out / "checkpoint.safetensors"), "pt") as f:
        prefixes = {k.split(".")[0] for k in f.keys()}
    assert {"supernet", "optimizer"} <= prefixes


def test_run_refuses_to_overwrite_a_finished_run(tmp_path, cifar_dir):
    out = tmp_path / "run"
    args = [
        "run",
        "--strategy",
        "random",
        "--space",
        "darts",
        "--preset",
        "tiny",
        "--epochs",
        "1",
        "--data-dir",
        str(cifar_dir),
        "--out",
        str(out),
        "--set",
        "data.limit=200",
        "--device",
        "cpu",
    ]
    assert invoke(*args).exit_code == 0
    before = (out / "summary.json").read_bytes()
    result = invoke(*args)
    assert result.exit_code == 1 and "--resume" in result.output
    assert (out / "summary.json").read_bytes() == before


def test_paper_preset_builds_the_paper_supernet_and_reports_its_size(tmp_path, cifar_dir):
    """The paper preset's supernet (6 cells, C=16) is built; one tiny epoch keeps the test cheap."""
    out = tmp_path / "run"
    result = invoke(
        "run",
        "--strategy",
        "random",
        "--space",
        "darts",
        "--preset",
        "paper",
        "--epochs",
        "1",
        "--data-dir",
        str(cifar_dir),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--set",
        "data.limit=40",
        "--set",
        "data.val_size=8",
        "--set",
        "train.batch_size=8",
        "--set",
        "strategy.candidates=2",
        "--set",
        "strategy.top=1",
        "--set",
        "strategy.screen_batches=1",
    )
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert (config["space"]["layers"], config["space"]["channels"], config["train"]["batch_size"]) == (6, 16, 8)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["supernet_params"] > 1_000_000


@pytest.mark.parametrize("command", [[], ["run"], ["train"], ["bench"], ["rank"], ["config"]])
def test_help_does_not_import_torch(command):
    """`nasframe --help` answers in a tenth of a second: torch loads only when a command runs."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom nasframe.cli import main\nsys.argv = ['nasframe', *sys.argv[1:], '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\nprint('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True)
    assert result.stdout.strip().splitlines()[-1] == "False", result.stdout + result.stderr


def test_config_prints_every_key_with_what_it_takes(tmp_path):
    result = invoke("config", "--space", "darts", "--strategy", "random")
    assert result.exit_code == 0
    for text in ("train.batch_size", "an integer >= 1", "space.channels", "strategy.candidates", "data.val_size"):
        assert text in result.output


def test_a_long_epoch_gets_a_line_every_so_often(capsys):
    from types import SimpleNamespace

    from nasframe.cli.display import RunLog, human

    run = SimpleNamespace(epoch=0, path="runs/x", job=SimpleNamespace(num_epochs=3))
    log = RunLog("random on darts", every=0.0)
    log.on_run_start(run)
    log.on_epoch_start(run, 0)
    log.on_step_end(run, 5, 10)
    log.on_epoch_end(run, 0, {"train_loss": 2.0, "val_accuracy": 0.106, "images_per_second": 1234.5})
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "random on darts: 3 epochs, writing runs/x"
    assert lines[1].startswith("epoch 1/3  step 5/10  elapsed ") and "ETA" in lines[1]
    assert lines[2].startswith("epoch 1/3  loss 2.0000  val acc 10.60 %  1,234 img/s  elapsed ")
    assert human("peak_memory_bytes", 1_163_751_424) == "1.08 GiB"
    assert human("flops", 574_000_000) == "574.0 M multiply-adds"
    assert human("latency_error", -0.042) == "-4.2 %" and human("near_ties", 0.25) == "25.00 %"
    assert human("predicted_latency_ms", None) == "—"  # no cost model for this space
    from nasframe.cli.display import epoch_line

    budgeted = {"train_loss": 2.0, "expected_latency_us": 2204.0, "expected_flops": 7_230_000.0}
    assert epoch_line(budgeted) == "loss 2.0000  expected latency 2.20 ms  expected 7.2 M multiply-adds"


def test_a_summary_shows_the_budget_rows_only_when_a_budget_was_set(tmp_path, capsys):
    from nasframe.cli.display import print_summary

    budget = {"max_latency_ms": None, "max_flops": 8_000_000, "max_params": None, "projected": True}
    print_summary({"val_accuracy": 0.25, "constraint": budget}, tmp_path)
    shown = capsys.readouterr().out
    assert "constraint.max_flops" in shown and "8.0 M multiply-adds" in shown and "constraint.projected" in shown
    assert "constraint.max_params" not in shown and "25.00 %" in shown
    print_summary({"val_accuracy": 0.25, "constraint": {**budget, "max_flops": None, "projected": False}}, tmp_path)
    assert "constraint." not in capsys.readouterr().out
