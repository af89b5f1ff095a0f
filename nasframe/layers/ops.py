"""Cell operations shared by every space: convolution, pooling, identity and zero blocks, each with a cheap weighted form.

Every op has the usual ``forward(x)`` and, for a supernet's mixed forward (DARTS), ``forward_mixed(x, xr,
w, wc)`` which returns ``w * op(x)`` cheaply: ``xr`` is ``relu(x)`` computed once per edge and shared
by every op that starts with a ReLU (``relu_first``), and the weight is folded into the op's final
BatchNorm (``wc`` is ``w`` repeated per channel) instead of costing one more multiply.

``track_running_stats=False`` (NAS-Bench-201's weight-sharing search) normalises with the batch's own
statistics in training and evaluation alike.
"""

from __future__ import annotations

from typing import ClassVar, Sequence

import torch
import torch.nn.functional as F
from torch import nn


def batch_norm(bn: nn.BatchNorm2d, x: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
    """``bn(x)``, or ``scale * bn(x)`` with the per-channel ``scale`` folded into the normalisation.

    The folded form leaves ``num_batches_tracked`` alone (it only matters when momentum is None,
    which no BatchNorm here uses) to save a kernel per op.
    """
    if scale is None:
        return bn(x)
    weight = scale if bn.weight is None else bn.weight * scale
    bias = None if bn.bias is None else bn.bias * scale
    return F.batch_norm(
        x,
        bn.running_mean,
        bn.running_var,
        weight,
        bias,
        bn.training or bn.running_mean is None,
        bn.momentum if bn.momentum is not None else 0.0,
        bn.eps,
    )


class Op(nn.Module):
    """Base of the edge ops."""

    relu_first: ClassVar[bool] = False
    """Whether the op starts with a ReLU (it then takes the shared ``relu(x)`` in the mixed forward)."""

    def forward_mixed(
        self, x: torch.Tensor, xr: torch.Tensor | None, w: torch.Tensor, wc: torch.Tensor
    ) -> torch.Tensor:
        """``w * self(x)``; ``xr`` is ``relu(x)`` when ``relu_first``, ``w`` a 0-dim weight, ``wc`` it per channel."""
        raise NotImplementedError


class Zero(Op):
    """``none``: zeros of the output shape (subsampled when strided). Never run by the networks here."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        s = self.stride
        return x.new_zeros(n, c, (h + s - 1) // s, (w + s - 1) // s)

    def forward_mixed(self, x, xr, w, wc):
        return self(x)


class Identity(Op):
    """``skip_connect`` at stride 1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward_mixed(self, x, xr, w, wc):
        return x * w


class Pool(Op):
    """3x3 max or average pool, padding 1 (the average ignores the padding), optionally then BatchNorm.

    The supernet follows every pool by BatchNorm (affine=False); DARTS's child networks do not, and
    the published parameter counts depend on it; MdeNAS's child networks (pt.darts) do (affine).
    """

    def __init__(
        self, kind: str, C: int, stride: int, bn: bool, affine: bool, track_running_stats: bool = True
    ) -> None:
        super().__init__()
        if kind == "max":
            self.pool: nn.Module = nn.MaxPool2d(3, stride=stride, padding=1)
        elif kind == "avg":
            self.pool = nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
        else:
            raise ValueError(f"unknown pool kind {kind!r}")
        self.bn = nn.BatchNorm2d(C, affine=affine, track_running_stats=track_running_stats) if bn else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pool(x)
        return y if self.bn is None else self.bn(y)

    def forward_mixed(self, x, xr, w, wc):
        y = self.pool(x)
        return y * w if self.bn is None else batch_norm(self.bn, y, wc)


class ReluOp(Op):
    """An op that starts with ReLU: ``forward(x) == forward_pre(relu(x))``."""

    relu_first = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_pre(F.relu(x))

    def forward_pre(self, xr: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        """The op on an already activated input; ``scale`` (per channel) multiplies the output."""
        raise NotImplementedError

    def forward_mixed(self, x, xr, w, wc):
        return self.forward_pre(F.relu(x) if xr is None else xr, wc)


class ReLUConvBN(ReluOp):
    """ReLU -> k x k conv -> BN (DARTS's preprocessing with k = 1; NAS-Bench-201's ``nor_conv_kxk``)."""

    def __init__(
        self,
        C_in: int,
        C_out: int,
        kernel_size: int,
        stride: int,
        padding: int,
        affine: bool,
        dilation: int = 1,
        track_running_stats: bool = True,
    ) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_out, kernel_size, stride=stride, padding=padding, dilation=dilation, bias=False),
            nn.BatchNorm2d(C_out, affine=affine, track_running_stats=track_running_stats),
        )

    def forward_pre(self, xr, scale=None):
        return batch_norm(self.op[2], self.op[1](xr), scale)


class SepConv(ReluOp):
    """Twice [ReLU -> depthwise k x k -> pointwise 1x1 -> BN]; only the first depthwise conv is strided."""

    def __init__(self, C: int, kernel_size: int, stride: int, affine: bool) -> None:
        super().__init__()
        p = kernel_size // 2
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C, C, kernel_size, stride=stride, padding=p, groups=C, bias=False),
            nn.Conv2d(C, C, 1, bias=False),
            nn.BatchNorm2d(C, affine=affine),
            nn.ReLU(inplace=False),
            nn.Conv2d(C, C, kernel_size, stride=1, padding=p, groups=C, bias=False),
            nn.Conv2d(C, C, 1, bias=False),
            nn.BatchNorm2d(C, affine=affine),
        )

    def forward_pre(self, xr, scale=None):
        op = self.op
        y = op[3](op[2](op[1](xr)))
        y = F.relu(y, inplace=True)  # BN's backward does not need its output
        return batch_norm(op[7], op[6](op[5](y)), scale)


class DilConv(ReluOp):
    """ReLU -> depthwise k x k with dilation 2 (padding 2 for k=3, 4 for k=5) -> pointwise 1x1 -> BN."""

    def __init__(self, C: int, kernel_size: int, stride: int, affine: bool, dilation: int = 2) -> None:
        super().__init__()
        p = dilation * (kernel_size - 1) // 2
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C, C, kernel_size, stride=stride, padding=p, dilation=dilation, groups=C, bias=False),
            nn.Conv2d(C, C, 1, bias=False),
            nn.BatchNorm2d(C, affine=affine),
        )

    def forward_pre(self, xr, scale=None):
        op = self.op
        return batch_norm(op[3], op[2](op[1](xr)), scale)


class FactorizedReduce(ReluOp):
    """ReLU, 1x1 convs to C_out/2 of the even pixels and of the odd ones (shifted by one), concat, BN."""

    def __init__(self, C_in: int, C_out: int, affine: bool) -> None:
        super().__init__()
        if C_out % 2:
            raise ValueError(f"FactorizedReduce needs an even number of output channels, got {C_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(C_in, C_out // 2, 1, stride=1, padding=0, bias=False)
        self.conv_2 = nn.Conv2d(C_in, C_out // 2, 1, stride=1, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward_pre(self, xr, scale=None):
        # The stride-2 1x1 convs as a subsample and a stride-1 conv: the same sums, and it avoids
        # oneDNN's channels-last 1x1 stride-2 weight gradient, which crashes the process on odd batches
        # (torch 2.14 on AVX-512 CPUs; tests/test_inputs.py keeps the case).
        even = self.conv_1(xr[:, :, ::2, ::2])
        odd = xr[:, :, 1::2, 1::2]
        if xr.shape[-1] % 2 or xr.shape[-2] % 2:  # odd sizes: the shifted half is one pixel short
            odd = F.pad(odd, (0, xr.shape[-1] % 2, 0, xr.shape[-2] % 2))
        y = torch.cat([even, self.conv_2(odd)], dim=1)
        return batch_norm(self.bn, y, scale)


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero whole samples with probability ``drop_prob``, scaling the kept ones by 1/(1-p)."""
    if drop_prob <= 0.0:
        return x
    keep = 1.0 - drop_prob
    mask = torch.empty(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x * (mask / keep)


class MixedEdge(nn.Module):
    """One edge of a weight-sharing cell: every op of its choices but ``none`` (index 0, never computed).

    ``op(k)`` is choice ``k``'s op (single path); ``forward_mixed`` sums the weighted ops a relaxed architecture
    asks for, with the ReLU the convolutions start with computed once per edge (DARTS's mixed op).
    """

    def __init__(self, ops: dict[str, Op]) -> None:
        super().__init__()
        self.ops = nn.ModuleDict(ops)
        by_index: list[Op | None] = [None, *self.ops.values()]  # type: ignore[list-item]
        self._by_index = tuple(by_index)
        self._relu_first = tuple(op is not None and op.relu_first for op in by_index)

    def op(self, k: int) -> Op:
        """The op of choice index ``k`` (not ``none``)."""
        return self._by_index[k]  # type: ignore[return-value]

    def forward_path(
        self, x: torch.Tensor, k: int, gate: torch.Tensor | None = None, probe: int | None = None
    ) -> torch.Tensor:
        """Choice ``k``'s op on ``x`` (single path). ``gate`` (0-dim) multiplies it; with a ``probe`` choice, ``gate``
        is ``[2]``: ``gate[0]`` multiplies the chosen op and the probe op's output, computed without a graph, enters
        at ``gate[1]`` (ProxylessNAS's binary gates; a probe of ``none`` or of the chosen op adds nothing)."""
        y = self.op(k)(x)
        if gate is None:
            return y
        if probe is None:
            return y * gate
        y = y * gate[0]
        if probe not in (0, k):
            with torch.no_grad():
                z = self.op(probe)(x)
            y = y + gate[1] * z
        return y

    def forward_mixed(
        self,
        x: torch.Tensor,
        active: Sequence[int],
        ws: Sequence[torch.Tensor],
        wc: Sequence[torch.Tensor],
        acc: torch.Tensor | None,
    ) -> torch.Tensor | None:
        """``acc + sum_{k in active} w_k * op_k(x)``; ``ws``/``wc``: the weights as scalars / per channel by index."""
        xr = None
        for k in active:
            if self._relu_first[k] and xr is None:
                xr = F.relu(x)
            y = self._by_index[k].forward_mixed(x, xr, ws[k], wc[k])  # type: ignore[union-attr]
            acc = y if acc is None else acc.add_(y)  # every y is a fresh tensor that no backward needs
        return acc
