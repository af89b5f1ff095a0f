"""The inverted residual block of MobileNetV2 (MnasNet and ProxylessNAS call it MBConv) and its conv-BN-ReLU6 layers."""

from __future__ import annotations

import torch
from torch import nn


def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> list[nn.Module]:
    """Conv (no bias, 'same' padding) + BN (+ ReLU6)."""
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return layers


class InvertedResidual(nn.Module):
    """1x1 expand to cin*e (+BN+ReLU6, absent when e=1) -> depthwise kxk, stride (+BN+ReLU6) -> 1x1 project (+BN).

    ``residual`` adds the input to the output; it needs stride 1 and cin == cout.
    """

    def __init__(self, cin: int, cout: int, kernel: int, expand: int, stride: int, residual: bool) -> None:
        super().__init__()
        if residual and (stride != 1 or cin != cout):
            raise ValueError(
                f"a residual inverted-residual block needs stride 1 and cin == cout, got stride {stride}, {cin} -> {cout}"
            )
        hidden = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += conv_bn(cin, hidden, 1)
        layers += conv_bn(hidden, hidden, kernel, stride, groups=hidden)
        layers += conv_bn(hidden, cout, 1, act=False)
        self.body = nn.Sequential(*layers)
        self.kernel, self.expand, self.stride, self.residual = kernel, expand, stride, residual

    def forward(
        self, x: torch.Tensor, gate: torch.Tensor | None = None, extra: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``gate`` scales the block's own branch (not the residual input), ``extra`` is added to it: binary gates."""
        y = self.body(x)
        if gate is not None:
            y = y * gate
        if extra is not None:
            y = y + extra
        return x + y if self.residual else y

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, expand={self.expand}, stride={self.stride}, residual={self.residual}"
