"""The engine's SearchContext: the supernet's training step and validation, shared by every strategy."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from nasframe.engine.budget import Budget
from nasframe.engine.device import autocast
from nasframe.interfaces.context import Batch, Splits
from nasframe.interfaces.cost_model import CostTerm
from nasframe.interfaces.evaluator import Evaluator
from nasframe.interfaces.feedback import Feedback
from nasframe.interfaces.meter import ClassificationMeter
from nasframe.interfaces.space import Arch, ArchLike, SearchSpace, Supernet
from nasframe.interfaces.world import World

HALF = (torch.float16, torch.bfloat16)


class EngineContext:
    """What the engine gives a strategy (the ``nasframe.SearchContext`` protocol, implemented)."""

    def __init__(
        self,
        config: dict[str, Any],
        space: SearchSpace,
        supernet: Supernet,
        optimizer: torch.optim.Optimizer,
        data: Splits,
        evaluator: Evaluator,
        device: torch.device,
        generator: torch.Generator,
        val_generator: torch.Generator,
        world: World = World(),
        budget: Budget | None = None,
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
        self.val_generator = val_generator
        self.world = world
        self.budget = budget or Budget({"constraint": {}}, space, lambda: None)
        self.epoch = 0
        self.step = 0
        self.loss_fn = nn.CrossEntropyLoss()
        self.meter = ClassificationMeter(device)

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    @property
    def steps_per_epoch(self) -> int:
        return len(self.data.train)

    def weights(self) -> list[torch.Tensor]:
        return [p for group in self.optimizer.param_groups for p in group["params"] if p.requires_grad]

    def weight_step(self, grads: list[torch.Tensor]) -> list[torch.Tensor]:
        """SGD's rule without its side effects: gradient + weight decay · w + momentum · buffer per weight."""
        out = []
        for group in self.optimizer.param_groups:
            decay, mu = float(group.get("weight_decay", 0.0)), float(group.get("momentum", 0.0))
            for p in group["params"]:
                if not p.requires_grad:
                    continue
                step = grads[len(out)] + decay * p
                buf = self.optimizer.state.get(p, {}).get("momentum_buffer")
                out.append(step + mu * buf if buf is not None and mu else step)
        return out

    def forward_loss(
        self,
        batch: Batch,
        arch: ArchLike,
        amp: bool = True,
        gates: torch.Tensor | None = None,
        probe: Arch | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = batch
        with autocast(self.device, {**self.config["train"], "amp": amp and self.config["train"].get("amp", True)}):
            extra = () if gates is None else (gates,) if probe is None else (gates, probe)
            logits = self.supernet(x, arch, *extra)
            loss = self.loss_fn(logits.float() if logits.dtype in HALF else logits, y)
        return loss, logits

    def train_weights(self, batch: Batch, arch: ArchLike) -> torch.Tensor:
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
        self.meter.update(loss, logits, batch[1])
        return loss.detach()

    def next_val_batch(self) -> Batch:
        val = self.data.val
        assert val is not None
        return val.sample(int(self.config["train"]["batch_size"]), self.val_generator)

    def evaluate(self, arch: ArchLike, max_batches: int | None = None) -> Feedback:
        return self.evaluator.evaluate(arch, self, max_batches)

    def feasible(self, arch: Arch) -> bool:
        return self.budget.feasible(arch)

    def sample_feasible(self, draw: Callable[[], Arch]) -> Arch:
        return self.budget.sample(draw)

    def derive(self, scores: torch.Tensor) -> Arch:
        return self.budget.derive(scores, self.generator)

    def cost_terms(self, weights: torch.Tensor) -> list[CostTerm]:
        return self.budget.terms(weights)

    def epoch_metrics(self) -> dict[str, float]:
        """The epoch's training loss and accuracy over every rank; the meter starts over."""
        result = self.meter.read(self.world)
        return {"train_loss": result.loss, "train_accuracy": result.accuracy, "images": result.images}
