"""The search engine: data, device, epochs, RNG and the supernet training step; strategies plug in."""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from nasframe.checkpoint import Checkpoint
from nasframe.data import Batch, DataModule, build_data
from nasframe.device import autocast, prepare, resolve_device
from nasframe.distributed import World, device_for
from nasframe.evaluator import Evaluator
from nasframe.loop import Job, Progress, stream_seed
from nasframe.measure import count_params, describe_network
from nasframe.registry import Registry, get_registry
from nasframe.rundir import RunDir
from nasframe.space import Arch, ArchLike, SearchSpace, Supernet
from nasframe.strategy import Feedback, Strategy


HALF = (torch.float16, torch.bfloat16)


def cosine_lr(base: float, minimum: float, fraction: float) -> float:
    """Cosine annealing from ``base`` at fraction 0 towards ``minimum`` at fraction 1 (as DARTS's scheduler)."""
    return minimum + (base - minimum) * (1 + math.cos(math.pi * fraction)) / 2


class SearchContext:
    """What the engine gives a strategy: the supernet, its optimizer, and training/evaluation steps."""

    def __init__(
        self,
        config: dict[str, Any],
        space: SearchSpace,
        supernet: Supernet,
        optimizer: torch.optim.Optimizer,
        data: DataModule,
        evaluator: Evaluator,
        device: torch.device,
        generator: torch.Generator,
        val_generator: torch.Generator,
        world: World = World(),
    ) -> None:
        self.config = config
        self.space = space
        self.supernet = supernet
        self._params = list(supernet.parameters())  # walking ~5,000 modules each step costs milliseconds
        self.optimizer = optimizer
        self.data = data
        self.evaluator = evaluator
        self.device = device
        self.generator = generator
        """The strategy's random stream (CPU); the engine seeds and checkpoints it."""
        self.val_generator = val_generator
        self.world = world
        """This process's rank in a data-parallel run (a world of 1 otherwise)."""
        self.epoch = 0
        self.step = 0
        self.loss_fn = nn.CrossEntropyLoss()
        self._reset_metrics()

    @property
    def lr(self) -> float:
        """The weight optimizer's current learning rate."""
        return float(self.optimizer.param_groups[0]["lr"])

    @property
    def steps_per_epoch(self) -> int:
        return len(self.data.train)

    def _reset_metrics(self) -> None:
        self._loss_sum = torch.zeros((), device=self.device)
        self._correct = torch.zeros((), dtype=torch.long, device=self.device)
        self._seen = 0

    def forward_loss(self, batch: Batch, arch: ArchLike, amp: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Supernet loss and logits of ``arch`` on ``batch``, with the autograd graph.

        ``amp=False`` keeps full precision on CUDA too (finite differences need it).
        """
        x, y = batch
        with autocast(self.device, {**self.config["train"], "amp": amp and self.config["train"].get("amp", True)}):
            logits = self.supernet(x, arch)
            loss = self.loss_fn(logits.float() if logits.dtype in HALF else logits, y)
        return loss, logits

    def train_weights(self, batch: Batch, arch: ArchLike) -> torch.Tensor:
        """One SGD step of the shared weights through ``arch``; metrics stay on the device."""
        if not self.supernet.training:  # evaluators restore the mode; setting it walks every module
            self.supernet.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss, logits = self.forward_loss(batch, arch)
        loss.backward()
        with_grad = [p for p in self._params if p.grad is not None]  # a single path leaves most without one
        self.world.all_reduce_gradients(with_grad)
        clip = self.config["train"].get("grad_clip")
        if clip:
            nn.utils.clip_grad_norm_(with_grad, clip)
        self.optimizer.step()
        n = batch[1].numel()
        self._loss_sum += loss.detach() * n
        self._correct += (logits.detach().argmax(1) == batch[1]).sum()
        self._seen += n
        return loss.detach()

    def next_val_batch(self) -> Batch:
        """A random validation batch of the training batch size (bilevel methods' arch step)."""
        val = self.data.val
        assert val is not None
        return val.sample(int(self.config["train"]["batch_size"]), self.val_generator)

    def evaluate(self, arch: ArchLike, max_batches: int | None = None) -> Feedback:
        """Validation feedback for ``arch`` from the configured evaluator."""
        return self.evaluator.evaluate(arch, self, max_batches)

    def epoch_metrics(self) -> dict[str, float]:
        seen_t = torch.tensor(self._seen, device=self.device)
        self.world.all_reduce_sum(self._loss_sum, self._correct, seen_t)
        seen = max(int(seen_t), 1)
        out = {
            "train_loss": float(self._loss_sum) / seen,
            "train_accuracy": int(self._correct) / seen,
            "images": int(seen_t),
        }
        self._reset_metrics()
        return out


class SupernetJob(Job):
    """Trains a space's supernet with the engine's step: the base of searches and supernet studies."""

    def __init__(self, config: dict[str, Any], registry: Registry | None = None) -> None:
        super().__init__(config)
        self.registry = registry or get_registry()
        self.space_cls = self.registry.space(config["space"]["name"])
        self.evaluator_cls = self.registry.evaluator(config["evaluator"]["name"])

    def describe(self) -> dict[str, Any]:
        return {"space": self.space_cls.name}

    def setup(self) -> None:
        cfg = self.config
        self.device = device_for(self.world, resolve_device(cfg["device"]))
        prepare(self.device)
        seed = int(cfg["seed"])
        self.generators = {
            "data": torch.Generator().manual_seed(stream_seed(seed, "data")),
            "strategy": torch.Generator().manual_seed(stream_seed(seed, "strategy")),
            "val": torch.Generator().manual_seed(stream_seed(seed, "val")),
        }
        self.data = build_data(cfg, self.device, purpose="search", world=self.world)
        space_cfg = {k: v for k, v in cfg["space"].items() if k != "name"}
        self.space = self.space_cls(space_cfg, self.data.info)
        self.supernet = self.space.build_supernet().to(self.device)
        self.world.broadcast_module(self.supernet)
        if self.device.type == "cuda" and cfg["train"].get("channels_last"):
            self.supernet = self.supernet.to(memory_format=torch.channels_last)
        tc = cfg["train"]
        self.optimizer = torch.optim.SGD(
            self.supernet.parameters(), lr=tc["lr"], momentum=tc["momentum"], weight_decay=tc["weight_decay"]
        )
        evaluator_cfg = {k: v for k, v in cfg["evaluator"].items() if k != "name"}
        self.evaluator = self.evaluator_cls(evaluator_cfg)
        self.ctx = SearchContext(
            cfg, self.space, self.supernet, self.optimizer, self.data, self.evaluator, self.device,
            self.generators["strategy"], self.generators["val"], self.world,
        )
        self.supernet_params = count_params(self.supernet)

    def start_epoch(self, progress: Progress) -> float:
        """Set this epoch's learning rate (cosine over the budget) and return it."""
        tc = self.config["train"]
        lr = cosine_lr(tc["lr"], tc["lr_min"], progress.fraction)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.ctx.epoch = progress.epoch
        return lr

    def save_state(self, ckpt: Checkpoint) -> None:
        ckpt.put_module("supernet", self.supernet.state_dict())
        ckpt.put_nested("optimizer", self.optimizer.state_dict())
        ckpt.meta["step"] = self.ctx.step

    def load_state(self, ckpt: Checkpoint) -> None:
        from nasframe.errors import CheckpointError

        result = self.supernet.load_state_dict(ckpt.section("supernet"), strict=False)
        if result.missing_keys or result.unexpected_keys:
            raise CheckpointError(
                f"checkpoint supernet tensors do not match this space: missing {result.missing_keys[:3]}, "
                f"unexpected {result.unexpected_keys[:3]}"
            )
        self.optimizer.load_state_dict(ckpt.nested("optimizer"))
        self.ctx.step = int(ckpt.meta.get("step", 0))


class SearchJob(SupernetJob):
    """One search: a strategy training a space's supernet under the engine's budget."""

    kind = "search"

    def __init__(self, config: dict[str, Any], registry: Registry | None = None) -> None:
        super().__init__(config, registry)
        self.strategy_cls = self.registry.strategy(config["strategy"]["name"])

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "strategy": self.strategy_cls.name}

    def setup(self) -> None:
        super().setup()
        strategy_cfg = {k: v for k, v in self.config["strategy"].items() if k != "name"}
        self.strategy: Strategy = self.strategy_cls(strategy_cfg)
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
                record["arch"] = self.space.describe(arch)
        record.update(strategy.metrics())
        return record

    def save_state(self, ckpt: Checkpoint) -> None:
        super().save_state(ckpt)
        ckpt.put_nested("strategy", self.strategy.state_dict())

    def load_state(self, ckpt: Checkpoint) -> None:
        super().load_state(ckpt)
        self.strategy.load_state_dict(ckpt.nested("strategy"))

    def finish(self, rundir: RunDir, events: list[dict[str, Any]], elapsed: float) -> dict[str, Any]:
        from nasframe.measure import peak_memory_bytes

        arch: Arch = self.strategy.final()
        self.space.check_arch(arch)  # validates; ``arch`` keeps the space's own key order (genotype order)
        arch_json = self.space.arch_to_json(arch)
        rundir.write_json(rundir.arch, arch_json)
        feedback = self.ctx.evaluate(arch)
        network = describe_network(self.space.build_child(arch), self.space.data, self.device)
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
            "images_per_second": round(images / elapsed, 2) if elapsed else None,
            "peak_memory_bytes": peak_memory_bytes(self.device),
            "budget": {"epochs": self.num_epochs, "seconds": self.config["budget"].get("seconds")},
        }
