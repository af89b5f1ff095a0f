"""What the launcher tests share: a tiny bench's arguments, the study command in its own process, and the part
of a result row that must not depend on where a trial ran."""

import json
import os
import subprocess
import sys

from nasframe.testing import PAUSE_DIR

SMALL = ["--preset", "tiny", "--set", "data.limit=160", "--set", "train.batch_size=16", "--device", "cpu"]


def bench_args(out, cifar_dir, strategies, *extra):
    """A two-epoch tiny darts bench of ``strategies`` × seeds 0 and 1 (the pauser stops a trial after epoch 1)."""
    return [
        "bench", "--strategies", strategies, "--space", "darts", "--seeds", "0,1", "--epochs", "2",
        "--data-dir", cifar_dir, "--out", out, *SMALL, *extra,
    ]  # fmt: skip


def driver(args, env=None):
    """The study command in its own process, as a user runs it (the test kills or preempts its workers meanwhile)."""
    env = env if env is not None else {k: v for k, v in os.environ.items() if k != PAUSE_DIR}
    return subprocess.Popen(
        [sys.executable, "-m", "nasframe", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def finish(process, timeout=420):
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output
    return output


def rows(out, name="results.jsonl"):
    return [json.loads(line) for line in (out / name).read_text().splitlines()]


def science(row):
    """What must not depend on where a trial ran: its architecture and accuracies (not its timings or node)."""
    return (row["strategy"], row["seed"], row["arch"], row["val_accuracy"], row["val_loss"], row["epochs"])
