"""How well the ``lookup`` latency table predicts whole networks: 20 random MBConv architectures, predicted vs measured.

nasframe: the lookup table of the ``mbconv`` space (``nasframe latency``: every block choice at every
position timed alone, median of 10 after 3 warm-up, added up with the stem and head) predicts
each architecture's latency. Reference, measured in the same run: the architecture's child
network (``space.build_child``), timed whole at the same batch size on the same device, eval mode,
no gradients. Reported: the relative error ``predicted / measured − 1`` per architecture, and its
mean absolute and maximum absolute value over the architectures; against the median of the
network's repeats (what every summary reports) and against their minimum (the least disturbed by
other processes on a shared machine). The space's default skeleton is used, whatever it is.

``--quick``: the tiny preset's space (width 0.25, CIFAR 32×32); full mode: the paper preset's
ImageNet network (width 1.0, 224×224).
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import timing
import torch


def network_times(
    net: torch.nn.Module, shape: tuple[int, ...], device: torch.device, warmup: int, repeats: int
) -> list[float]:
    """Seconds of every timed forward pass of ``net`` (eval mode, no gradients)."""
    net.to(device).eval()
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(device)
    with torch.no_grad():
        for _ in range(warmup):
            net(x)
        return [timing.timed(lambda: net(x), device) for _ in range(repeats)]


def main() -> None:
    p = timing.parser(__doc__)
    p.add_argument("--archs", type=int, default=20, help="random architectures to predict (default 20)")
    p.add_argument("--batch-size", type=int, default=1, help="images per forward pass (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the architecture draws")
    args = p.parse_args()
    device = timing.setup(args)
    from nasframe.config import resolve
    from nasframe.measure.latency_table import cost_table, measure_table
    from nasframe.measure.rank_correlation import kendall_tau_b
    from nasframe.registry import get_registry

    registry = get_registry()
    sets = {} if args.quick else {"data.dataset": "imagenet"}
    config = resolve(registry.space("mbconv"), None, "tiny" if args.quick else "paper", sets)
    space = registry.build_space(config)
    repeats, warmup = timing.counts(args, 20, 3)
    start = time.perf_counter()
    record = measure_table(space, device, args.batch_size)
    assert record is not None
    table_seconds = time.perf_counter() - start
    table = cost_table(record, space)
    shape = (args.batch_size, space.data.channels, space.data.image_size, space.data.image_size)
    timing.note(
        f"lookup table: mbconv {space.config}, {space.data.name} {space.data.image_size}px, batch "
        f"{args.batch_size}, {record['device_name']}, torch {record['torch']}, "
        f"{torch.get_num_threads()} threads; measured in {table_seconds:.1f} s; load average "
        f"{os.getloadavg() if hasattr(os, 'getloadavg') else '?'}"
    )
    generator = torch.Generator().manual_seed(args.seed)
    rows, results = [], []
    for i in range(args.archs):
        arch = space.sample(generator)
        predicted = table.predict(space, arch) / 1e6
        times = network_times(space.build_child(arch), shape, device, warmup, repeats)
        median, fastest = statistics.median(times), min(times)
        results.append(
            {
                "arch": i,
                "choices": space.choice_names(arch),
                "predicted_s": predicted,
                "measured_median_s": median,
                "measured_min_s": fastest,
                "error_median": predicted / median - 1,
                "error_min": predicted / fastest - 1,
                "all_s": times,
            }
        )
        rows.append(
            [
                f"arch {i}",
                timing.fmt_seconds(predicted),
                timing.fmt_seconds(median),
                timing.fmt_seconds(fastest),
                f"{100 * (predicted / median - 1):+.1f} %",
                f"{100 * (predicted / fastest - 1):+.1f} %",
            ]
        )

    def summary(key: str) -> dict[str, float]:
        errors = [abs(r[key]) for r in results]
        return {"mean_abs": sum(errors) / len(errors), "max_abs": max(errors)}

    by_median, by_min = summary("error_median"), summary("error_min")
    rows.append(
        ["mean |error|", "", "", "", f"{100 * by_median['mean_abs']:.1f} %", f"{100 * by_min['mean_abs']:.1f} %"]
    )
    rows.append(["max |error|", "", "", "", f"{100 * by_median['max_abs']:.1f} %", f"{100 * by_min['max_abs']:.1f} %"])
    predicted_s = [r["predicted_s"] for r in results]
    # a budget and a cost loss need the order of architectures more than their absolute latency
    ranks = {k: kendall_tau_b(predicted_s, [r[k] for r in results]) for k in ("measured_median_s", "measured_min_s")}
    rows.append(["Kendall τ-b", "", "", "", f"{ranks['measured_median_s']:.3f}", f"{ranks['measured_min_s']:.3f}"])
    timing.table(
        f"Lookup-table latency vs the measured network, {args.archs} random mbconv architectures",
        ["", "predicted", "measured (median)", "measured (min)", "error vs median", "error vs min"],
        rows,
        caption=f"median and min of {repeats} forward passes after {warmup} warm-up; error = predicted / measured − 1",
    )
    payload: dict[str, Any] = {
        "benchmark": "latency_table",
        "mode": "quick" if args.quick else "full",
        "env": timing.environment(device),
        "space_config": space.config,
        "batch_size": args.batch_size,
        "table_seconds": table_seconds,
        "repeats": repeats,
        "warmup": warmup,
        "archs": results,
        "error_vs_median": by_median,
        "error_vs_min": by_min,
        "kendall_tau_b": ranks,
        "table": record,
    }
    timing.quick_caveat(args)
    timing.write_json(args.json, payload)


if __name__ == "__main__":
    main()
