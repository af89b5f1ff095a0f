"""Inference latency of any network at the data set's resolution (the papers' "GPU latency")."""
from __future__ import annotations

import contextlib
import statistics
import time
from dataclasses import asdict, dataclass

import torch
from torch import nn

from nasframe.space import DataInfo


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
    device = torch.device(device)
    cuda = device.type == "cuda"
    model.to(device)
    shape = (batch_size, data.channels, data.image_size, data.image_size)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(device)  # leaves the run's RNG alone
    if channels_last:
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


@dataclass(frozen=True)
class LatencyReport:
    """Latency at batch 1 (the mobile setting the papers quote) and at a chosen batch size."""

    device: str
    batch1_s: float
    batch_size: int
    batch_s: float

    @property
    def images_per_s(self) -> float:
        """Throughput at ``batch_size``."""
        return self.batch_size / self.batch_s

    def to_dict(self) -> dict[str, float | int | str]:
        return {**asdict(self), "images_per_s": self.images_per_s}


def latency_report(
    model: nn.Module,
    data: DataInfo,
    device: torch.device | str,
    batch_size: int = 64,
    warmup: int = 10,
    repeats: int = 50,
    **kwargs: bool,
) -> LatencyReport:
    """``measure_latency`` at batch 1 and at ``batch_size`` (measured once when that is 1)."""
    one = measure_latency(model, data, device, 1, warmup, repeats, **kwargs)
    many = one if batch_size == 1 else measure_latency(model, data, device, batch_size, warmup, repeats, **kwargs)
    return LatencyReport(str(torch.device(device)), one, batch_size, many)
