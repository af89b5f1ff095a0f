"""The MBConv space's block choices and its initialisation; the block itself is ``nasframe.layers.InvertedResidual``."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class Choice:
    """One candidate for a searchable block: MBConv(kernel, expand), or ``skip`` when both are None."""

    kernel: int | None
    expand: int | None

    @property
    def is_skip(self) -> bool:
        return self.kernel is None

    @property
    def name(self) -> str:
        return "skip" if self.is_skip else f"k{self.kernel}_e{self.expand}"


SKIP = Choice(None, None)


def init_weights(model: nn.Module, bn_eps: float) -> None:
    """MobileNetV2's initialisation: Kaiming (fan out) convs, unit BN with epsilon ``bn_eps``, small-normal classifier."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
        elif isinstance(m, nn.BatchNorm2d):
            m.eps = bn_eps
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
