"""The search engine: data, device, epochs, RNG and the supernet training step; strategies plug in."""

from __future__ import annotations

import time
from typing import Any

import torch

from nasframe.config import Schema
from nasframe.engine.budget import Budget, latency_model, latency_report
from nasframe.engine.context import EngineContext
from nasframe.engine.ground_truth import benchmark_record
from nasframe.engine.loop import Job, Progress
from nasframe.engine.schedule import epoch_lr
from nasframe.interfaces.cost_model import CostModel
from nasframe.interfaces.errors import CheckpointError, ConfigError, NasframeError
from nasframe.interfaces.space import Arch, ArchLike
from nasframe.interfaces.strategy import Strategy
from nasframe.measure.cost import count_params, describe_network
from nasframe.measure.memory import peak_memory_bytes
from nasframe.registry import Registry, get_registry, own_keys
from nasframe.storage.checkpoint import Checkpoint
from nasframe.storage.run_directory import RunDir


class SupernetJob(Job):
    """Trains a space's supernet with the engine's step: the base of searches and supernet studies."""

    def __init__(self, config: dict[str, Any], registry: Registry | None = None) -> None:
        super().__init__(config)
        self.registry = registry or get_registry()
        self.space_cls = self.registry.space(config["space"]["name"])
        self.evaluator_cls = self.registry.evaluator(config["evaluator"]["name"])

    def schema(self) -> Schema:
        return Schema.of(self.space_cls, None, self.evaluator_cls)

    def identity(self) -> dict[str, Any]:
        return {"space": self.space_cls.name}

    def setup(self) -> None:
        self.start("data", "strategy", "val")
        self.data = self.registry.build_data(self.config, self.device, purpose="search", world=self.world)
        self.space = self.registry.build_space(self.config, self.data.info)
        self.supernet, self.optimizer = self.place(self.space.build_supernet())
        self.evaluator = self.evaluator_cls(own_keys(self.config["evaluator"]))
        self._latency: CostModel | None = None
        self._latency_fitted = False
        if (
            self.world.active
            and self.config["constraint"].get("max_latency_ms")
            and not self.config["cost"].get("table")
        ):
            raise ConfigError(
                "a data-parallel run under constraint.max_latency_ms needs one latency table for every "
                "rank: measure it with `nasframe latency` and pass --set cost.table=FILE"
            )
        budget = Budget(self.config, self.space, self.latency_model)
        self.ctx = EngineContext(
            self.config,
            self.space,
            self.supernet,
            self.optimizer,
            self.data,
            self.evaluator,
            self.device,
            self.generators["strategy"],
            self.generators["val"],
            self.world,
            budget,
        )
        self.supernet_params = count_params(self.supernet)

    def latency_model(self) -> CostModel | None:
        """The run's latency predictor, fitted on first use (a lookup table measures the space's blocks then)."""
        if not self._latency_fitted:
            self._latency = latency_model(self.config, self.space, self.device, self.registry)
            self._latency_fitted = True
        return self._latency

    def start_epoch(self, progress: Progress) -> float:
        """Set this epoch's learning rate (``train.schedule`` over the budget) and return it."""
        lr = epoch_lr(self.config["train"], progress.epoch, progress.fraction)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.ctx.epoch = progress.epoch
        return lr

    def save_state(self, ckpt: Checkpoint) -> None:
        ckpt.put_module("supernet", self.supernet.state_dict())
        ckpt.put_nested("optimizer", self.optimizer.state_dict())
        ckpt.put_nested("budget", self.ctx.budget.state_dict())
        ckpt.meta["step"] = self.ctx.step

    def load_state(self, ckpt: Checkpoint) -> None:
        result = self.supernet.load_state_dict(ckpt.section("supernet"), strict=False)
        if result.missing_keys or result.unexpected_keys:
            raise CheckpointError(
                f"checkpoint supernet tensors do not match this space: missing {result.missing_keys[:3]}, "
                f"unexpected {result.unexpected_keys[:3]}"
            )
        self.optimizer.load_state_dict(ckpt.nested("optimizer"))
        self.ctx.budget.load_state_dict(ckpt.nested("budget"))
        self.ctx.step = int(ckpt.meta.get("step", 0))


class SearchJob(SupernetJob):
    """One search: a strategy training a space's supernet under the engine's budget."""

    kind = "search"

    def __init__(self, config: dict[str, Any], registry: Registry | None = None) -> None:
        super().__init__(config, registry)
        self.strategy_cls = self.registry.strategy(config["strategy"]["name"])

    def schema(self) -> Schema:
        return Schema.of(self.space_cls, self.strategy_cls, self.evaluator_cls)

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "strategy": self.strategy_cls.name}

    def setup(self) -> None:
        super().setup()
        self.strategy: Strategy = self.strategy_cls(own_keys(self.config["strategy"]))
        self.strategy.space = self.space
        self.strategy.ctx = self.ctx
        self.strategy.setup(self.space, self.ctx)

    def train_epoch(self, progress: Progress) -> dict[str, Any]:
        ctx, strategy = self.ctx, self.strategy
        lr = self.start_epoch(progress)
        steps = len(self.data.train)
        arch: ArchLike | None = None
        per_epoch = strategy.sample_every == "epoch"
        step_feedback = strategy.feedback_every == "step"
        for i, batch in enumerate(self.data.train.epoch(self.generators["data"])):
            if arch is None or not per_epoch:
                arch = strategy.ask()
                if isinstance(arch, dict) and not ctx.feasible(arch):
                    raise NasframeError(
                        f"strategy {strategy.name!r} asked to train an architecture outside {ctx.budget.describe()}; "
                        "a strategy draws inside the budget with ctx.sample_feasible (docs/plugins.md)"
                    )
            strategy.train_step(batch, arch)
            ctx.step += 1
            if step_feedback:
                strategy.tell(arch, ctx.evaluate(arch, max_batches=1))
            assert self.run is not None
            self.run.step_done(i + 1, steps)
        self.world.average_buffers(self.supernet)
        metrics = ctx.epoch_metrics()
        record: dict[str, Any] = {**metrics, "lr": lr}
        if arch is not None:
            feedback = ctx.evaluate(arch)
            if not step_feedback:
                strategy.tell(arch, feedback)
            record["val_loss"] = feedback.loss
            record["val_accuracy"] = feedback.accuracy
            if isinstance(arch, dict):
                record["arch"] = self.space.choice_names(arch)
        record.update(strategy.metrics())
        return record

    def save_state(self, ckpt: Checkpoint) -> None:
        super().save_state(ckpt)
        ckpt.put_nested("strategy", self.strategy.state_dict())

    def load_state(self, ckpt: Checkpoint) -> None:
        super().load_state(ckpt)
        self.strategy.load_state_dict(ckpt.nested("strategy"))

    def finish(self, rundir: RunDir, events: list[dict[str, Any]], elapsed: float) -> dict[str, Any]:
        start = time.perf_counter()
        arch: Arch = (
            self.strategy.final()
        )  # may draw from the strategy generator (derive's ties): after the last checkpoint
        selection_seconds = time.perf_counter() - start  # random search screens its candidates here
        self.space.check_arch(arch)  # validates; ``arch`` keeps the space's own key order (genotype order)
        budget = self.ctx.budget
        projected = not budget.feasible(arch)
        if projected:  # a strategy that ignored the budget: the nearest derivable architecture inside it
            arch = budget.derive(
                torch.nn.functional.one_hot(
                    torch.tensor([arch[d.name] for d in self.space.decisions]), self.space.max_choices
                ).double()
            )
        budget.check(arch)
        arch_json = self.space.arch_to_json(arch)
        rundir.write_json(rundir.arch, arch_json)
        feedback = self.ctx.evaluate(arch)
        network = describe_network(
            self.space.build_child(arch), self.space.data, self.device, int(self.config["cost"]["batch_size"])
        )
        network.update(latency_report(self.latency_model(), arch, network["latency_ms"]))
        images = sum(e.get("images_per_second", 0) * e.get("seconds", 0) for e in events)
        return {
            "space": self.space.name,
            "strategy": self.strategy.name,
            "seed": self.config["seed"],
            "arch": arch_json,
            "val_accuracy": feedback.accuracy,
            "val_loss": feedback.loss,
            **network,
            "supernet_params": self.supernet_params,
            "epochs": len(events),
            "search_seconds": round(elapsed, 3),
            "selection_seconds": round(selection_seconds, 3),
            "images_per_second": round(images / elapsed, 2) if elapsed else None,
            "peak_memory_bytes": peak_memory_bytes(self.device),
            "budget": {"epochs": self.num_epochs, "seconds": self.config["budget"].get("seconds")},
            "strategy_metrics": self.strategy.metrics(),
            "constraint": {
                **{k: v for k, v in self.config["constraint"].items() if k != "tries"},
                "projected": projected,
            },
            **benchmark_record(self.space, arch),
        }
