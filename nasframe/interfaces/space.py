"""The SearchSpace interface: named discrete decisions, a weight-sharing supernet, child networks."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

import torch
from torch import nn

from nasframe.interfaces.errors import ArchError
from nasframe.interfaces.keys import Configurable

Arch = dict[str, int]
"""A discrete architecture: decision name -> index of the chosen choice."""

Relaxed = torch.Tensor
"""A relaxed architecture: weights over choices, shape [num_decisions, max_choices], rows in
``space.decisions`` order (DARTS mixed ops)."""

ArchLike = Arch | Relaxed


@dataclass(frozen=True)
class Decision:
    """One discrete choice the search makes: which op on an edge, which block at a position."""

    name: str
    choices: tuple[str, ...]


@dataclass(frozen=True)
class DataInfo:
    """What a space needs to know of the data set to size its networks."""

    name: str
    num_classes: int
    image_size: int
    channels: int = 3


@dataclass(frozen=True)
class Cost:
    """The price of one architecture's network."""

    params: int
    flops: int


@dataclass(frozen=True)
class Block:
    """A module and the shape of one input to it (no batch dimension): a unit a latency lookup table times."""

    module: nn.Module
    input_shape: tuple[int, ...]


@dataclass(frozen=True)
class Blocks:
    """A network cut into parts whose latencies add up: what every architecture runs, and each choice's own blocks.

    ``choices[d][c]`` are the blocks choice ``c`` of decision ``d`` adds (empty: it costs nothing,
    like ``skip``).
    """

    fixed: tuple[Block, ...]
    choices: tuple[tuple[tuple[Block, ...], ...], ...]


@dataclass(frozen=True)
class ChildExtras:
    """What training a space's child network from scratch adds to cross-entropy on its logits.

    ``auxiliary_weight`` > 0: in train mode the child's forward returns ``(logits, auxiliary_logits)``
    and the auxiliary loss is added with this weight. ``drop_path`` > 0: the engine sets the child's
    ``drop_path_prob`` attribute to ``drop_path`` times the fraction of training done, every epoch
    (DARTS's linear schedule).
    """

    auxiliary_weight: float = 0.0
    drop_path: float = 0.0


@dataclass(frozen=True)
class CellDrawing:
    """One cell as a graph to draw: ``inputs`` on the left, ``nodes`` in between, ``output`` on the right.

    ``edges`` are ``(source, target, op)`` between those names; ``concat`` draws dashed edges from every
    intermediate node to the output (a DARTS cell concatenates its nodes).
    """

    title: str
    inputs: tuple[str, ...]
    nodes: tuple[str, ...]
    output: str
    edges: tuple[tuple[str, str, str], ...]
    concat: bool = False


@dataclass(frozen=True)
class StripDrawing:
    """A network as a strip of blocks: ``(label, shade)`` per block, ``shade`` None for a hollow (skipped) block,
    else a number in [0, 1] (darker is bigger: a larger kernel, say)."""

    title: str
    blocks: tuple[tuple[str, float | None], ...]


Drawing = CellDrawing | StripDrawing


class Supernet(nn.Module):
    """A weight-sharing network whose forward takes the architecture to run.

    ``forward(x, arch, gates, probe)``: with an Arch, ``gates`` (optional, ``[num_decisions]``)
    multiplies the output of each decision's chosen path by its gate, so ``d loss / d gates`` is how
    much the loss depends on each path (ProxylessNAS's binary gates); values are unchanged at gates
    of 1. With ``probe`` (an Arch: a second choice per decision), ``gates`` is ``[num_decisions, 2]``:
    column 0 gates the chosen path, column 1 the probe's path, which runs without a graph through
    its own weights and is added (at a gate of 0 values are unchanged), so ``d loss / d gates[:, 1]``
    is how much the loss depends on the probe path too. A choice without an output of its own
    (``skip``, ``none``) ignores its gate, and a decision whose chosen path has none gets no probe term.
    """

    def forward(
        self, x: torch.Tensor, arch: ArchLike, gates: torch.Tensor | None = None, probe: Arch | None = None
    ) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError


class SearchSpace(Configurable, ABC):
    """A set of named decisions with candidate choices, and the networks they build.

    ``keys`` declares the ``space.*`` settings it reads (``nasframe.Key``: type, range, default, help).
    """

    name: ClassVar[str] = ""
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    """Per preset (``paper``, ``tiny``), dotted config overrides: the space's search setting.

    A key ``"<preset>/<dataset>"`` (``"paper/imagenet"``) adds its overrides on top when the run's
    ``data.dataset`` is that data set; a key ``"<preset>@<strategy>"`` (``"paper@darts"``) adds its
    overrides on top of the strategy's own preset when that strategy searches this space (a benchmark's
    recipe per strategy); keys the run's schema does not hold are left out."""
    train_presets: ClassVar[dict[str, dict[str, Any]]] = {}
    """Per preset (and ``"<preset>/<dataset>"``), dotted config overrides for training from scratch."""

    default: ClassVar[bool] = False
    """The space a command searches when ``--space`` is not given (exactly one registered space says so)."""
    shortcuts: ClassVar[frozenset[str]] = frozenset()
    """Names of the choices that are parameter-free identity shortcuts (``skip_connect``): the share of
    weight on them is the skip-share diagnostic of DARTS's collapse."""

    published_dir: ClassVar[Path | None] = None
    """Folder of the architectures papers published in this space, shipped with it: ``NAME.json`` is an
    arch.json with a ``published`` record (``paper``, ``source``, and ``reported``: per setting, its
    ``dataset``, the ``config`` overrides of the paper's network, and the paper's figures)."""

    @classmethod
    def published(cls) -> dict[str, dict[str, Any]]:
        """The shipped architectures by name (``nasframe train --arch NAME``), each as its arch.json."""
        if cls.published_dir is None:
            return {}
        return {path.stem: json.loads(path.read_text()) for path in sorted(cls.published_dir.glob("*.json"))}

    def __init__(self, config: Mapping[str, Any], data: DataInfo) -> None:
        self.config = self.checked_config(config, "space")
        self.data = data

    @property
    @abstractmethod
    def decisions(self) -> tuple[Decision, ...]:
        """The decisions in a fixed order: the row order of every per-decision tensor."""

    @property
    def max_choices(self) -> int:
        return max(len(d.choices) for d in self.decisions)

    @property
    def choice_mask(self) -> torch.Tensor:
        """Bool [num_decisions, max_choices]: which entries of a per-decision tensor are real choices."""
        mask = torch.zeros(len(self.decisions), self.max_choices, dtype=torch.bool)
        for i, d in enumerate(self.decisions):
            mask[i, : len(d.choices)] = True
        return mask

    @abstractmethod
    def build_supernet(self) -> Supernet:
        """The search supernet: single-path forward for an Arch, mixed forward for Relaxed weights."""

    @abstractmethod
    def build_child(self, arch: Arch) -> nn.Module:
        """A standalone network of ``arch`` as it is trained from scratch (``nasframe train``)."""

    @abstractmethod
    def derive(self, scores: Mapping[str, torch.Tensor], generator: torch.Generator | None = None) -> Arch:
        """Turn per-decision scores over choices into the final discrete architecture.

        Equal scores are a draw from ``generator`` (a search passes its strategy generator, see
        ``nasframe.ranked_choices``), so an undecided distribution does not return its first choices.
        """

    @abstractmethod
    def arch_to_json(self, arch: Arch) -> dict[str, Any]:
        """The arch.json form, readable by the code of the space's original papers."""

    @abstractmethod
    def arch_from_json(self, obj: Any) -> Arch:
        """Parse arch.json; raise ``ArchError`` naming what is wrong."""

    @classmethod
    def arch_from_text(cls, text: str) -> dict[str, Any] | None:
        """The arch.json of an architecture written in the space's own notation (a benchmark's cell string,
        ``nasframe train --arch '<string>'``); None when ``text`` is not in it. Raise ``ArchError`` for a string
        that is clearly meant for this space but wrong (it names what is wrong)."""
        return None

    @classmethod
    def arch_config(cls, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Dotted ``space.*`` settings an arch.json implies (training it needs the space it was searched in)."""
        return {}

    def child_extras(self) -> ChildExtras:
        """What training this space's child adds to plain cross-entropy (auxiliary head, drop-path): none by default."""
        return ChildExtras()

    def drawing(self, arch: Arch) -> tuple[Drawing, ...]:
        """``arch`` as the panels of a picture (``report --plot``, ``nasframe export``); empty: this space does not draw."""
        return ()

    def ground_truth(self, arch: Arch) -> dict[str, Any] | None:
        """Published figures of ``arch``'s network trained to convergence (a tabular benchmark), or None.

        The record: per data set (named as ``data.dataset`` names it where nasframe loads it, e.g.
        ``cifar10``) the published test accuracy in %, ``regret_<data set>`` (the table's best minus
        this one), and ``source`` (the benchmark and how to cite it). It scores what a search returned;
        a strategy never sees it. A space without a table returns None: the record is then absent,
        never made up.
        """
        return None

    def references(self) -> dict[str, Arch]:
        """Architectures a study shows beside its results as reference rows (a table's best, a known collapse)."""
        return {}

    def cost_blocks(self) -> Blocks | None:
        """The child networks cut into blocks whose costs add up (latency lookup tables, per-choice counts); None: cannot say."""
        return None

    def sample(self, generator: torch.Generator) -> Arch:
        """A uniform draw over every decision's choices (the single-path training distribution)."""
        return {d.name: int(torch.randint(len(d.choices), (), generator=generator)) for d in self.decisions}

    def sample_final(self, generator: torch.Generator) -> Arch:
        """A uniform draw over the architectures ``derive`` can return (random search candidates)."""
        return self.sample(generator)

    def scores_from_tensor(self, tensor: torch.Tensor) -> dict[str, torch.Tensor]:
        """Rows of a [num_decisions, max_choices] tensor as the mapping ``derive`` takes."""
        return {d.name: tensor[i, : len(d.choices)] for i, d in enumerate(self.decisions)}

    def choice_names(self, arch: Arch) -> dict[str, str]:
        """Decision name -> chosen choice name, for logs and events."""
        return {d.name: d.choices[arch[d.name]] for d in self.decisions}

    def check_arch(self, arch: Mapping[str, int]) -> Arch:
        """Validate a decision -> index mapping against this space."""
        names = {d.name for d in self.decisions}
        unknown = sorted(set(arch) - names)
        if unknown:
            raise ArchError(f"unknown decisions for space {self.name!r}: {', '.join(unknown)}")
        out: Arch = {}
        for d in self.decisions:
            if d.name not in arch:
                raise ArchError(f"decision {d.name!r} of space {self.name!r} has no choice")
            i = arch[d.name]
            if not isinstance(i, int) or not 0 <= i < len(d.choices):
                raise ArchError(f"decision {d.name!r}: choice {i!r} is not in 0..{len(d.choices) - 1}")
            out[d.name] = i
        return out


def choice_indices(arch: Any, names: Sequence[str], num_choices: int, space: str) -> list[int]:
    """A supernet's discrete ``arch`` argument as one choice index per decision, in ``names``' order, checked.

    Supernets whose decisions share one list of ``num_choices`` choices (cell spaces) take an arch as a
    decision -> index mapping or as a 1-D integer tensor in decision order; a wrong shape, a missing decision
    or an index out of range is an ``ArchError`` naming it, before any layer runs.
    """
    if isinstance(arch, torch.Tensor):
        if arch.dim() != 1 or arch.numel() != len(names):
            raise ArchError(f"an integer arch tensor must have shape [{len(names)}], got {list(arch.shape)}")
        choice = [int(k) for k in arch.tolist()]
    elif isinstance(arch, Mapping):
        try:
            choice = [arch[name] for name in names]
        except KeyError as exc:
            raise ArchError(f"decision {exc.args[0]!r} of space {space!r} has no choice") from None
    else:
        raise ArchError(
            f"an arch of space {space!r} is a dict of choices or a tensor of weights, got {type(arch).__name__}"
        )
    for name, k in zip(names, choice):
        if not 0 <= k < num_choices:
            raise ArchError(f"decision {name!r}: choice {k!r} is not in 0..{num_choices - 1}")
    return choice
