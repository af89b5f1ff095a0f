"""What a network costs: parameters, multiply-adds, and (with latency) the figures every summary reports."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nasframe.interfaces.space import Arch, Cost, DataInfo, SearchSpace
from nasframe.measure.latency import measure_latency

AUXILIARY_PREFIX = "auxiliary_head"


def count_params(model: nn.Module) -> int:
    """Trainable parameters, without an auxiliary head (as the papers report them)."""
    return sum(p.numel() for name, p in model.named_parameters() if not name.startswith(AUXILIARY_PREFIX))


def count_flops(model: nn.Module, data: DataInfo) -> int:
    """Multiply-adds of one forward pass of one image at the data set's resolution, in eval mode."""
    return count_module_flops(model, (data.channels, data.image_size, data.image_size))


def count_module_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of one forward pass of any module on one input of ``input_shape`` (no batch dimension)."""
    was_training = model.training
    model.eval()
    try:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        x = torch.zeros(1, *input_shape, device=device)
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(x)
        return counter.get_total_flops() // 2
    finally:
        model.train(was_training)


def count_cost(model: nn.Module, data: DataInfo) -> Cost:
    return Cost(params=count_params(model), flops=count_flops(model, data))


def arch_cost(space: SearchSpace, arch: Arch) -> Cost:
    """Parameters and multiply-adds of ``arch``'s child network at the space's size."""
    return count_cost(space.build_child(arch), space.data)


def describe_network(
    model: nn.Module, data: DataInfo, device: torch.device, batch_size: int = 1
) -> dict[str, float | int]:
    """What every summary reports of an architecture: parameters, multiply-adds, latency (batch 1 unless told)."""
    cost = count_cost(model, data)
    latency = measure_latency(model, data, device, batch_size=batch_size, warmup=3, repeats=10)
    return {"params": cost.params, "flops": cost.flops, "latency_ms": round(latency * 1000, 3)}
