"""Hardware budgets every strategy honours: which architectures fit, drawing and deriving inside, the final check."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import torch

from nasframe.interfaces.cost_model import CostModel, CostTable, CostTerm
from nasframe.interfaces.errors import ConfigError, NasframeError
from nasframe.interfaces.space import Arch, SearchSpace
from nasframe.measure.cost import arch_cost
from nasframe.measure.counted_tables import counted_tables
from nasframe.registry import Registry

LIMITS = (
    ("max_flops", "flops", 1.0, "multiply-adds"),
    ("max_params", "params", 1.0, "parameters"),
    ("max_latency_ms", "latency_us", 1000.0, "ms of predicted latency"),
)
"""constraint key, cost-table metric, table units per config unit, what the value counts."""
TIE_JITTER = 1e-12
"""Random offsets that order exactly tied scores (scaled to [-1, 1]) before the budget's penalty trades against them."""


def latency_model(
    config: Mapping[str, Any], space: SearchSpace, device: torch.device, registry: Registry
) -> CostModel | None:
    """The run's ``cost.model`` fitted to ``space`` on ``device``; None when it cannot predict for this space."""
    cost = config["cost"]
    model = registry.cost_model(cost["model"])(cost)
    return model if model.fit(space, device, int(cost["batch_size"])) else None


def latency_report(model: CostModel | None, arch: Arch, measured_ms: float) -> dict[str, float | None]:
    """The predicted latency beside the measured one, and the relative error (predicted / measured - 1)."""
    if model is None:
        return {"predicted_latency_ms": None, "latency_error": None}
    predicted = model.predict_us(arch) / 1000
    return {
        "predicted_latency_ms": round(predicted, 3),
        "latency_error": round(predicted / measured_ms - 1, 4) if measured_ms else None,
    }


def _show(metric: str, value: float) -> str:
    return f"{value / 1000:,.3f}" if metric == "latency_us" else f"{value:,.0f}"


class Budget:
    """The ``constraint.*`` limits of a run over one space: feasibility by the cost tables, exact counts at the end.

    Latency is the cost model's prediction (a lookup table adds up exactly what it predicts);
    multiply-adds and parameters come from the counters, through tables that are exact for
    additive spaces and checked by counting the final architecture's network.
    """

    def __init__(self, config: Mapping[str, Any], space: SearchSpace, latency: Callable[[], CostModel | None]) -> None:
        self.space = space
        constraint = config["constraint"]
        self.limits: dict[str, float] = {}
        self.labels: dict[str, tuple[str, str]] = {}
        for key, metric, scale, what in LIMITS:
            value = constraint.get(key)
            if value is None:
                continue
            self.limits[metric] = float(value) * scale
            self.labels[metric] = (f"constraint.{key}={value:g}", what)
        self.tries: int = constraint.get("tries", 1000)
        self.tables: dict[str, CostTable] = {}
        if {"flops", "params"} & set(self.limits):
            counted = counted_tables(space)
            self.tables.update({m: counted[m] for m in ("flops", "params") if m in self.limits})
        if "latency_us" in self.limits:
            model = latency()
            table = model.table() if model is not None else None
            if table is None:
                raise ConfigError(
                    f"constraint.max_latency_ms needs per-choice latencies for space {space.name!r}, and the cost "
                    f"model {config['cost']['model']!r} has none for it; budget multiply-adds (constraint.max_flops) instead"
                )
            self.tables["latency_us"] = table
        if self.limits:
            self._check_reachable()

    @property
    def active(self) -> bool:
        return bool(self.limits)

    def describe(self) -> str:
        return ", ".join(label for label, _ in self.labels.values())

    def costs(self, arch: Arch) -> dict[str, float]:
        """The limited costs of ``arch`` by the tables (latency in µs)."""
        return {m: t.predict(self.space, arch) for m, t in self.tables.items()}

    def feasible(self, arch: Arch) -> bool:
        return all(value <= self.limits[m] for m, value in self.costs(arch).items())

    def sample(self, draw: Callable[[], Arch]) -> Arch:
        """The first of up to ``constraint.tries`` draws that fits (rejection sampling)."""
        for _ in range(self.tries):
            arch = draw()
            if self.feasible(arch):
                return arch
        raise NasframeError(
            f"none of {self.tries} sampled architectures fits {self.describe()} (the smallest reachable: "
            f"{self._cheapest_text()}); raise the limit or constraint.tries"
        )

    def _penalty(self) -> torch.Tensor:
        """Every limited cost per choice as a share of its limit, summed: what deriving trades scores against."""
        return sum(t.values / self.limits[m] for m, t in self.tables.items())  # type: ignore[return-value]

    def _derive(self, scores: torch.Tensor) -> Arch:
        return self.space.derive(self.space.scores_from_tensor(scores))

    def cheapest(self) -> Arch:
        """The architecture ``derive`` returns when scores are minus the penalty: the smallest reachable one."""
        return self._derive(-self._penalty())

    def derive(self, scores: torch.Tensor, generator: torch.Generator | None = None) -> Arch:
        """``space.derive`` of ``scores``; when that does not fit, of ``scores - λ·penalty`` with the smallest fitting λ found.

        Exact ties of ``scores`` are a draw from ``generator``, as without a budget. λ doubles until the
        derived architecture fits, then 40 bisection steps shrink it, so the result keeps as much of the
        scores' preference as the budget allows.
        """
        arch = self.space.derive(self.space.scores_from_tensor(scores), generator)
        if not self.limits or self.feasible(arch):
            return arch
        s = scores.detach().to(torch.float64).cpu()
        s = s / s.abs().max().clamp_min(1e-12)
        if generator is not None:  # ties stay a seeded draw, so an undecided distribution is not always the cheapest
            s = s + TIE_JITTER * torch.rand(s.shape, generator=generator, dtype=torch.float64)
        penalty = self._penalty()
        penalty = penalty / penalty.abs().max().clamp_min(1e-12)
        hi = 1e-3
        while not self.feasible(self._derive(s - hi * penalty)):
            hi *= 2
            if hi > 1e12:
                return self.cheapest()  # the penalty alone decides; _check_reachable made sure it fits
        lo = 0.0
        for _ in range(40):
            mid = (lo + hi) / 2
            if self.feasible(self._derive(s - mid * penalty)):
                hi = mid
            else:
                lo = mid
        return self._derive(s - hi * penalty)

    def terms(self, weights: torch.Tensor) -> list[CostTerm]:
        """Each limited cost's expectation under ``weights`` ([num_decisions, max_choices]) and its limit."""
        return [CostTerm(m, t.expected(weights), self.limits[m]) for m, t in self.tables.items()]

    def state_dict(self) -> dict[str, Any]:
        """The measured latency table, so a resumed run keeps the predictions it started with."""
        table = self.tables.get("latency_us")
        return {} if table is None else {"latency_us": {"base": table.base, "values": table.values.clone()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if "latency_us" in state and "latency_us" in self.tables:
            saved = state["latency_us"]
            self.tables["latency_us"] = CostTable("latency_us", float(saved["base"]), torch.as_tensor(saved["values"]))

    def check(self, arch: Arch) -> None:
        """The final architecture, counted exactly (latency: predicted), must fit; one line naming the excess otherwise."""
        if not self.limits:
            return
        exact = self.costs(arch)
        if {"flops", "params"} & set(self.limits):
            cost = arch_cost(self.space, arch)
            exact.update({m: float(getattr(cost, m)) for m in ("flops", "params") if m in self.limits})
        over = [
            f"{_show(m, v)} {self.labels[m][1]} (over {self.labels[m][0]})"
            for m, v in exact.items()
            if v > self.limits[m]
        ]
        if over:
            raise NasframeError(
                f"the final architecture has {'; '.join(over)}: this space's costs do not add up per choice"
            )

    def _cheapest_text(self) -> str:
        costs = self.costs(self.cheapest())
        return ", ".join(f"{_show(m, v)} {self.labels[m][1]}" for m, v in costs.items())

    def _check_reachable(self) -> None:
        """Stop before any training when no architecture of the space fits, naming the smallest reachable value."""
        for m, table in self.tables.items():
            smallest = table.predict(self.space, self._derive(-table.values))
            if smallest > self.limits[m]:
                raise NasframeError(
                    f"{self.labels[m][0]} cannot be met: the smallest architecture of space {self.space.name!r} "
                    f"has {_show(m, smallest)} {self.labels[m][1]}"
                )
        if not self.feasible(self.cheapest()):
            raise NasframeError(
                f"{self.describe()} cannot be met together: the architecture closest to all of them "
                f"has {self._cheapest_text()}"
            )
