"""A MdeNAS search epoch vs a DARTS first-order search epoch: same supernet, data and batch.

Both run the engine's real ``SearchJob.train_epoch`` (DARTS space, the engine's default training
settings), each alone in a fresh process, one after another (never concurrently). An "epoch" here
is a fixed number of training steps (``--steps``, default 10 of batch 64 at full size) rather than a
full CIFAR-10 epoch, so the full mode takes minutes: the data are limited to ``2 * steps * batch``
images split half/half into train and validation, so one epoch is exactly ``steps`` training steps
followed by the engine's end-of-epoch validation over the ``steps * batch`` validation images. MdeNAS
runs in its paper setting (one sampled architecture per epoch); DARTS draws a validation batch for
its architecture step at every training step.

Reported: the training steps' time (from the engine's per-step callback), the whole epoch's time
including its validation, and the process's peak memory (peak RSS on CPU, CUDA allocator peak on
CUDA). Targets: DARTS / MdeNAS >= 8 in epoch time and >= 4 in peak memory.
"""

from __future__ import annotations

import gc
import time
from typing import Any

import timing
import torch

TIME_TARGET = 8.0
MEMORY_TARGET = 4.0


def worker(args, device: torch.device) -> None:
    from nasframe.engine.loop import Progress

    sz = timing.sizes(args)
    steps = args.steps
    job = timing.search_job(args.worker, sz, device, {"data.limit": 2 * steps * sz["batch"]})
    assert len(job.data.train) == steps, (len(job.data.train), steps)
    epochs = args.epochs or (2 if args.quick else 1)
    gc.collect()
    mem = timing.PeakMemory(device)
    mem.start()
    out: dict[str, Any] = {"epochs": []}
    for e in range(epochs):
        clock = timing.StepClock(device)
        job.run = clock  # train_epoch reports each finished step here
        timing.sync(device)
        t0 = time.perf_counter()
        record = job.train_epoch(Progress(epoch=e, epochs=epochs, elapsed=0.0, seconds=None))
        timing.sync(device)
        t1 = time.perf_counter()
        arch = record.get("arch")
        out["epochs"].append(
            {
                "epoch_s": t1 - t0,
                "train_steps_s": clock.times[-1] - t0,
                "validation_s": t1 - clock.times[-1],
                "step_s": [b - a for a, b in zip([t0] + clock.times[:-1], clock.times)],
                "sampled_ops": None if arch is None else sum(v != "none" for v in arch.values()),
                "images": record.get("images"),
            }
        )
    out.update(mem.result())
    out["last"] = out["epochs"][-1]
    timing.emit(out)


def main() -> None:
    p = timing.parser(__doc__)
    p.add_argument("--steps", type=int, default=10, help="training steps per epoch (default 10)")
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="epochs per strategy; the last one is reported (default 2 quick, 1 full)",
    )
    args = p.parse_args()
    device = timing.setup(args)
    if args.worker:
        return worker(args, device)
    sz = timing.sizes(args)
    timing.note(
        f"search epoch = {args.steps} training steps of batch {sz['batch']} + end-of-epoch validation over "
        f"{args.steps * sz['batch']} images (not a full CIFAR-10 epoch); supernet C={sz['channels']}, "
        f"{sz['layers']} cells; {device}, {torch.get_num_threads()} threads; data: {timing.data_dir()[1]}; "
        "each strategy alone in a fresh process, one after another"
    )
    extra = (
        timing.worker_args(args)
        + ["--steps", str(args.steps)]
        + (["--epochs", str(args.epochs)] if args.epochs else [])
    )
    res = {}
    for name in ("mdenas", "darts"):
        timing.note(f"  running {name} ...")
        res[name] = timing.run_worker("search_epoch.py", name, extra)
    m, d = res["mdenas"], res["darts"]
    time_ratio = d["last"]["epoch_s"] / m["last"]["epoch_s"]
    step_ratio = d["last"]["train_steps_s"] / m["last"]["train_steps_s"]
    mem_ratio = d["peak_bytes"] / m["peak_bytes"]
    delta_ratio = d["delta_bytes"] / max(m["delta_bytes"], 1)
    rows = [
        [
            "epoch (steps + validation)",
            timing.fmt_seconds(m["last"]["epoch_s"]),
            timing.fmt_seconds(d["last"]["epoch_s"]),
            timing.fmt_ratio(time_ratio),
            timing.verdict(time_ratio, TIME_TARGET, "ge"),
        ],
        [
            f"{args.steps} training steps",
            timing.fmt_seconds(m["last"]["train_steps_s"]),
            timing.fmt_seconds(d["last"]["train_steps_s"]),
            timing.fmt_ratio(step_ratio),
            "",
        ],
        [
            "end-of-epoch validation",
            timing.fmt_seconds(m["last"]["validation_s"]),
            timing.fmt_seconds(d["last"]["validation_s"]),
            timing.fmt_ratio(d["last"]["validation_s"] / m["last"]["validation_s"]),
            "",
        ],
        [
            "peak memory",
            timing.fmt_bytes(m["peak_bytes"]),
            timing.fmt_bytes(d["peak_bytes"]),
            timing.fmt_ratio(mem_ratio),
            timing.verdict(mem_ratio, MEMORY_TARGET, "ge"),
        ],
        [
            "peak − before the epoch",
            timing.fmt_bytes(m["delta_bytes"]),
            timing.fmt_bytes(d["delta_bytes"]),
            timing.fmt_ratio(delta_ratio),
            "",
        ],
    ]
    ops = m["last"]["sampled_ops"]
    timing.table(
        "Search epoch: MdeNAS vs DARTS (1st order), same supernet, data and batch",
        ["", "MdeNAS", "DARTS", "DARTS / MdeNAS", "target"],
        rows,
        caption=f"MdeNAS's sampled arch has {ops} non-none ops of 28 edges; memory: {m['memory_method']}",
    )
    timing.quick_caveat(args)
    timing.write_json(
        args.json,
        {
            "benchmark": "search_epoch",
            "mode": "quick" if args.quick else "full",
            "sizes": sz,
            "steps": args.steps,
            "env": timing.environment(device),
            "data": timing.data_dir()[1],
            "results": res,
            "time_ratio": time_ratio,
            "train_steps_ratio": step_ratio,
            "memory_ratio": mem_ratio,
            "memory_delta_ratio": delta_ratio,
            "time_target": TIME_TARGET,
            "memory_target": MEMORY_TARGET,
            "met": {"time": time_ratio >= TIME_TARGET, "memory": mem_ratio >= MEMORY_TARGET},
        },
    )


if __name__ == "__main__":
    main()
