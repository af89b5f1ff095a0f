"""Inference latency of any network."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nasframe.interfaces.space import DataInfo
from nasframe.measure.latency import measure_latency

DATA = DataInfo("tiny", num_classes=4, image_size=16)


def tiny_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)
    )


def test_latency_is_a_positive_finite_number_of_seconds_and_keeps_the_mode():
    model = tiny_model().train()
    seconds = measure_latency(model, DATA, torch.device("cpu"), batch_size=2, warmup=1, repeats=3)
    assert math.isfinite(seconds) and 0 < seconds < 10
    assert model.training
    assert all(p.grad is None for p in model.parameters())


def test_latency_refuses_an_empty_measurement():
    with pytest.raises(ValueError):
        measure_latency(tiny_model(), DATA, "cpu", repeats=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_latency_uses_events_and_is_positive():
    seconds = measure_latency(tiny_model(), DATA, "cuda", warmup=2, repeats=5, amp=True, channels_last=True)
    assert math.isfinite(seconds) and seconds > 0
