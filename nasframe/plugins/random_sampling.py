"""Random search with weight sharing (Li & Talwalkar, 2019): MdeNAS with the distribution frozen at uniform."""

from __future__ import annotations

from typing import Any

import nasframe
from nasframe import Arch, Key


class RandomSampling(nasframe.Strategy):
    """Train a fresh uniform path every step; pick the best of many candidates with the shared weights."""

    name = "random"
    keys = (
        Key("candidates", 1000, "uniform architectures screened at the end of the search", low=1),
        Key("screen_batches", 2, "validation batches each candidate is screened on", low=1),
        Key("top", 10, "best screened candidates re-scored on the whole validation split", low=1),
    )
    presets = {"tiny": {"strategy.candidates": 20, "strategy.screen_batches": 1, "strategy.top": 3}}
    selection = (
        "the best of {candidates} uniform candidates by validation accuracy with the shared weights: "
        "screened on {screen_batches} validation batch(es), the top {top} re-scored on the whole split"
    )

    def ask(self) -> Arch:
        return self.ctx.sample_feasible(lambda: self.space.sample(self.ctx.generator))

    def final(self) -> Arch:
        """Screen candidates (inside the budget) on a few validation batches, re-score the best on the whole split."""
        cfg = self.config
        draw = lambda: self.space.sample_final(self.ctx.generator)  # noqa: E731
        candidates = [self.ctx.sample_feasible(draw) for _ in range(cfg["candidates"])]
        screened = [
            (self.ctx.evaluate(arch, max_batches=cfg["screen_batches"]).accuracy, i)
            for i, arch in enumerate(candidates)
        ]
        screened.sort(key=lambda t: (-t[0], t[1]))
        finalists = [candidates[i] for _, i in screened[: cfg["top"]]]
        scores = [self.ctx.evaluate(arch).accuracy for arch in finalists]
        best = max(range(len(finalists)), key=lambda i: (scores[i], -i))
        return finalists[best]


@nasframe.hookimpl
def register_strategies(register: Any) -> None:
    register(RandomSampling)
