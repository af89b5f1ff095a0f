"""Regularized evolution (Real et al., AAAI 2019) scored with the shared supernet weights.

A genome is the list of choice indices of an architecture, one per decision in
``space.decisions`` order: plain JSON, so the population and the history checkpoint as they are.
Every genome in the population is *derivable* (a member of what ``space.derive`` returns, e.g. a
DARTS genotype with exactly two inputs per node), so any of them can be the final architecture.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

import nasframe

Genome = list[int]


class RegularizedEvolution(nasframe.Strategy):
    """Tournament selection, one-decision mutation and aging, over architectures scored one-shot.

    Training: every step a uniform single path (``space.sample``), as random search with weight
    sharing, so the shared weights are a fair estimator for every candidate. Search: at the end of
    each epoch the population is re-scored with the updated weights, then ``cycles`` evolution
    cycles run; each scores its child on the first ``eval_batches`` validation batches (the same
    batches for every architecture). Result: the ``top`` best genomes of the history by their latest
    score, re-scored on the whole validation split; the best of those wins.
    """

    name = "evolution"
    keys = (
        nasframe.Key("population", 20, "genomes alive at once", low=2),
        nasframe.Key("sample", 5, "tournament size: genomes drawn to pick a parent", low=1),
        nasframe.Key("cycles", 20, "mutations (children) per epoch", low=0),
        nasframe.Key("eval_batches", 2, "validation batches each child is scored on", low=1),
        nasframe.Key("top", 5, "best genomes of the history re-scored on the whole split at the end", low=1),
    )
    presets = {
        "tiny": {
            "strategy.population": 4,
            "strategy.sample": 2,
            "strategy.cycles": 4,
            "strategy.eval_batches": 1,
            "strategy.top": 2,
        }
    }

    population: list[list[Any]]
    """``[genome, accuracy]`` pairs, oldest first: aging removes index 0."""
    history: list[list[Any]]
    """Every evaluation of the search, in order: ``[genome, accuracy, epoch]``."""

    def setup(self, space: nasframe.SearchSpace, ctx: Any) -> None:
        if self.config["sample"] > self.config["population"]:
            raise nasframe.ConfigError(
                f"strategy.sample ({self.config['sample']}) cannot exceed strategy.population "
                f"({self.config['population']})"
            )
        self.population = []
        self.history = []

    # -- genomes ------------------------------------------------------------------------------
    def genome(self, arch: Mapping[str, int]) -> Genome:
        return [int(arch[d.name]) for d in self.space.decisions]

    def arch(self, genome: Genome) -> nasframe.Arch:
        return {d.name: int(i) for d, i in zip(self.space.decisions, genome)}

    def mutate(self, parent: Genome) -> Genome:
        """Change one decision to a different choice, then project back onto the derivable archs.

        The projection is ``space.derive`` over scores that keep the mutated choice (2), the
        parent's other choices (1) and break every other tie at random (< 0.5). In the MBConv space
        that is the mutated parent itself; in the DARTS space a node that gained a third input drops
        one of its other two at random, and a node that lost one gains a random other input, so
        every node keeps exactly two. The few mutations no genotype can honour (node 0 has only
        two inputs, so neither can become ``none``), and those outside the run's budget
        (``ctx.feasible``), are drawn again; after 16 misses the parent is kept.
        """
        gen = self.ctx.generator
        decisions = self.space.decisions
        mutable = [i for i, d in enumerate(decisions) if len(d.choices) > 1]
        if not mutable:
            return list(parent)
        rows = torch.arange(len(decisions))
        for _ in range(16):
            i = mutable[int(torch.randint(len(mutable), (), generator=gen))]
            n = len(decisions[i].choices)
            new = (parent[i] + 1 + int(torch.randint(n - 1, (), generator=gen))) % n
            scores = 0.5 * torch.rand(len(decisions), self.space.max_choices, generator=gen, dtype=torch.float64)
            scores[rows, torch.tensor(parent)] += 1.0
            scores[i] -= 1.5
            scores[i, new] = 2.0
            child = self.genome(self.space.derive(self.space.scores_from_tensor(scores)))
            if child != list(parent) and self.ctx.feasible(self.arch(child)):
                return child
        return list(parent)

    # -- the search -----------------------------------------------------------------------------
    def score(self, genome: Genome, epoch: int) -> float:
        accuracy = self.ctx.evaluate(self.arch(genome), max_batches=int(self.config["eval_batches"])).accuracy
        self.history.append([list(genome), accuracy, epoch])
        return accuracy

    def evolve(self, epoch: int) -> None:
        """Re-score (or create) the population with the current weights, then run the cycles."""
        gen = self.ctx.generator
        if self.population:
            genomes = [genome for genome, _ in self.population]
        else:
            draw = lambda: self.space.sample_final(gen)  # noqa: E731
            genomes = [self.genome(self.ctx.sample_feasible(draw)) for _ in range(int(self.config["population"]))]
        self.population = [[genome, self.score(genome, epoch)] for genome in genomes]
        for _ in range(int(self.config["cycles"])):
            picks = torch.randint(len(self.population), (int(self.config["sample"]),), generator=gen).tolist()
            parent = max(picks, key=lambda j: self.population[j][1])
            child = self.mutate(self.population[parent][0])
            self.population.append([child, self.score(child, epoch)])
            self.population.pop(0)

    def ask(self) -> nasframe.Arch:
        return self.ctx.sample_feasible(lambda: self.space.sample(self.ctx.generator))

    def tell(self, arch: Any, feedback: nasframe.Feedback) -> None:
        self.evolve(feedback.epoch)

    def final(self) -> nasframe.Arch:
        if not self.history:  # the budget ended before the first epoch did
            self.evolve(self.ctx.epoch)
        latest: dict[tuple[int, ...], float] = {}
        for genome, accuracy, _ in self.history:
            latest[tuple(genome)] = accuracy
        ranked = sorted(latest.items(), key=lambda item: -item[1])[: int(self.config["top"])]
        finalists = [list(genome) for genome, _ in ranked]
        scores = [self.ctx.evaluate(self.arch(genome)).accuracy for genome in finalists]
        best = max(range(len(finalists)), key=lambda j: (scores[j], -j))
        return self.arch(finalists[best])

    # -- metrics and state ----------------------------------------------------------------------
    def metrics(self) -> dict[str, Any]:
        if not self.population:
            return {}
        accuracies = [accuracy for _, accuracy in self.population]
        return {
            "population_best": max(accuracies),
            "population_mean": sum(accuracies) / len(accuracies),
            "evaluated": len(self.history),
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "population": [[list(g), a] for g, a in self.population],
            "history": [[list(g), a, e] for g, a, e in self.history],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        size = len(self.space.decisions)
        for key in ("population", "history"):
            if key not in state:
                raise nasframe.CheckpointError(f"evolution state has no {key!r}")
            for entry in state[key]:
                if len(entry[0]) != size:
                    raise nasframe.CheckpointError(
                        f"evolution state {key!r} holds a genome of {len(entry[0])} decisions; this space has {size}"
                    )
        self.population = [[[int(i) for i in g], float(a)] for g, a in state["population"]]
        self.history = [[[int(i) for i in g], float(a), int(e)] for g, a, e in state["history"]]
