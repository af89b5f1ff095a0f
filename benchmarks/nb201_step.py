"""NAS-Bench-201 supernet steps: nasframe vs the benchmark's own weight-sharing code, written out here.

nasframe: a real :class:`~nasframe.engine.SearchJob` on ``--space nb201`` (DARTS strategy, first order):

- single-path step (what MdeNAS and random search train): ``ctx.train_weights(batch, arch)`` with a
  freshly sampled cell (uniform over the 15,625) on every call;
- DARTS step: ``Darts.train_step`` (Adam step on alpha with the gradient of the loss on
  ``ctx.next_val_batch()``, then ``ctx.train_weights`` through the relaxed supernet).

Reference: ``RefNetwork`` below, written the way NAS-Bench-201's released weight-sharing code does it
(AutoDL-Projects ``xautodl/models/cell_searchs/search_model_darts.py`` ``TinyNetworkDarts``,
``search_cells.py`` ``NAS201SearchCell``, ``cell_operations.py`` ``OPS``/``ResNetBasicblock``): every
edge holds all five ops (``none`` = ``x.mul(0.)``, ``skip_connect`` = identity, ``nor_conv_kxk`` =
ReLU-conv-BN with BN affine=False and, as released, a conv bias (``bias=not affine``),
``avg_pool_3x3`` = AvgPool2d(3, 1, 1, count_include_pad=False)); NCHW. Mixed forward: every edge sums
``layer(x) * w`` over all five ops (``NAS201SearchCell.forward``); single path: each edge runs only its
sampled op, ``none`` included as ``x.mul(0.)``, every node computed (``forward_dynamic``/``forward_urs``).
Its steps follow the released search scripts (``exps/NAS-Bench-201-algos/DARTS-V1.py``,
``RANDOM-NAS.py``): ``zero_grad``, forward, cross-entropy, ``backward``, gradient norm clipped at 5, SGD
(nasframe's lr, momentum, weight decay); DARTS adds the architecture step (``backward`` of the
validation loss, Adam on the alphas with nasframe's settings), before the weight step as nasframe
orders them. The reference's weight-step backward also reaches the alphas, as in the released code; its
clip covers the weights only (the released script clips ``network.parameters()``, alphas included: a
norm over 30 more numbers, no cost to speak of), so that both sides make the same update.

Same batch, same validation batches (both drawn from the job's data module with equal generators), same
sampled cells, same relaxed weights. Before timing, the reference gets nasframe's weights (stem,
reductions, head, every edge's convs; the reference's extra conv biases are left as initialised: the
batch-statistics BatchNorm after them cancels any per-channel constant) and its logits are checked
equal to nasframe's, single path and mixed.

Sizes: ``--quick`` C=4, N=1, batch 8; full mode both C=8, N=1 (the tiny CPU supernet) and the paper's
C=16, N=5, batch 64. Time: interleaved repeats in one process (A B B A ...), median after warm-up.
Peak memory: each contender and step alone in a fresh subprocess (``timing.PeakMemory``).
"""

from __future__ import annotations

import gc
from typing import Any, Mapping, Sequence

import timing
import torch
import torch.nn.functional as F
from torch import nn

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")  # NAS_BENCH_201's order
MAX_NODES = 4
QUICK_SIZES = [{"channels": 4, "cells_per_stage": 1, "batch": 8}]
TOL = 1e-3
"""Logits' relative max difference allowed: float32 through up to 17 batch-statistics BatchNorms, NCHW vs
channels-last kernels (a cell whose signal is nearly all ``none``/pool normalises a tiny variance and
amplifies rounding: up to 1e-4 seen at C=16, N=5); a wrong op or weight differs by order 1."""
FULL_SIZES = [{"channels": 8, "cells_per_stage": 1, "batch": 64}, {"channels": 16, "cells_per_stage": 5, "batch": 64}]


# -- the reference (AutoDL-Projects cell_operations.py / search_cells.py / search_model_darts.py) --------
class ReLUConvBN(nn.Module):
    def __init__(self, C_in, C_out, kernel_size, stride, padding, affine, track_running_stats=True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_out, kernel_size, stride=stride, padding=padding, bias=not affine),
            nn.BatchNorm2d(C_out, affine=affine, track_running_stats=track_running_stats),
        )

    def forward(self, x):
        return self.op(x)


class Zero(nn.Module):
    is_zero = True

    def forward(self, x):
        return x.mul(0.0)


class Identity(nn.Module):
    def forward(self, x):
        return x


class Pooling(nn.Module):
    """``POOLING`` at stride 1 with equal channels: no preprocessing, just the pool."""

    def __init__(self):
        super().__init__()
        self.op = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)

    def forward(self, x):
        return self.op(x)


def ref_op(name: str, C: int, affine: bool, track_running_stats: bool) -> nn.Module:
    return {
        "none": lambda: Zero(),
        "skip_connect": lambda: Identity(),
        "nor_conv_1x1": lambda: ReLUConvBN(C, C, 1, 1, 0, affine, track_running_stats),
        "nor_conv_3x3": lambda: ReLUConvBN(C, C, 3, 1, 1, affine, track_running_stats),
        "avg_pool_3x3": lambda: Pooling(),
    }[name]()


class ResNetBasicblock(nn.Module):
    """The stride-2 stage transition (affine BN, running statistics: the search models' defaults)."""

    def __init__(self, inplanes, planes):
        super().__init__()
        self.conv_a = ReLUConvBN(inplanes, planes, 3, 2, 1, affine=True)
        self.conv_b = ReLUConvBN(planes, planes, 3, 1, 1, affine=True)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(inplanes, planes, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x):
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class RefSearchCell(nn.Module):
    """``NAS201SearchCell``: an edge ``i<-j`` per pair, each a ModuleList of all five ops."""

    def __init__(self, C, track_running_stats):
        super().__init__()
        self.edges = nn.ModuleDict()
        for i in range(1, MAX_NODES):
            for j in range(i):
                self.edges[f"{i}<-{j}"] = nn.ModuleList(ref_op(name, C, False, track_running_stats) for name in OPS)
        self.edge_keys = sorted(self.edges.keys())
        self.edge2index = {key: i for i, key in enumerate(self.edge_keys)}

    def forward(self, inputs, weightss):
        nodes = [inputs]
        for i in range(1, MAX_NODES):
            inter_nodes = []
            for j in range(i):
                node_str = f"{i}<-{j}"
                weights = weightss[self.edge2index[node_str]]
                inter_nodes.append(sum(layer(nodes[j]) * w for layer, w in zip(self.edges[node_str], weights)))
            nodes.append(sum(inter_nodes))
        return nodes[-1]

    def forward_dynamic(self, inputs, choice):
        """One op per edge, ``choice[edge2index[i<-j]]`` its index; ``none`` runs (as ``x.mul(0.)``)."""
        nodes = [inputs]
        for i in range(1, MAX_NODES):
            inter_nodes = []
            for j in range(i):
                node_str = f"{i}<-{j}"
                inter_nodes.append(self.edges[node_str][choice[self.edge2index[node_str]]](nodes[j]))
            nodes.append(sum(inter_nodes))
        return nodes[-1]


class RefNetwork(nn.Module):
    """``TinyNetworkDarts``: stem, N cells at C, a reduction, N at 2C, a reduction, N at 4C, head."""

    def __init__(self, C, N, num_classes=10, track_running_stats=False):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, C, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(C))
        layer_channels = [C] * N + [C * 2] + [C * 2] * N + [C * 4] + [C * 4] * N
        layer_reductions = [False] * N + [True] + [False] * N + [True] + [False] * N
        C_prev = C
        self.cells = nn.ModuleList()
        for C_curr, reduction in zip(layer_channels, layer_reductions):
            self.cells.append(
                ResNetBasicblock(C_prev, C_curr) if reduction else RefSearchCell(C_curr, track_running_stats)
            )
            C_prev = C_curr
        self.lastact = nn.Sequential(nn.BatchNorm2d(C_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)
        self.arch_parameters = nn.Parameter(1e-3 * torch.randn(6, len(OPS)))

    def get_weights(self):
        return [p for name, p in self.named_parameters() if name != "arch_parameters"]

    def forward(self, inputs, choice: Sequence[int] | None = None):
        """Mixed ops (softmax of ``arch_parameters``), or the single path ``choice`` when given."""
        alphas = F.softmax(self.arch_parameters, dim=-1) if choice is None else None
        feature = self.stem(inputs)
        for cell in self.cells:
            if isinstance(cell, RefSearchCell):
                feature = cell(feature, alphas) if choice is None else cell.forward_dynamic(feature, choice)
            else:
                feature = cell(feature)
        out = self.global_pooling(self.lastact(feature))
        return self.classifier(out.view(out.size(0), -1))


def load_from_supernet(ref: RefNetwork, supernet, alpha: torch.Tensor) -> None:
    """Give the reference nasframe's weights (layouts match module by module) and alphas."""
    from nasframe.search_spaces.nb201.ops import ResidualReduction

    with torch.no_grad():
        ref.stem.load_state_dict(supernet.stem.state_dict())
        for rc, sc in zip(ref.cells, supernet.cells, strict=True):
            if isinstance(sc, ResidualReduction):
                rc.load_state_dict(sc.state_dict())
                continue
            for e, key in enumerate(rc.edge_keys):  # nasframe's edge order is the sorted one too
                for k, name in enumerate(OPS):
                    if name.startswith("nor_conv"):
                        theirs, ours = rc.edges[key][k].op, sc.edges[e].ops[name].op
                        theirs[1].weight.copy_(ours[1].weight)
                        theirs[2].load_state_dict(ours[2].state_dict())
        ref.lastact[0].load_state_dict(supernet.head[0].state_dict())
        ref.classifier.load_state_dict(supernet.head[-1].state_dict())
        ref.arch_parameters.copy_(alpha)


# -- nasframe's side ------------------------------------------------------------------------------------
def nb201_job(sz: Mapping[str, int], device: torch.device):
    """A set-up SearchJob of the nb201 space, DARTS first order, at ``sz`` (engine defaults otherwise)."""
    from nasframe.config import resolve
    from nasframe.engine.search import SearchJob
    from nasframe.registry import get_registry

    registry = get_registry()
    root, _ = timing.data_dir()
    sets = {
        "space.channels": sz["channels"],
        "space.cells_per_stage": sz["cells_per_stage"],
        "train.batch_size": sz["batch"],
        "strategy.order": 1,
        "device": str(device),
        "seed": 0,
        "data.dir": str(root),
        "data.download": False,
        "data.val_size": 0.5,
    }
    config = resolve(registry.space("nb201"), registry.strategy("darts"), "paper", sets, strategy_presets=False)
    torch.manual_seed(0)
    job = SearchJob(config, registry)
    job.setup()
    return job


class Contenders:
    """Both sides at one size: nasframe's job, the reference network with its weights, the shared data."""

    def __init__(self, sz: Mapping[str, int], device: torch.device, n_archs: int) -> None:
        from nasframe.search_spaces.nb201.cell import DECISIONS

        self.sz, self.device = sz, device
        self.job = job = nb201_job(sz, device)
        self.tc, self.sc = job.config["train"], job.config["strategy"]
        self.batch = next(iter(job.data.train.epoch(torch.Generator().manual_seed(1))))
        g = torch.Generator().manual_seed(3)
        self.choices = [torch.randint(len(OPS), (len(DECISIONS),), generator=g).tolist() for _ in range(n_archs)]
        self.archs = [dict(zip(DECISIONS, c)) for c in self.choices]
        torch.manual_seed(1)
        self.ref = RefNetwork(sz["channels"], sz["cells_per_stage"]).to(device).train()
        load_from_supernet(self.ref, job.supernet, job.strategy.alpha.detach())
        tc, sc = self.tc, self.sc
        self.w_opt = torch.optim.SGD(
            self.ref.get_weights(), lr=tc["lr"], momentum=tc["momentum"], weight_decay=tc["weight_decay"]
        )
        self.a_opt = torch.optim.Adam(
            [self.ref.arch_parameters],
            lr=sc["arch_lr"],
            betas=(sc["arch_beta1"], sc["arch_beta2"]),
            weight_decay=sc["arch_weight_decay"],
        )
        self.ref_val_gen = torch.Generator(job.ctx.val_generator.device)
        self.ref_val_gen.set_state(job.ctx.val_generator.get_state())  # the same validation batches

    def check(self) -> dict[str, float]:
        """Relative max difference of the logits, same weights and batch, train mode (batch statistics)."""
        x, _ = self.batch
        sn = self.job.supernet.train()
        out = {}
        with torch.no_grad():
            a = sn(x, self.job.strategy.relaxed().detach())
            b = self.ref(x)
            out["mixed"] = float((a - b).abs().max() / a.abs().max().clamp_min(1e-12))
            out["single_path"] = 0.0
            for arch, choice in zip(self.archs, self.choices):
                a, b = sn(x, arch), self.ref(x, choice)
                out["single_path"] = max(
                    out["single_path"], float((a - b).abs().max() / a.abs().max().clamp_min(1e-12))
                )
        return out

    # steps: each call of a single-path step takes the next sampled cell (the same sequence on both sides)
    def nasframe_single_path(self):
        it = iter(range(10**9))
        return lambda: self.job.ctx.train_weights(self.batch, self.archs[next(it) % len(self.archs)])

    def ref_single_path(self):
        it = iter(range(10**9))
        return lambda: self._ref_weight_step(self.choices[next(it) % len(self.choices)])

    def nasframe_darts(self):
        strategy = self.job.strategy
        return lambda: strategy.train_step(self.batch, strategy.ask())

    def ref_darts(self):
        def step():
            xv, yv = self.job.data.val.sample(self.sz["batch"], self.ref_val_gen)
            self.a_opt.zero_grad()
            F.cross_entropy(self.ref(xv), yv).backward()
            self.a_opt.step()
            return self._ref_weight_step(None)

        return step

    def _ref_weight_step(self, choice):
        x, y = self.batch
        self.ref.train()
        self.w_opt.zero_grad()
        loss = F.cross_entropy(self.ref(x, choice), y)
        loss.backward()
        nn.utils.clip_grad_norm_(self.ref.get_weights(), self.tc["grad_clip"])
        self.w_opt.step()
        return loss.detach()


STEPS = ("single_path", "darts")


def fns_for(c: Contenders, step: str) -> dict[str, Any]:
    if step == "single_path":
        return {"nasframe": c.nasframe_single_path(), "reference": c.ref_single_path()}
    return {"nasframe": c.nasframe_darts(), "reference": c.ref_darts()}


class RssSampler:
    """Peak RSS during a span, read from ``/proc/self/statm`` by a thread every half millisecond.

    ``ru_maxrss`` cannot serve here: the job's set-up (reading and converting the CIFAR-10 images)
    peaks higher than an NB201 step does, so both contenders would report the set-up's peak. torch's
    kernels release the GIL, so the thread samples while a step runs; a step's peak (the activations
    held from the end of the forward into the backward) lasts far longer than the sampling interval.
    """

    def __init__(self) -> None:
        import threading

        self.base = self.peak = timing.rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.0005):
            self.peak = max(self.peak, timing.rss_bytes())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, timing.rss_bytes())


def worker(args, device: torch.device) -> None:
    """One contender, one step kind, one size, alone in this process: its memory over a few steps."""
    who, step, index = args.worker.split(":")
    sz = (QUICK_SIZES if args.quick else FULL_SIZES)[int(index)]
    c = Contenders(sz, device, n_archs=3)
    fn = fns_for(c, step)[who]
    calls = 3 if step == "single_path" else 1  # a single path's memory depends on the cell: three of them
    gc.collect()
    if device.type == "cuda":
        return timing.emit_steps([fn] * calls, device)
    with RssSampler() as rss:
        secs = [timing.timed(fn, device) for _ in range(calls)]
    timing.emit(
        {
            "memory_method": "peak RSS sampled every 0.5 ms during the steps, in a fresh process",
            "peak_bytes": rss.peak,
            "delta_bytes": rss.peak - rss.base,
            "base_bytes": rss.base,
            "seconds": secs,
        }
    )


def size_label(sz: Mapping[str, int]) -> str:
    return f"C={sz['channels']}, N={sz['cells_per_stage']}"


def main() -> None:
    p = timing.parser(__doc__)
    p.add_argument("--out", dest="json", metavar="PATH", help="same as --json")
    p.add_argument("--archs", type=int, default=None, help="sampled cells the single-path steps cycle through")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--profile", action="store_true", help="print torch.profiler's top ops of every step")
    args = p.parse_args()
    device = timing.setup(args)
    if args.worker:
        return worker(args, device)
    repeats, warmup = timing.counts(args, 4 if args.quick else 10, 1 if args.quick else 2)
    n_archs = args.archs or (4 if args.quick else 20)
    all_sizes = QUICK_SIZES if args.quick else FULL_SIZES
    timing.note(
        f"NAS-Bench-201 supernet steps, {device}, {torch.get_num_threads()} threads, data: {timing.data_dir()[1]}; "
        f"median of {repeats} interleaved repeats after {warmup} warm-up; single path cycles {n_archs} sampled cells"
    )
    rows, results = [], []
    for index, sz in enumerate(all_sizes):
        c = Contenders(sz, device, n_archs)
        diff = c.check()
        if not max(diff.values()) <= TOL:
            raise SystemExit(f"{size_label(sz)}: the reference's logits differ from nasframe's ({diff})")
        entry: dict[str, Any] = {"sizes": dict(sz), "logits_rel_diff": diff, "steps": {}}
        for step in STEPS:
            timing.note(f"  {size_label(sz)}, batch {sz['batch']}: timing the {step} step ...")
            fns = fns_for(c, step)
            if args.profile:
                timing.profile_top({f"{size_label(sz)} {step} {k}": f for k, f in fns.items()}, device, rows=20)
            t = timing.time_interleaved(fns, device, repeats, warmup)
            mn, mr = timing.median(t["nasframe"]), timing.median(t["reference"])
            entry["steps"][step] = {"nasframe_s": mn, "reference_s": mr, "ratio": mn / mr, "seconds": t}
            if not args.no_memory:
                mem = {
                    who: timing.run_worker("nb201_step.py", f"{who}:{step}:{index}", timing.worker_args(args))
                    for who in ("nasframe", "reference")
                }
                entry["steps"][step]["memory"] = mem
                entry["steps"][step]["memory_ratio"] = mem["nasframe"]["peak_bytes"] / mem["reference"]["peak_bytes"]
                entry["steps"][step]["delta_memory_ratio"] = mem["nasframe"]["delta_bytes"] / max(
                    mem["reference"]["delta_bytes"], 1
                )
            m = entry["steps"][step].get("memory")
            rows.append(
                [
                    f"{size_label(sz)}: {'single path' if step == 'single_path' else 'DARTS 1st order'}",
                    timing.fmt_seconds(mn),
                    timing.fmt_seconds(mr),
                    timing.fmt_ratio(mn / mr),
                    timing.fmt_bytes(m["nasframe"]["delta_bytes"]) if m else "-",
                    timing.fmt_bytes(m["reference"]["delta_bytes"]) if m else "-",
                    timing.fmt_ratio(entry["steps"][step]["delta_memory_ratio"]) if m else "-",
                ]
            )
        rows.append([f"  logits rel. diff {diff['single_path']:.0e} / {diff['mixed']:.0e}"] + [""] * 6)
        results.append(entry)
        del c
        gc.collect()
    timing.table(
        f"NAS-Bench-201 supernet steps, batch {all_sizes[0]['batch']}: nasframe vs the benchmark's released code",
        ["", "nasframe", "reference", "time ratio", "nasframe mem", "reference mem", "mem ratio"],
        rows,
        caption="ratios: nasframe / reference (lower is better); time: median; mem: peak RSS (CUDA: allocator peak) "
        "minus that before the first step (sampled on CPU), each contender and step alone in a fresh process (peak totals in the "
        "JSON); logits rel. diff: single path / mixed, checked before timing",
    )
    timing.quick_caveat(args)
    timing.write_json(
        args.json,
        {
            "benchmark": "nb201_step",
            "mode": "quick" if args.quick else "full",
            "env": timing.environment(device),
            "data": timing.data_dir()[1],
            "repeats": repeats,
            "warmup": warmup,
            "archs": n_archs,
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
