"""Shared helpers of the benchmark scripts: arguments, timing, peak memory, workers, tables, references.

Every script compares nasframe with a reference measured in the same run and prints the ratio. Rules:

* time with ``time.perf_counter`` around a device sync on both sides (``torch.cuda.synchronize`` on
  CUDA), warm up first, take the median of the repeats;
* interleave the contenders (A B B A A B ...) so that drifting machine load hits both alike;
* peak memory is measured in a fresh subprocess per contender, one after another: on CPU the
  process's peak resident set size (``ru_maxrss``, which includes Python, torch and the data) and the
  same minus the RSS just before the first step; on CUDA ``torch.cuda.max_memory_allocated``.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import gc
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKER_MARK = "@@BENCH-WORKER-RESULT@@"

# Paper-size DARTS search supernet (the MdeNAS/DARTS search setting) and the --quick smoke size.
FULL = {"channels": 16, "layers": 8, "batch": 64}
QUICK = {"channels": 4, "layers": 3, "batch": 8}

REFERENCES = {
    # Measured earlier on this machine (CPU, float32, batch 64, C=16, 8 cells, median of 10 steps after
    # warm-up; issue #10). Printed for context only: every ratio a script prints is against a
    # reference measured in the same run.
    "darts_first_order_step": {
        "seconds": 33.1,
        "memory_gb": 9.96,
        "what": "DARTS 1st-order step, a widely used reimplementation",
    },
    "darts_weight_step": {"seconds": 14.7, "memory_gb": 9.94, "what": "DARTS weight step alone (mixed ops)"},
    "single_path_standalone": {
        "seconds": 1.81,
        "memory_gb": 2.2,
        "what": "single-path network, one sampled op per edge",
    },
    "darts_v2_child": {"seconds": 1.17, "memory_gb": 1.7, "what": "DARTS_V2 child network"},
    "dataloader_pil_0_workers": {
        "images_per_second": 4.7e3,
        "what": "DataLoader + per-image PIL transforms, 0 workers",
    },
    "dataloader_pil_2_workers": {
        "images_per_second": 8.0e3,
        "what": "DataLoader + per-image PIL transforms, 2 workers",
    },
    "batched_tensor_pipeline": {"images_per_second": 45e3, "what": "a batched-tensor pipeline"},
}


# -- arguments -----------------------------------------------------------------------------------
def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes, a few repeats: a smoke run of seconds")
    p.add_argument("--device", default="cpu", help="cpu or cuda (cuda:N); default cpu")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads (default: torch's own choice, i.e. OMP_NUM_THREADS or the cores)",
    )
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per contender (default by mode)")
    p.add_argument("--warmup", type=int, default=None, help="untimed warm-up repeats per contender (default by mode)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # internal: run one contender in a subprocess
    return p


def quick_caveat(args: argparse.Namespace) -> None:
    if args.quick:
        note(
            "--quick: tiny sizes; fixed per-step costs dominate there, so these ratios say nothing about the "
            "targets (they apply to the full mode)"
        )


def sizes(args: argparse.Namespace) -> dict[str, int]:
    return dict(QUICK if args.quick else FULL)


def setup(args: argparse.Namespace) -> torch.device:
    """Threads and device; on CUDA the engine's fast-path settings (cuDNN benchmark, TF32)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: no CUDA GPU is available here")
        from nasframe.engine.device import prepare

        prepare(device)
    return device


def worker_args(args: argparse.Namespace) -> list[str]:
    """The command-line options a worker subprocess inherits."""
    out = ["--device", args.device]
    if args.quick:
        out.append("--quick")
    if args.threads:
        out += ["--threads", str(args.threads)]
    if args.repeats is not None:
        out += ["--repeats", str(args.repeats)]
    if args.warmup is not None:
        out += ["--warmup", str(args.warmup)]
    return out


# -- timing --------------------------------------------------------------------------------------
def counts(args: argparse.Namespace, repeats: int, warmup: int) -> tuple[int, int]:
    """Timed repeats and warm-up calls: the command line's where given, else the script's own defaults."""
    return args.repeats or repeats, warmup if args.warmup is None else args.warmup


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device) -> float:
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def time_interleaved(
    fns: Mapping[str, Callable[[], Any]], device: torch.device, repeats: int, warmup: int
) -> dict[str, list[float]]:
    """Seconds per call of every function, interleaved: round r runs them in order, then reversed."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    sync(device)
    out: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names if r % 2 == 0 else reversed(names):
            out[name].append(timed(fns[name], device))
    return out


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


# -- memory --------------------------------------------------------------------------------------
def rss_bytes() -> int:
    """The current resident set size of this process (Linux ``/proc/self/statm``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


class PeakMemory:
    """Peak memory of what runs after ``start()``: CUDA allocator peak, or process peak RSS on CPU.

    On CPU the process-wide peak cannot be reset, which is why every contender runs in its own
    process; ``delta`` subtracts the RSS at ``start()`` (imports, data, model and optimizer state).
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.base = 0

    def start(self) -> None:
        if self.device.type == "cuda":
            sync(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = int(torch.cuda.memory_allocated(self.device))
        else:
            self.base = rss_bytes()

    def result(self) -> dict[str, Any]:
        if self.device.type == "cuda":
            sync(self.device)
            peak = int(torch.cuda.max_memory_allocated(self.device))
            return {
                "memory_method": "torch.cuda.max_memory_allocated",
                "peak_bytes": peak,
                "delta_bytes": peak - self.base,
                "base_bytes": self.base,
            }
        peak = peak_rss_bytes()
        return {
            "memory_method": "peak RSS (ru_maxrss) of a fresh process",
            "peak_bytes": peak,
            "delta_bytes": peak - self.base,
            "base_bytes": self.base,
        }


# -- workers -------------------------------------------------------------------------------------
def emit(result: Mapping[str, Any]) -> None:
    """What a worker subprocess hands back: one marked JSON line on stdout."""
    print(WORKER_MARK + json.dumps(result), flush=True)


def emit_steps(fns: Sequence[Callable[[], Any]], device: torch.device) -> None:
    """Run each step once (warm-up), then time it once, under one peak-memory watch; emit both."""
    gc.collect()
    mem = PeakMemory(device)
    mem.start()
    secs = []
    for fn in fns:
        fn()
        secs.append(timed(fn, device))
    emit({**mem.result(), "seconds": secs})


def run_worker(script: str, name: str, extra: Sequence[str], timeout: float | None = None) -> dict[str, Any]:
    """Run ``script --worker name *extra`` in a fresh Python and return the JSON it emitted."""
    cmd = [sys.executable, str(HERE / script), "--worker", name, *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=str(ROOT))
    for line in proc.stdout.splitlines():
        if line.startswith(WORKER_MARK):
            return json.loads(line[len(WORKER_MARK) :])
    raise RuntimeError(
        f"worker {name!r} of {script} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )


# -- data ----------------------------------------------------------------------------------------
def cifar_train(limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The real CIFAR-10 subset's training images (uint8 [N,3,32,32]) when present, else random ones."""
    from nasframe.data import cifar
    from nasframe.testing import subset_dir

    root = subset_dir()
    if root is not None:
        images, labels = cifar.read_split(root / cifar.FOLDER, train=True)
        source = f"real CIFAR-10 subset ({root})"
    else:
        g = torch.Generator().manual_seed(0)
        n = limit or 10_000
        images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
        labels = torch.randint(0, 10, (n,), generator=g)
        source = "random uint8 images of CIFAR-10's shape (the CIFAR-10 subset was not found)"
    if limit:
        images, labels = images[:limit], labels[:limit]
    return images, labels, source


def random_batch(batch: int, device: torch.device, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (batch,), generator=g)
    return x.to(device), y.to(device)


# -- output --------------------------------------------------------------------------------------
def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def fmt_bytes(b: float | None) -> str:
    if b is None:
        return "-"
    return f"{b / 2**30:.2f} GiB" if b >= 2**30 else f"{b / 2**20:.0f} MiB"


def fmt_ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.3f}"


def verdict(value: float | None, target: float, kind: str) -> str:
    """``le``: value <= target passes; ``ge``: value >= target passes."""
    if value is None:
        return "-"
    ok = value <= target if kind == "le" else value >= target
    return ("MET" if ok else "MISSED") + f" ({'≤' if kind == 'le' else '≥'} {target:g})"


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], caption: str | None = None) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover - rich is a dependency of nasframe
        print(f"\n{title}")
        print(" | ".join(columns))
        for row in rows:
            print(" | ".join(str(c) for c in row))
        if caption:
            print(caption)
        return
    t = Table(title=title, caption=caption, caption_justify="left")
    for i, c in enumerate(columns):
        t.add_column(c, justify="left" if i == 0 else "right")
    for row in rows:
        t.add_row(*(str(c) for c in row))
    Console(width=max(120, len(caption or "") // 3)).print(t)


def environment(device: torch.device) -> dict[str, Any]:
    env = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def note(text: str) -> None:
    print(text, flush=True)


def write_json(path: str | None, payload: Mapping[str, Any]) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(payload, indent=2, default=str) + "\n")
        note(f"wrote {path}")


# -- the engine ----------------------------------------------------------------------------------
@functools.cache
def data_dir() -> tuple[Path, str]:
    """The CIFAR-10 subset beside the checkout, else a temporary folder of random images in its layout."""
    from nasframe.testing import subset_dir

    root = subset_dir()
    if root is not None:
        return root, f"real CIFAR-10 subset ({root})"
    import pickle
    import tempfile

    import numpy as np

    top = tempfile.mkdtemp(prefix="nasframe-bench-data-")
    atexit.register(shutil.rmtree, top, True)
    tmp = Path(top) / "cifar-10-batches-py"
    tmp.mkdir()
    rng = np.random.default_rng(0)
    for name, n in (("data_batch_1", 10_000), ("test_batch", 2_000)):
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": rng.integers(0, 10, n).tolist()}
        with open(tmp / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
    return tmp.parent, "random uint8 images in CIFAR-10's layout (the CIFAR-10 subset was not found)"


class StepClock:
    """Stands in for ``Run`` under ``SearchJob.train_epoch``: records when each training step ended."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.times: list[float] = []

    def step_done(self, step: int, steps: int) -> None:
        sync(self.device)
        self.times.append(time.perf_counter())


def search_config(
    strategy: str, sz: Mapping[str, int], device: torch.device, overrides: Mapping[str, Any] = {}, seed: int = 0
) -> dict[str, Any]:
    """The resolved config of a DARTS-space search at the benchmark's sizes (engine defaults otherwise)."""
    from nasframe.config import resolve
    from nasframe.registry import get_registry

    registry = get_registry()
    root, _ = data_dir()
    sets = {
        "space.channels": sz["channels"],
        "space.layers": sz["layers"],
        "train.batch_size": sz["batch"],
        "device": str(device),
        "seed": seed,
        "data.dir": str(root),
        "data.download": False,
        "data.val_size": 0.5,
        **overrides,
    }
    return resolve(registry.space("darts"), registry.strategy(strategy), "paper", sets, strategy_presets=False)


def search_job(
    strategy: str, sz: Mapping[str, int], device: torch.device, overrides: Mapping[str, Any] = {}, seed: int = 0
):
    """A set-up :class:`nasframe.engine.SearchJob` (the engine's real objects) for the DARTS space."""
    from nasframe.engine.search import SearchJob
    from nasframe.registry import get_registry

    config = search_config(strategy, sz, device, overrides, seed)
    torch.manual_seed(seed)
    job = SearchJob(config, get_registry())
    job.setup()
    return job


def profile_top(fns: Mapping[str, Callable[[], Any]], device: torch.device, steps: int = 2, rows: int = 15) -> None:
    """torch.profiler's top ops by self time for each function (``--profile``)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    for name, fn in fns.items():
        fn()
        sync(device)
        with profile(activities=activities) as prof:
            for _ in range(steps):
                fn()
            sync(device)
        note(f"\n== torch.profiler: {name}, {steps} calls, top {rows} ops by self time ==")
        note(prof.key_averages().table(sort_by=key, row_limit=rows))
