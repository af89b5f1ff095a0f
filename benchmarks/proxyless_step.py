"""One ProxylessNAS step vs one single-path (MdeNAS / random) step on the same supernet: memory and time.

nasframe: ``ProxylessNAS.train_step`` of a real :class:`~nasframe.engine.SearchJob` (DARTS space,
``strategy.update_arch_every=1``, so every step is both steps of the algorithm): the weight step
through the path ``ask`` drew (``ctx.train_weights``), then the architecture step: a fresh path,
a validation batch through it with binary gates, ``dL/dg`` turned into the gradient of α, an Adam step.

Reference: the single-path step of the same job: ``ctx.train_weights(batch, arch)`` through the
same sampled paths, as MdeNAS and random search train.

Memory is the claim: a ProxylessNAS step holds one path's activations at a time, like a
single-path step (target ratio <= 1.1); its time is about two single-path steps (two forward and
backward passes). Timing: same batch, interleaved repeats, median after warm-up. Peak memory: each
contender in a fresh subprocess, one after another (``timing.PeakMemory``).
"""

from __future__ import annotations

import gc
from typing import Any

import timing
import torch

TARGET = 1.1


class Contenders:
    def __init__(self, args, device: torch.device) -> None:
        self.sz = timing.sizes(args)
        self.job = job = timing.search_job(
            "proxyless", self.sz, device, {"strategy.update_arch_every": 1, "strategy.binary_mode": args.binary_mode}
        )
        self.batch = next(iter(job.data.train.epoch(torch.Generator().manual_seed(1))))
        n_archs = args.archs or (1 if args.quick else 3)
        self.archs = [job.strategy.ask() for _ in range(n_archs)]

    def step(self, name: str, i: int):
        job, batch, arch = self.job, self.batch, self.archs[i]
        if name == "single-path":
            return lambda: job.ctx.train_weights(batch, arch)
        return lambda: job.strategy.train_step(batch, arch)


def worker(args, device: torch.device) -> None:
    """One contender in this fresh process: every arch's step; time and peak memory."""
    c = Contenders(args, device)
    timing.emit_steps([c.step(args.worker, i) for i in range(len(c.archs))], device)


def main() -> None:
    p = timing.parser(__doc__)
    p.add_argument("--archs", type=int, default=None, help="sampled paths to time (default 1 quick, 3 full)")
    p.add_argument(
        "--binary-mode",
        choices=("full", "two"),
        default="full",
        help="ProxylessNAS's strategy.binary_mode (two: the pair's other path runs as a probe)",
    )
    args = p.parse_args()
    device = timing.setup(args)
    if args.worker:
        return worker(args, device)
    repeats, warmup = timing.counts(args, 5 if args.quick else 10, 2)
    c = Contenders(args, device)
    sz = c.sz
    timing.note(
        f"ProxylessNAS step (binary_mode {args.binary_mode}): DARTS supernet C={sz['channels']}, "
        f"{sz['layers']} cells, batch {sz['batch']}, {device}, {torch.get_num_threads()} threads, "
        f"{len(c.archs)} sampled path(s), median of {repeats} interleaved repeats after {warmup} warm-up; "
        f"data: {timing.data_dir()[1]}"
    )
    rows, results = [], []
    for i in range(len(c.archs)):
        fns = {name: c.step(name, i) for name in ("proxyless", "single-path")}
        t = timing.time_interleaved(fns, device, repeats, warmup)
        mp, ms = timing.median(t["proxyless"]), timing.median(t["single-path"])
        results.append(
            {
                "arch": i,
                "proxyless_s": mp,
                "single_path_s": ms,
                "ratio": mp / ms,
                "proxyless_all_s": t["proxyless"],
                "single_path_all_s": t["single-path"],
            }
        )
        rows.append([f"path {i}", timing.fmt_seconds(mp), timing.fmt_seconds(ms), timing.fmt_ratio(mp / ms)])
    timing.table(
        "Step time: ProxylessNAS (weight step + architecture step) vs single-path weight step",
        ["", "proxyless", "single-path", "ratio"],
        rows,
        caption="expected about 2: the architecture step is a second forward and backward of one path",
    )
    del c
    gc.collect()
    extra = (
        timing.worker_args(args)
        + (["--archs", str(args.archs)] if args.archs else [])
        + ["--binary-mode", args.binary_mode]
    )
    mem = {name: timing.run_worker("proxyless_step.py", name, extra) for name in ("proxyless", "single-path")}
    p_, s_ = mem["proxyless"], mem["single-path"]
    ratio = p_["peak_bytes"] / s_["peak_bytes"]
    delta_ratio = p_["delta_bytes"] / max(s_["delta_bytes"], 1)
    timing.table(
        "Peak memory, each contender alone in a fresh process (every path, one after another)",
        ["", "proxyless", "single-path", "ratio"],
        [
            ["peak", timing.fmt_bytes(p_["peak_bytes"]), timing.fmt_bytes(s_["peak_bytes"]), timing.fmt_ratio(ratio)],
            [
                "peak − before first step",
                timing.fmt_bytes(p_["delta_bytes"]),
                timing.fmt_bytes(s_["delta_bytes"]),
                timing.fmt_ratio(delta_ratio),
            ],
        ],
        caption=f"method: {p_['memory_method']}; target peak ratio ≤ {TARGET} → {timing.verdict(ratio, TARGET, 'le')}",
    )
    payload: dict[str, Any] = {
        "benchmark": "proxyless_step",
        "mode": "quick" if args.quick else "full",
        "sizes": sz,
        "binary_mode": args.binary_mode,
        "env": timing.environment(device),
        "repeats": repeats,
        "warmup": warmup,
        "archs": results,
        "memory": mem,
        "memory_ratio": ratio,
        "memory_delta_ratio": delta_ratio,
        "target": TARGET,
        "met": ratio <= TARGET,
    }
    timing.quick_caveat(args)
    timing.write_json(args.json, payload)


if __name__ == "__main__":
    main()
