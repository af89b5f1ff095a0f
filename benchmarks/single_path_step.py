"""One single-path (MdeNAS / random) supernet training step vs the same network as a plain nn.Module.

nasframe: ``SearchContext.train_weights(batch, arch)`` of a real :class:`~nasframe.engine.SearchJob`
(DARTS space, MdeNAS strategy; ``arch`` drawn by the strategy's ``ask``): zero_grad, the supernet's
single-path forward, cross-entropy, backward, grad-norm clip 5, SGD step, the engine's on-device
metrics.

Reference: the same sampled network written here as a plain standalone module (``PlainNetwork``): per
cell only the sampled op of each edge, same op classes, shapes, BatchNorm settings (affine=False,
pools followed by BatchNorm, as in the supernet), an unread cell input not preprocessed, a node
without ops giving zeros, the same memory format (channels-last on CPU as the supernet uses; on CUDA
the engine's channels-last + bf16 autocast), trained with a plain SGD step (same lr, momentum, weight
decay, clip). It starts from the supernet's weights and its logits are checked equal to the
supernet's before timing, so both compute exactly the same ops.

Timing: same batch, interleaved repeats (A B B A ...), median after warm-up. Peak memory: each
contender in a fresh subprocess, one after another (see ``timing.PeakMemory``).
Target (CPU): supernet / standalone <= 1.05.
"""

from __future__ import annotations

import gc
from typing import Any, Sequence

import timing
import torch
import torch.nn.functional as F
from torch import nn

TARGET = 1.05


# -- the reference: a plain standalone network of one sampled arch ------------------------------
class ReLUConvBN(nn.Module):
    def __init__(self, C_in: int, C_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(C_out, affine=False),
        )

    def forward(self, x):
        return self.op(x)


class SepConv(nn.Module):
    def __init__(self, C: int, k: int, stride: int) -> None:
        super().__init__()
        p = k // 2
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C, C, k, stride=stride, padding=p, groups=C, bias=False),
            nn.Conv2d(C, C, 1, bias=False),
            nn.BatchNorm2d(C, affine=False),
            nn.ReLU(inplace=False),
            nn.Conv2d(C, C, k, stride=1, padding=p, groups=C, bias=False),
            nn.Conv2d(C, C, 1, bias=False),
            nn.BatchNorm2d(C, affine=False),
        )

    def forward(self, x):
        return self.op(x)


class DilConv(nn.Module):
    def __init__(self, C: int, k: int, stride: int) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C, C, k, stride=stride, padding=k - 1, dilation=2, groups=C, bias=False),
            nn.Conv2d(C, C, 1, bias=False),
            nn.BatchNorm2d(C, affine=False),
        )

    def forward(self, x):
        return self.op(x)


class FactorizedReduce(nn.Module):
    def __init__(self, C_in: int, C_out: int) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, padding=0, bias=False)
        self.conv_2 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=False)

    def forward(self, x):
        x = self.relu(x)
        shifted = x[:, :, 1:, 1:]
        if x.shape[-1] % 2 or x.shape[-2] % 2:
            shifted = F.pad(shifted, (0, 1, 0, 1))
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


class Pool(nn.Module):
    def __init__(self, kind: str, C: int, stride: int) -> None:
        super().__init__()
        self.pool = (
            nn.MaxPool2d(3, stride=stride, padding=1)
            if kind == "max"
            else nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
        )
        self.bn = nn.BatchNorm2d(C, affine=False)

    def forward(self, x):
        return self.bn(self.pool(x))


def plain_op(k: int, C: int, stride: int) -> nn.Module:
    """Choice index ``k`` of the DARTS order (1..7; 0 is ``none`` and is never built)."""
    return {
        1: lambda: Pool("max", C, stride),
        2: lambda: Pool("avg", C, stride),
        3: lambda: nn.Identity() if stride == 1 else FactorizedReduce(C, C),
        4: lambda: SepConv(C, 3, stride),
        5: lambda: SepConv(C, 5, stride),
        6: lambda: DilConv(C, 3, stride),
        7: lambda: DilConv(C, 5, stride),
    }[k]()


class PlainCell(nn.Module):
    def __init__(
        self, choice: Sequence[int], nodes: int, C_pp: int, C_p: int, C: int, reduction: bool, reduction_prev: bool
    ) -> None:
        super().__init__()
        self.reduction, self.C, self.nodes = reduction, C, nodes
        self.edges = [(node, src) for node in range(nodes) for src in range(node + 2)]
        used = [any(choice[e] for e, (_, s) in enumerate(self.edges) if s == j) for j in (0, 1)]
        self.preprocess0: nn.Module | None = None
        self.preprocess1: nn.Module | None = None
        if used[0]:
            self.preprocess0 = FactorizedReduce(C_pp, C) if reduction_prev else ReLUConvBN(C_pp, C, 1, 1, 0)
        if used[1]:
            self.preprocess1 = ReLUConvBN(C_p, C, 1, 1, 0)
        self.ops = nn.ModuleDict(
            {
                str(e): plain_op(choice[e], C, 2 if reduction and src < 2 else 1)
                for e, (_, src) in enumerate(self.edges)
                if choice[e]
            }
        )

    def forward(self, s0, s1):
        states = [
            self.preprocess0(s0) if self.preprocess0 is not None else None,
            self.preprocess1(s1) if self.preprocess1 is not None else None,
        ]
        for node in range(self.nodes):
            out = None
            for e, (n, src) in enumerate(self.edges):
                if n == node and str(e) in self.ops:
                    y = self.ops[str(e)](states[src])
                    out = y if out is None else out + y
            if out is None:
                b, _, h, w = s1.shape
                if self.reduction:
                    h, w = (h + 1) // 2, (w + 1) // 2
                out = s1.new_zeros(b, self.C, h, w)
            states.append(out)
        return torch.cat(states[2:], dim=1)


class PlainNetwork(nn.Module):
    """The DARTS search network's layout with one fixed op per edge (``choice`` in decision order)."""

    def __init__(
        self,
        choice: Sequence[int],
        C: int,
        layers: int,
        nodes: int = 4,
        stem_multiplier: int = 3,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        E = sum(n + 2 for n in range(nodes))
        C_curr = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(3, C_curr, 3, padding=1, bias=False), nn.BatchNorm2d(C_curr))
        C_pp, C_p, C_curr = C_curr, C_curr, C
        cells, reduction_prev = [], False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                C_curr *= 2
            part = choice[E:] if reduction else choice[:E]
            cells.append(PlainCell(part, nodes, C_pp, C_p, C_curr, reduction, reduction_prev))
            reduction_prev = reduction
            C_pp, C_p = C_p, nodes * C_curr
        self.cells = nn.ModuleList(cells)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_p, num_classes)

    def forward(self, x):
        if x.device.type == "cpu":  # the supernet's CPU memory format, so both run the same kernels
            x = x.contiguous(memory_format=torch.channels_last)
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(self.global_pooling(s1).flatten(1))


def plain_from_supernet(supernet, choice: Sequence[int], sz) -> PlainNetwork:
    """A PlainNetwork of ``choice`` holding the supernet's current weights of exactly those ops."""
    net = PlainNetwork(choice, sz["channels"], sz["layers"], nodes=supernet.nodes)
    net.stem.load_state_dict(supernet.stem.state_dict())
    net.classifier.load_state_dict(supernet.classifier.state_dict())
    E = supernet.num_edges
    for pc, sc in zip(net.cells, supernet.cells):
        part = choice[E:] if sc.reduction else choice[:E]
        if pc.preprocess0 is not None:
            pc.preprocess0.load_state_dict(sc.preprocess0.state_dict())
        if pc.preprocess1 is not None:
            pc.preprocess1.load_state_dict(sc.preprocess1.state_dict())
        for key, op in pc.ops.items():
            op.load_state_dict(sc.edges[int(key)].op(part[int(key)]).state_dict())
    return net


# -- the two steps ----------------------------------------------------------------------------------
class Contenders:
    def __init__(self, args, device: torch.device) -> None:
        from nasframe.engine.device import autocast

        self.sz = sz = timing.sizes(args)
        self.device = device
        self.job = job = timing.search_job("mdenas", sz, device)
        self.ctx = job.ctx
        self.tc = job.config["train"]
        self.autocast = lambda: autocast(device, self.tc)
        self.batch = next(iter(job.data.train.epoch(torch.Generator().manual_seed(1))))
        n_archs = args.archs or (1 if args.quick else 3)
        self.archs = [job.strategy.ask() for _ in range(n_archs)]
        names = job.supernet.decision_names
        self.choices = [[arch[n] for n in names] for arch in self.archs]
        self.data_source = timing.data_dir()[1]

    def build_plain(self, i: int, check: bool = True) -> tuple[nn.Module, torch.optim.Optimizer, float]:
        net = plain_from_supernet(self.job.supernet, self.choices[i], self.sz).to(self.device)
        if self.device.type == "cuda" and self.tc.get("channels_last"):
            net = net.to(memory_format=torch.channels_last)
        diff = float("nan")
        if check:  # same weights, same batch, train mode: the same logits, so the same ops
            x, _ = self.batch
            with torch.no_grad(), self.autocast():
                a = self.job.supernet.train()(x, self.archs[i]).float()
                b = net.train()(x).float()
            diff = float((a - b).abs().max() / a.abs().max().clamp_min(1e-12))
            tol = 2e-2 if self.device.type == "cuda" else 1e-4
            if not diff <= tol:
                raise SystemExit(
                    f"arch {i}: the standalone network's logits differ from the supernet's "
                    f"(relative max difference {diff:.3g})"
                )
        tc = self.tc
        opt = torch.optim.SGD(net.parameters(), lr=tc["lr"], momentum=tc["momentum"], weight_decay=tc["weight_decay"])
        return net, opt, diff

    def supernet_step(self, i: int):
        arch, batch = self.archs[i], self.batch
        return lambda: self.ctx.train_weights(batch, arch)

    def plain_step(self, net: nn.Module, opt: torch.optim.Optimizer):
        x, y = self.batch
        clip = self.tc.get("grad_clip")
        params = list(net.parameters())

        def step():
            net.train()
            opt.zero_grad(set_to_none=True)
            with self.autocast():
                loss = F.cross_entropy(net(x).float(), y)
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(params, clip)
            opt.step()
            return loss.detach()

        return step


def worker(args, device: torch.device) -> None:
    """One contender in this fresh process: every arch's step a few times; time and peak memory."""
    c = Contenders(args, device)
    fns = []
    for i in range(len(c.archs)):
        if args.worker == "supernet":
            fns.append(c.supernet_step(i))
        else:
            net, opt, _ = c.build_plain(i, check=False)
            fns.append(c.plain_step(net, opt))
    timing.emit_steps(fns, device)


def main() -> None:
    p = timing.parser(__doc__)
    p.add_argument("--archs", type=int, default=None, help="sampled architectures to time (default 1 quick, 3 full)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--profile", action="store_true", help="print torch.profiler's top ops of both steps")
    args = p.parse_args()
    device = timing.setup(args)
    if args.worker:
        return worker(args, device)
    repeats, warmup = timing.counts(args, 5 if args.quick else 10, 2)
    c = Contenders(args, device)
    sz = c.sz
    timing.note(
        f"single-path step: DARTS supernet C={sz['channels']}, {sz['layers']} cells, batch {sz['batch']}, "
        f"{device}, {torch.get_num_threads()} threads, {len(c.archs)} sampled arch(s), "
        f"median of {repeats} interleaved repeats after {warmup} warm-up"
    )
    rows, results = [], []
    tot_super = tot_plain = 0.0
    for i in range(len(c.archs)):
        net, opt, diff = c.build_plain(i)
        fns = {"supernet": c.supernet_step(i), "standalone": c.plain_step(net, opt)}
        t = timing.time_interleaved(fns, device, repeats, warmup)
        ms, mp = timing.median(t["supernet"]), timing.median(t["standalone"])
        tot_super += ms
        tot_plain += mp
        ops = sum(k != 0 for k in c.choices[i])
        results.append(
            {
                "arch": i,
                "ops": ops,
                "supernet_s": ms,
                "standalone_s": mp,
                "ratio": ms / mp,
                "logits_rel_diff": diff,
                "supernet_all_s": t["supernet"],
                "standalone_all_s": t["standalone"],
            }
        )
        rows.append(
            [
                f"arch {i} ({ops} ops)",
                timing.fmt_seconds(ms),
                timing.fmt_seconds(mp),
                timing.fmt_ratio(ms / mp),
                f"{diff:.1e}",
            ]
        )
        if args.profile:
            timing.profile_top(fns, device)
        del net, opt, fns
        gc.collect()
    ratio = tot_super / tot_plain
    rows.append(
        [
            "all archs (sum of medians)",
            timing.fmt_seconds(tot_super),
            timing.fmt_seconds(tot_plain),
            timing.fmt_ratio(ratio),
            "",
        ]
    )
    timing.table(
        "Single-path step: nasframe supernet vs standalone network (same ops, same batch)",
        ["", "nasframe supernet", "standalone", "ratio", "logits diff"],
        rows,
        caption=f"target ratio ≤ {TARGET} → {timing.verdict(ratio, TARGET, 'le')}",
    )
    payload: dict[str, Any] = {
        "benchmark": "single_path_step",
        "mode": "quick" if args.quick else "full",
        "sizes": sz,
        "env": timing.environment(device),
        "repeats": repeats,
        "warmup": warmup,
        "archs": results,
        "ratio": ratio,
        "target": TARGET,
        "met": ratio <= TARGET,
        "reference_issue_10": timing.REFERENCES["single_path_standalone"],
    }
    del c
    gc.collect()
    if not args.no_memory:
        mem = {}
        for name in ("supernet", "standalone"):
            mem[name] = timing.run_worker(
                "single_path_step.py",
                name,
                timing.worker_args(args) + (["--archs", str(args.archs)] if args.archs else []),
            )
        payload["memory"] = mem
        s, r = mem["supernet"], mem["standalone"]
        timing.table(
            "Peak memory, each contender alone in a fresh process (every arch, one after another)",
            ["", "nasframe supernet", "standalone", "ratio"],
            [
                [
                    "peak",
                    timing.fmt_bytes(s["peak_bytes"]),
                    timing.fmt_bytes(r["peak_bytes"]),
                    timing.fmt_ratio(s["peak_bytes"] / r["peak_bytes"]),
                ],
                [
                    "peak − before first step",
                    timing.fmt_bytes(s["delta_bytes"]),
                    timing.fmt_bytes(r["delta_bytes"]),
                    timing.fmt_ratio(s["delta_bytes"] / max(r["delta_bytes"], 1)),
                ],
            ],
            caption=f"method: {s['memory_method']}",
        )
    ref = timing.REFERENCES["single_path_standalone"]
    timing.note(
        f"issue #10 reference (earlier, not this run): {ref['what']}: {ref['seconds']} s/step, {ref['memory_gb']} GB"
    )
    timing.quick_caveat(args)
    timing.write_json(args.json, payload)


if __name__ == "__main__":
    main()
