"""Built-in evaluator: one-shot estimation with the shared supernet weights."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Iterator

import torch
from torch import nn

import nasframe
from nasframe import ArchLike, Feedback, Key

if TYPE_CHECKING:
    from nasframe import SearchContext


@contextlib.contextmanager
def batch_statistics(model: nn.Module) -> Iterator[None]:
    """Normalise with each batch's own statistics, leaving the running ones as they were.

    A single-path supernet's running BN statistics mix every architecture it trained, so they
    describe none of them; one-shot NAS evaluates with batch statistics instead.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.training, m.momentum) for m in norms]
    was_training = model.training
    model.eval()
    for m in norms:
        m.train()
        m.momentum = 0.0
    try:
        yield
    finally:
        model.train(was_training)
        for m, (training, momentum) in zip(norms, saved):
            m.train(training)
            m.momentum = momentum


class SupernetEvaluator(nasframe.Evaluator):
    """Accuracy of an architecture with the supernet's shared weights on the validation split."""

    name = "supernet"
    keys = (
        Key(
            "bn",
            "batch",
            "batch: normalise with each batch's statistics; running: the running ones",
            choices=("batch", "running"),
        ),
    )

    def evaluate(self, arch: ArchLike, ctx: SearchContext, max_batches: int | None = None) -> Feedback:
        data = ctx.data.val
        assert data is not None, "the supernet evaluator needs a validation split"
        model = ctx.supernet
        mode = batch_statistics(model) if self.config["bn"] == "batch" else _eval_mode(model)
        meter = nasframe.ClassificationMeter(ctx.device)
        with mode, torch.no_grad():
            for i, (x, y) in enumerate(data.epoch(None)):
                if max_batches is not None and i >= max_batches:
                    break
                loss, logits = ctx.forward_loss((x, y), arch)
                meter.update(loss, logits, y)
        result = meter.read(ctx.world)  # every rank validated its shard
        return Feedback(
            accuracy=result.accuracy, loss=result.loss, epoch=ctx.epoch, step=ctx.step, images=result.images
        )


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


@nasframe.hookimpl
def register_evaluators(register: Any) -> None:
    register(SupernetEvaluator)
