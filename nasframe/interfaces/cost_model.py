"""Costs an architecture has on hardware: additive per-choice tables, budgets' terms, and pluggable latency models."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import torch

from nasframe.interfaces.space import Arch, SearchSpace

METRICS = ("latency_us", "flops", "params")
"""What a cost table can hold: latency in microseconds, multiply-adds, parameters."""


@dataclass(frozen=True)
class CostTable:
    """An additive cost ``base + sum_d values[d, arch[d]]``: a budget checks it, a gradient strategy differentiates its expectation.

    ``values`` is ``[num_decisions, max_choices]`` (float64, rows in ``space.decisions`` order, 0
    outside a decision's real choices).
    """

    metric: str
    base: float
    values: torch.Tensor

    def predict(self, space: SearchSpace, arch: Arch) -> float:
        """The cost of ``arch``."""
        index = torch.tensor([[arch[d.name]] for d in space.decisions])
        return self.base + float(self.values.gather(1, index).sum())

    def expected(self, weights: torch.Tensor) -> torch.Tensor:
        """``base + sum(weights * values)``: the expected cost under per-decision distributions, differentiable in ``weights``."""
        values = self.values.to(device=weights.device, dtype=weights.dtype)
        return self.base + (weights * values).sum()


@dataclass(frozen=True)
class CostTerm:
    """One budget as a gradient strategy sees it: the expected cost of its distribution and the limit, in the table's unit."""

    metric: str
    expected: torch.Tensor
    limit: float


class CostModel(ABC):
    """Predicts an architecture's latency on a device; counting gives parameters and multiply-adds exactly, latency needs a model.

    The built-in ``lookup`` model measures every (decision, choice) block of a space once and adds
    the timings up (``nasframe latency``); a third party registers another with the
    ``register_cost_models`` hook and selects it with ``--set cost.model=NAME``.
    """

    name: ClassVar[str] = ""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config: dict[str, Any] = dict(config or {})
        """The run's ``cost`` section (``model``, ``table``, ``batch_size``)."""

    @abstractmethod
    def fit(self, space: SearchSpace, device: torch.device, batch_size: int) -> bool:
        """Measure (or load) what predictions need; False when this model cannot predict for ``space``."""

    @abstractmethod
    def predict_us(self, arch: Arch) -> float:
        """The predicted latency of ``arch``'s network, in microseconds, at the fitted device and batch size."""

    def table(self) -> CostTable | None:
        """Per-choice latencies when the prediction is additive (ProxylessNAS's expected-latency loss needs them)."""
        return None
