"""Smoke runs of the benchmark scripts' ``--quick`` mode: they run and write their JSON (never timed here)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


def run_quick(tmp_path: Path, script: str, *extra: str) -> dict:
    out = tmp_path / f"{script}.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH / f"{script}.py"),
            "--quick",
            "--threads",
            "1",
            "--repeats",
            "2",
            "--warmup",
            "1",
            "--json",
            str(out),
            *extra,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    return json.loads(out.read_text())


@pytest.mark.slow
def test_single_path_step_quick(tmp_path):
    result = run_quick(tmp_path, "single_path_step")
    assert result["archs"] and result["archs"][0]["logits_rel_diff"] <= 1e-4
    assert result["ratio"] > 0
    assert result["memory"]["supernet"]["peak_bytes"] > 0 and result["memory"]["standalone"]["peak_bytes"] > 0


@pytest.mark.slow
def test_darts_step_quick(tmp_path):
    result = run_quick(tmp_path, "darts_step", "--naive-channels-last")
    assert result["equivalence_rel_diff"] < 1e-4
    assert set(result["results"]) == {"nasframe", "naive", "naive-cl"}
    for r in result["results"].values():
        assert r["step"]["median_s"] > 0 and r["weight"]["median_s"] > 0 and r["step"]["peak_bytes"] > 0


@pytest.mark.slow
def test_nb201_step_quick(tmp_path):
    result = run_quick(tmp_path, "nb201_step", "--no-memory", "--archs", "2")
    (entry,) = result["results"]
    assert max(entry["logits_rel_diff"].values()) <= 1e-4
    for step in ("single_path", "darts"):
        r = entry["steps"][step]
        assert r["nasframe_s"] > 0 and r["reference_s"] > 0 and r["ratio"] > 0


@pytest.mark.slow
def test_search_epoch_quick(tmp_path):
    result = run_quick(tmp_path, "search_epoch", "--steps", "3", "--epochs", "1")
    for name in ("mdenas", "darts"):
        last = result["results"][name]["last"]
        assert len(last["step_s"]) == 3 and last["epoch_s"] >= last["train_steps_s"] > 0
    assert result["time_ratio"] > 0 and result["memory_ratio"] > 0


@pytest.mark.slow
def test_data_pipeline_quick(tmp_path):
    result = run_quick(tmp_path, "data_pipeline")
    assert result["images"] > 0 and result["speedup"] > 0
    assert 0 < result["share_of_single_path_step"] < 1


@pytest.mark.slow
def test_proxyless_step_quick(tmp_path):
    result = run_quick(tmp_path, "proxyless_step")
    assert result["archs"][0]["proxyless_s"] > 0 and result["memory_ratio"] > 0


@pytest.mark.slow
def test_latency_table_quick(tmp_path):
    result = run_quick(tmp_path, "latency_table", "--archs", "3")
    assert len(result["archs"]) == 3 and result["error_vs_median"]["max_abs"] >= 0


def test_gpu_check_script_is_valid_bash_and_runs_every_benchmark():
    script = BENCH / "gpu_check.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert "set -euo pipefail" in text and "--device cuda" in text and "timeout" in text
    for name in ("single_path_step", "darts_step", "search_epoch", "data_pipeline", "proxyless_step", "latency_table"):
        assert re.search(rf"^bench \d+ {name}\b", text, re.M), f"gpu_check.sh does not run {name}"
