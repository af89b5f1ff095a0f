"""DARTS first-order search step: nasframe's DARTS strategy vs a naive mixed-op implementation.

nasframe: ``Darts.train_step`` of a real :class:`~nasframe.engine.SearchJob` (``strategy.order=1``):
an architecture step (Adam on alpha) with the gradient of the validation loss on
``ctx.next_val_batch()``, then ``ctx.train_weights`` through the relaxed supernet (SGD, clip 5).
"Weight step alone" is ``ctx.train_weights(batch, strategy.weight_arch())``.

Reference: ``NaiveNetwork`` below, written the way the DARTS reference code (``model_search.py``,
``architect.py``, ``train_search.py``) does it: every edge a ``MixedOp`` that computes all eight ops,
``none`` included (``x.mul(0.)``), multiplies each by its softmax weight and sums; every conv op
starts with its own ReLU; NCHW memory format; first-order architect (``loss.backward()`` on the
validation batch, Adam step on the alphas), then the weight step (``backward``, clip 5, SGD), whose
backward also reaches the alphas as in the reference code. Same shapes: the naive network's
parameters are copied into nasframe's supernet order and its logits checked equal at the quick size.
Both get their validation batch from the same data module (``data.val.sample``).

Each implementation runs in its own fresh process, one after another (never two paper-size supernets
at once): first the weight step alone (warm-up + repeats, peak memory read), then the full step.
Target (CPU): nasframe / naive <= 0.8 for the step.
"""

from __future__ import annotations

import gc
from typing import Any

import timing
import torch
import torch.nn.functional as F
from torch import nn

TARGET = 0.8
PRIMITIVES = [
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
]


# -- the naive reference (DARTS-style model_search.py) -------------------------------------------
class ReLUConvBN(nn.Module):
    def __init__(self, C_in, C_out, kernel_size, stride, padding, affine=True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_out, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )

    def forward(self, x):
        return self.op(x)


class DilConv(nn.Module):
    def __init__(self, C_in, C_out, kernel_size, stride, padding, dilation, affine=True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(
                C_in, C_in, kernel_size, stride=stride, padding=padding, dilation=dilation, groups=C_in, bias=False
            ),
            nn.Conv2d(C_in, C_out, kernel_size=1, padding=0, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )

    def forward(self, x):
        return self.op(x)


class SepConv(nn.Module):
    def __init__(self, C_in, C_out, kernel_size, stride, padding, affine=True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_in, kernel_size, stride=stride, padding=padding, groups=C_in, bias=False),
            nn.Conv2d(C_in, C_in, kernel_size=1, padding=0, bias=False),
            nn.BatchNorm2d(C_in, affine=affine),
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_in, kernel_size, stride=1, padding=padding, groups=C_in, bias=False),
            nn.Conv2d(C_in, C_out, kernel_size=1, padding=0, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )

    def forward(self, x):
        return self.op(x)


class Identity(nn.Module):
    def forward(self, x):
        return x


class Zero(nn.Module):
    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class FactorizedReduce(nn.Module):
    def __init__(self, C_in, C_out, affine=True):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, padding=0, bias=False)
        self.conv_2 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward(self, x):
        x = self.relu(x)
        out = torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1)
        return self.bn(out)


OPS = {
    "none": lambda C, stride, affine: Zero(stride),
    "avg_pool_3x3": lambda C, stride, affine: nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False),
    "max_pool_3x3": lambda C, stride, affine: nn.MaxPool2d(3, stride=stride, padding=1),
    "skip_connect": lambda C, stride, affine: Identity() if stride == 1 else FactorizedReduce(C, C, affine=affine),
    "sep_conv_3x3": lambda C, stride, affine: SepConv(C, C, 3, stride, 1, affine=affine),
    "sep_conv_5x5": lambda C, stride, affine: SepConv(C, C, 5, stride, 2, affine=affine),
    "dil_conv_3x3": lambda C, stride, affine: DilConv(C, C, 3, stride, 2, 2, affine=affine),
    "dil_conv_5x5": lambda C, stride, affine: DilConv(C, C, 5, stride, 4, 2, affine=affine),
}


class MixedOp(nn.Module):
    def __init__(self, C, stride):
        super().__init__()
        self._ops = nn.ModuleList()
        for primitive in PRIMITIVES:
            op = OPS[primitive](C, stride, False)
            if "pool" in primitive:
                op = nn.Sequential(op, nn.BatchNorm2d(C, affine=False))
            self._ops.append(op)

    def forward(self, x, weights):
        return sum(w * op(x) for w, op in zip(weights, self._ops))


class Cell(nn.Module):
    def __init__(self, steps, multiplier, C_prev_prev, C_prev, C, reduction, reduction_prev):
        super().__init__()
        self.reduction = reduction
        if reduction_prev:
            self.preprocess0 = FactorizedReduce(C_prev_prev, C, affine=False)
        else:
            self.preprocess0 = ReLUConvBN(C_prev_prev, C, 1, 1, 0, affine=False)
        self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0, affine=False)
        self._steps = steps
        self._multiplier = multiplier
        self._ops = nn.ModuleList()
        for i in range(self._steps):
            for j in range(2 + i):
                stride = 2 if reduction and j < 2 else 1
                self._ops.append(MixedOp(C, stride))

    def forward(self, s0, s1, weights):
        s0 = self.preprocess0(s0)
        s1 = self.preprocess1(s1)
        states = [s0, s1]
        offset = 0
        for _i in range(self._steps):
            s = sum(self._ops[offset + j](h, weights[offset + j]) for j, h in enumerate(states))
            offset += len(states)
            states.append(s)
        return torch.cat(states[-self._multiplier :], dim=1)


class NaiveNetwork(nn.Module):
    def __init__(self, C, num_classes, layers, steps=4, multiplier=4, stem_multiplier=3, device="cpu"):
        super().__init__()
        self._steps = steps
        C_curr = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(3, C_curr, 3, padding=1, bias=False), nn.BatchNorm2d(C_curr))
        C_prev_prev, C_prev, C_curr = C_curr, C_curr, C
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            if i in [layers // 3, 2 * layers // 3]:
                C_curr *= 2
                reduction = True
            else:
                reduction = False
            cell = Cell(steps, multiplier, C_prev_prev, C_prev, C_curr, reduction, reduction_prev)
            reduction_prev = reduction
            self.cells += [cell]
            C_prev_prev, C_prev = C_prev, multiplier * C_curr
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)
        k = sum(1 for i in range(self._steps) for n in range(2 + i))
        # plain tensors, not registered parameters, as in the reference code (its ``.cuda()``)
        self.alphas_normal = (1e-3 * torch.randn(k, len(PRIMITIVES))).to(device).requires_grad_(True)
        self.alphas_reduce = (1e-3 * torch.randn(k, len(PRIMITIVES))).to(device).requires_grad_(True)

    def arch_parameters(self):
        return [self.alphas_normal, self.alphas_reduce]

    def forward(self, input):
        s0 = s1 = self.stem(input)
        for cell in self.cells:
            if cell.reduction:
                weights = F.softmax(self.alphas_reduce, dim=-1)
            else:
                weights = F.softmax(self.alphas_normal, dim=-1)
            s0, s1 = s1, cell(s0, s1, weights)
        out = self.global_pooling(s1)
        return self.classifier(out.view(out.size(0), -1))


class NaiveDarts:
    """train_search.py + architect.py (first order, ``unrolled=False``)."""

    def __init__(self, sz, device, tc, sd, channels_last: bool = False):
        torch.manual_seed(0)
        self.model = NaiveNetwork(sz["channels"], 10, sz["layers"], device=device).to(device)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.channels_last = channels_last
        self.criterion = nn.CrossEntropyLoss()
        self.optimizer = torch.optim.SGD(
            self.model.parameters(), tc["lr"], momentum=tc["momentum"], weight_decay=tc["weight_decay"]
        )
        self.arch_optimizer = torch.optim.Adam(
            self.model.arch_parameters(),
            lr=sd["arch_lr"],
            betas=(sd["arch_beta1"], sd["arch_beta2"]),
            weight_decay=sd["arch_weight_decay"],
        )
        self.grad_clip = tc["grad_clip"]

    def _in(self, x):
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x.contiguous()

    def arch_step(self, input_valid, target_valid):
        self.arch_optimizer.zero_grad()
        loss = self.criterion(self.model(self._in(input_valid)), target_valid)
        loss.backward()
        self.arch_optimizer.step()

    def weight_step(self, input, target):
        self.model.train()
        self.optimizer.zero_grad()
        logits = self.model(self._in(input))
        loss = self.criterion(logits, target)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()
        return loss


def check_equivalence() -> float:
    """At the quick size: the naive network with nasframe's weights gives the supernet's logits."""
    device = torch.device("cpu")
    job = timing.search_job("darts", timing.QUICK, device)
    supernet = job.supernet.train()
    naive = NaiveNetwork(timing.QUICK["channels"], 10, timing.QUICK["layers"]).train()
    ours, theirs = list(supernet.parameters()), list(naive.parameters())
    assert len(ours) == len(theirs), (len(ours), len(theirs))
    with torch.no_grad():
        for q, p in zip(ours, theirs):
            assert p.shape == q.shape, (p.shape, q.shape)
            p.copy_(q)
        alpha = job.strategy.alpha.detach()
        E = supernet.num_edges
        naive.alphas_normal.copy_(alpha[:E])
        naive.alphas_reduce.copy_(alpha[E:])
        x, _ = timing.random_batch(timing.QUICK["batch"], device)
        a = supernet(x, job.strategy.relaxed().detach())
        b = naive(x)
    return float((a - b).abs().max() / a.abs().max())


def worker(args, device: torch.device) -> None:
    sz = timing.sizes(args)
    repeats, warmup = timing.counts(args, 5, 2 if args.quick else 1)
    if args.worker == "nasframe":
        job = timing.search_job("darts", sz, device, {"strategy.order": 1})
        strategy, ctx = job.strategy, job.ctx
        batch = next(iter(job.data.train.epoch(torch.Generator().manual_seed(1))))
        weight = lambda: ctx.train_weights(batch, strategy.weight_arch())  # noqa: E731
        step = lambda: strategy.train_step(batch, strategy.ask())  # noqa: E731
    else:
        from nasframe.data import build_data

        config = timing.search_config("darts", sz, device, {"strategy.order": 1})
        data = build_data(config, device, purpose="search")
        naive = NaiveDarts(sz, device, config["train"], config["strategy"], channels_last=args.worker == "naive-cl")
        batch = next(iter(data.train.epoch(torch.Generator().manual_seed(1))))
        gen = torch.Generator().manual_seed(2)
        weight = lambda: naive.weight_step(*batch)  # noqa: E731

        def step():
            naive.arch_step(*data.val.sample(sz["batch"], gen))
            return naive.weight_step(*batch)

    gc.collect()
    mem = timing.PeakMemory(device)
    mem.start()
    out: dict[str, Any] = {}
    for name, fn in (("weight", weight), ("step", step)):
        if args.profile:
            timing.profile_top({f"{args.worker} {name}": fn}, device, steps=1, rows=20)
        secs = timing.time_interleaved({name: fn}, device, repeats, warmup)[name]
        out[name] = {"seconds": secs, "median_s": timing.median(secs), **mem.result()}
    timing.emit(out)


def main() -> None:
    p = timing.parser(__doc__)
    p.add_argument(
        "--naive-channels-last",
        action="store_true",
        help="also time the naive implementation in channels-last memory format (as nasframe runs on CPU)",
    )
    p.add_argument(
        "--profile", action="store_true", help="print torch.profiler's top ops of each step (in the workers)"
    )
    p.add_argument("--only", choices=["nasframe", "naive"], help="run only this implementation (no ratio)")
    args = p.parse_args()
    device = timing.setup(args)
    if args.worker:
        return worker(args, device)
    sz = timing.sizes(args)
    diff = check_equivalence()
    if not diff < 1e-4:
        raise SystemExit(
            f"the naive network does not compute nasframe's mixed forward (relative difference {diff:.3g})"
        )
    timing.note(
        f"DARTS first-order step: supernet C={sz['channels']}, {sz['layers']} cells, batch {sz['batch']}, "
        f"{device}, {torch.get_num_threads()} threads; each implementation alone in a fresh process; "
        f"naive == nasframe logits at the quick size (relative difference {diff:.1e})"
    )
    extra = timing.worker_args(args) + (["--profile"] if args.profile else [])
    names = ["nasframe", "naive"] + (["naive-cl"] if args.naive_channels_last else [])
    if args.only:
        names = [args.only]
    res = {}
    for name in names:
        timing.note(f"  running {name} ...")
        res[name] = timing.run_worker("darts_step.py", name, extra)
    labels = {
        "nasframe": "nasframe (Darts.train_step)",
        "naive": "naive mixed ops (NCHW)",
        "naive-cl": "naive mixed ops (channels-last)",
    }
    rows = []
    for what in ("step", "weight"):
        for name in names:
            r = res[name][what]
            base = res["naive"][what] if "naive" in res else None
            ratio = r["median_s"] / base["median_s"] if base else None
            mratio = r["peak_bytes"] / base["peak_bytes"] if base else None
            label = labels[name] if what == "step" or name != "nasframe" else "nasframe (ctx.train_weights)"
            rows.append(
                [
                    f"{'1st-order step' if what == 'step' else 'weight step alone'}: {label}",
                    timing.fmt_seconds(r["median_s"]),
                    timing.fmt_ratio(ratio),
                    timing.fmt_bytes(r["peak_bytes"]),
                    timing.fmt_bytes(r["delta_bytes"]),
                    timing.fmt_ratio(mratio),
                ]
            )
    ratio = (res["nasframe"]["step"]["median_s"] / res["naive"]["step"]["median_s"]) if len(res) > 1 else None
    method = next(iter(res.values()))["step"]["memory_method"]
    timing.table(
        "DARTS first-order search step vs a naive mixed-op implementation (same shapes)",
        ["", "time (median)", "time ratio vs naive", "peak memory", "peak − before", "memory ratio"],
        rows,
        caption=f"target step ratio ≤ {TARGET} → {timing.verdict(ratio, TARGET, 'le')}; memory: {method}, "
        "weight-step peak read before the full steps ran",
    )
    for key in ("darts_first_order_step", "darts_weight_step"):
        ref = timing.REFERENCES[key]
        timing.note(
            f"issue #10 reference (earlier, not this run): {ref['what']}: {ref['seconds']} s, {ref['memory_gb']} GB"
        )
    timing.quick_caveat(args)
    timing.write_json(
        args.json,
        {
            "benchmark": "darts_step",
            "mode": "quick" if args.quick else "full",
            "sizes": sz,
            "env": timing.environment(device),
            "equivalence_rel_diff": diff,
            "results": res,
            "ratio": ratio,
            "target": TARGET,
            "met": None if ratio is None else ratio <= TARGET,
            "reference_issue_10": {k: timing.REFERENCES[k] for k in ("darts_first_order_step", "darts_weight_step")},
        },
    )


if __name__ == "__main__":
    main()
