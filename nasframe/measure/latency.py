"""Inference latency of any network at the data set's resolution (the papers' "GPU latency")."""

from __future__ import annotations

import contextlib
import statistics
import time

import torch
from torch import nn

from nasframe.interfaces.space import DataInfo


def measure_latency(
    model: nn.Module,
    data: DataInfo,
    device: torch.device | str,
    batch_size: int = 1,
    warmup: int = 10,
    repeats: int = 50,
    *,
    amp: bool = False,
    channels_last: bool = False,
) -> float:
    """Median seconds of one forward pass of ``batch_size`` images, in eval mode without gradients.

    The model is moved to ``device`` (and its train/eval mode restored afterwards). On CUDA each
    pass is timed with CUDA events and the device synchronised; on CPU with ``time.perf_counter``.
    ``amp`` runs under bf16 autocast on CUDA, as training does.
    """
    if batch_size < 1 or warmup < 0 or repeats < 1:
        raise ValueError("measure_latency needs batch_size >= 1, warmup >= 0 and repeats >= 1")
    shape = (batch_size, data.channels, data.image_size, data.image_size)
    return time_forward(model, shape, device, warmup, repeats, amp=amp, channels_last=channels_last)


def time_forward(
    model: nn.Module,
    shape: tuple[int, ...],
    device: torch.device | str,
    warmup: int,
    repeats: int,
    *,
    amp: bool = False,
    channels_last: bool = False,
) -> float:
    """Median seconds of ``model`` on a random input of ``shape`` (what ``measure_latency`` times, for any module)."""
    device = torch.device(device)
    cuda = device.type == "cuda"
    model.to(device)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(device)  # leaves the run's RNG alone
    if channels_last and x.dim() == 4:
        model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if amp and cuda else contextlib.nullcontext()
    was_training = model.training
    model.eval()
    times: list[float] = []
    try:
        on_device = torch.cuda.device(device) if cuda else contextlib.nullcontext()
        with on_device, torch.no_grad(), autocast:
            for _ in range(warmup):
                model(x)
            if cuda:
                torch.cuda.synchronize(device)
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                for _ in range(repeats):
                    start.record()
                    model(x)
                    end.record()
                    end.synchronize()
                    times.append(start.elapsed_time(end) / 1000)
            else:
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    model(x)
                    times.append(time.perf_counter() - t0)
    finally:
        model.train(was_training)
    return statistics.median(times)
