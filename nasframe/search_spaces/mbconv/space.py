"""The MBConv search space of MdeNAS and ProxylessNAS: which MBConv block at each position of a skeleton."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from nasframe import Arch, ArchError, Block, Blocks, DataInfo, Decision, Key, SearchSpace, StripDrawing, ranked_choices

from .blocks import Choice
from .layout import (
    CHOICE_SETS,
    SKELETONS,
    VARIANTS,
    Layout,
    block_choices,
    build_layout,
    network_variant,
)
from .networks import MBConvNet, MBConvSupernet, make_block

LEGACY_SKELETON = "search"
"""The skeleton of a config or arch.json without a ``skeleton`` key: runs from before skeletons existed."""


class MBConvSpace(SearchSpace):
    """Searchable MBConv blocks on a ProxylessNAS backbone (docs/algorithms.md#mbconv-space).

    ``space.skeleton``: ``gpu`` (default; MdeNAS's Table 3 space: the 14 non-zero blocks of
    ProxylessNAS's released GPU net), ``cpu`` (the 20 of its CPU net) or ``search`` (ProxylessNAS's
    21-block search backbone after a fixed first block). A config or arch.json without the key is
    ``search``, so runs written before skeletons existed load as they were.
    ``space.variant``: ``auto`` (ImageNet data -> ``imagenet``, anything else -> ``cifar``), ``cifar``
    (32x32, total stride 8: the stem and the first downsampling stage keep stride 1) or ``imagenet``
    (224x224, total stride 32). ``space.choices``: ``mdenas`` ({3,5,7} x {1,3,6}) or ``proxyless``
    ({3,5,7} x {3,6} plus ``skip`` on stride-1 same-width blocks).
    ``space.width_mult`` scales every width (rounded to a multiple of 8, at least 8); which blocks
    have a residual and may be skipped is fixed by the widths at 1.0, so an arch fits every width.
    """

    name = "mbconv"
    shortcuts = frozenset({"skip"})
    published_dir = Path(__file__).with_name("archs")
    keys = (
        Key(
            "skeleton",
            "gpu",
            "gpu (ProxylessNAS-GPU, 14 searched blocks), cpu (20), search (the 21-block backbone)",
            choices=tuple(SKELETONS),
        ),
        Key(
            "variant",
            "auto",
            "cifar (32x32, stride 8), imagenet (224x224, stride 32), auto: by the data set",
            choices=("auto", *VARIANTS),
        ),
        Key(
            "choices",
            "mdenas",
            "block choices: mdenas ({3,5,7} x {1,3,6}) or proxyless (+ skip)",
            choices=tuple(CHOICE_SETS),
        ),
        Key("width_mult", 1.0, "scales every width (rounded to a multiple of 8)", low=0, low_open=True, high=16),
    )
    presets = {
        "paper": {
            "train.batch_size": 512,
            "train.epochs": 100,
            "train.lr_min": 0.0,
            "data.val_size": 5000,
            "data.mean": 0.5,
            "data.std": 0.5,
        },
        "tiny": {
            "space.width_mult": 0.25,
            "train.batch_size": 32,
            "train.epochs": 2,
            "data.limit": 600,
            "data.val_size": 0.5,
        },
    }
    train_presets = {
        "paper": {"train.batch_size": 96, "train.epochs": 300, "train.lr_min": 0.0},
        "paper/imagenet": {  # MdeNAS's ImageNet training, DARTS's recipe: SGD 0.1 x0.97 per epoch, smoothing 0.1
            "train.batch_size": 128,
            "train.epochs": 250,
            "train.lr": 0.1,
            "train.schedule": "exponential",
            "train.gamma": 0.97,
            "train.weight_decay": 3e-5,
            "train.label_smoothing": 0.1,
            "data.mean": None,
            "data.std": None,
        },
        "tiny": {
            "space.width_mult": 0.25,
            "train.batch_size": 64,
            "train.epochs": 1,
            "train.lr": 0.05,
            "data.limit": 2000,
            "data.test_limit": 500,
        },
    }

    def __init__(self, config: Mapping[str, Any], data: DataInfo) -> None:
        super().__init__({"skeleton": LEGACY_SKELETON, **config}, data)
        skeleton = self.config["skeleton"]
        variant = network_variant(self.config["variant"], data)
        choices = self.config["choices"]
        width = self.config["width_mult"]
        self.skeleton: str = skeleton
        self.variant: str = variant
        self.choice_set: str = choices
        self.width_mult = float(width)
        self.layout: Layout = build_layout(variant, self.width_mult, skeleton)
        self.block_choices: tuple[tuple[Choice, ...], ...] = tuple(
            block_choices(spec, choices) for spec in self.layout.blocks
        )
        self._decisions = tuple(
            Decision(spec.name, tuple(c.name for c in position))
            for spec, position in zip(self.layout.blocks, self.block_choices)
        )

    @property
    def decisions(self) -> tuple[Decision, ...]:
        return self._decisions

    def chosen(self, arch: Arch) -> list[Choice]:
        """The Choice of every block, in order."""
        arch = self.check_arch(arch)
        return [position[arch[d.name]] for d, position in zip(self._decisions, self.block_choices)]

    def build_supernet(self) -> MBConvSupernet:
        return MBConvSupernet(
            self.layout,
            self.block_choices,
            [d.name for d in self._decisions],
            self.data.num_classes,
            self.data.channels,
        )

    def build_child(self, arch: Arch) -> nn.Module:
        return MBConvNet(self.layout, self.chosen(arch), self.data.num_classes, self.data.channels)

    def cost_blocks(self) -> Blocks:
        """Stem with the first block, every position's candidates at that position's input, head with classifier.

        The cut of ProxylessNAS's latency lookup table: blocks run one after another, so their
        latencies add up; ``skip`` adds nothing (a child network leaves a skipped block out).
        """
        net = MBConvNet(
            self.layout, [position[0] for position in self.block_choices], self.data.num_classes, self.data.channels
        ).eval()
        shape = (self.data.channels, self.data.image_size, self.data.image_size)
        fixed = [Block(nn.Sequential(net.stem, net.first), shape)]
        choices = []
        with torch.no_grad():
            x = net.features_in(torch.zeros(1, *shape))
            for spec, position, block in zip(self.layout.blocks, self.block_choices, net.blocks):
                here = tuple(x.shape[1:])
                choices.append(tuple(() if c.is_skip else (Block(make_block(spec, c), here),) for c in position))
                x = block(x)
        fixed.append(Block(nn.Sequential(net.head, net.pool, nn.Flatten(), net.classifier), tuple(x.shape[1:])))
        return Blocks(tuple(fixed), tuple(choices))

    def derive(self, scores: Mapping[str, torch.Tensor], generator: torch.Generator | None = None) -> Arch:
        """Argmax of the scores per block; ties drawn from the search's seeded generator (the first without one)."""
        arch: Arch = {}
        for d in self._decisions:
            if d.name not in scores:
                raise ArchError(f"no scores for decision {d.name!r}")
            s = torch.as_tensor(scores[d.name]).reshape(-1)[: len(d.choices)]
            if len(s) != len(d.choices):
                raise ArchError(f"decision {d.name!r} has {len(d.choices)} choices but {len(s)} scores")
            arch[d.name] = ranked_choices(s.tolist(), generator)[0]
        return arch

    def drawing(self, arch: Arch) -> tuple[StripDrawing, ...]:
        """The searchable blocks in order, ``MB<expand> <k>x<k>`` shaded by kernel size, ``skip`` hollow."""
        kernels = sorted({c.kernel for choices in self.block_choices for c in choices if not c.is_skip})
        shade = {k: i / max(len(kernels) - 1, 1) for i, k in enumerate(kernels)}
        blocks = tuple(
            ("skip", None) if c.is_skip else (f"MB{c.expand}\n{c.kernel}x{c.kernel}", shade[c.kernel])
            for c in self.chosen(arch)
        )
        return (StripDrawing(f"{self.variant} {self.choice_set} blocks", blocks),)

    def arch_to_json(self, arch: Arch) -> dict[str, Any]:
        blocks: list[Any] = [
            "skip" if c.is_skip else {"kernel": c.kernel, "expand": c.expand} for c in self.chosen(arch)
        ]
        return {
            "space": self.name,
            "skeleton": self.skeleton,
            "variant": self.variant,
            "choices": self.choice_set,
            "blocks": blocks,
        }

    @classmethod
    def arch_config(cls, obj: Mapping[str, Any]) -> dict[str, Any]:
        """An arch needs its skeleton, and a proxyless arch the proxyless choice set (``skip``, expand 3/6 only)."""
        wanted = {
            "space.skeleton": (obj.get("skeleton", LEGACY_SKELETON), SKELETONS),
            "space.choices": (obj.get("choices"), CHOICE_SETS),
        }
        # a value this space does not know stays out: arch_from_json then names it as the arch.json's fault
        return {key: value for key, (value, known) in wanted.items() if isinstance(value, str) and value in known}

    def arch_from_json(self, obj: Any) -> Arch:
        """Read ``{"space": "mbconv", "skeleton": s, "blocks": [{"kernel": k, "expand": e} | "skip", ...]}``.

        ``skeleton`` must be this space's (absent: ``search``). ``variant`` and ``choices`` are informative:
        an arch whose blocks are all in this space's choice set is accepted whatever they say (a
        CIFAR-searched arch may be trained on ImageNet).
        """
        if not isinstance(obj, Mapping):
            raise ArchError(f"an mbconv arch.json is a JSON object with a 'blocks' list, not {type(obj).__name__}")
        space = obj.get("space", self.name)
        if space != self.name:
            raise ArchError(f"arch.json is for space {space!r}, not {self.name!r}: pass --space {space}")
        for key, allowed in (("skeleton", tuple(SKELETONS)), ("variant", VARIANTS), ("choices", tuple(CHOICE_SETS))):
            if key in obj and obj[key] not in allowed:
                raise ArchError(f"arch.json {key!r} must be one of {', '.join(allowed)}, not {obj[key]!r}")
        skeleton = obj.get("skeleton", LEGACY_SKELETON)
        if skeleton != self.skeleton:
            raise ArchError(
                f"arch.json is an architecture of the {skeleton} skeleton, this space has the {self.skeleton} "
                f"skeleton: pass --set space.skeleton={skeleton}"
            )
        blocks = obj.get("blocks")
        if not isinstance(blocks, list):
            raise ArchError("arch.json has no 'blocks' list (one entry per searchable block)")
        n = len(self._decisions)
        if len(blocks) != n:
            raise ArchError(f"arch.json has {len(blocks)} blocks; the mbconv {self.skeleton} skeleton has {n}")
        hint = ""
        if obj.get("choices", self.choice_set) != self.choice_set:
            hint = (
                f" (arch.json was written with choices {obj['choices']!r}: pass --set space.choices={obj['choices']})"
            )
        arch: Arch = {}
        for i, (entry, d, position) in enumerate(zip(blocks, self._decisions, self.block_choices)):
            where = f"block {i + 1} ({d.name}, blocks[{i}])"
            if entry == "skip":
                choice = Choice(None, None)
            elif isinstance(entry, Mapping) and set(entry) >= {"kernel", "expand"}:
                k, e = entry["kernel"], entry["expand"]
                if not all(isinstance(v, int) and not isinstance(v, bool) for v in (k, e)):
                    raise ArchError(f"{where}: kernel and expand must be integers, got {k!r} and {e!r}")
                choice = Choice(k, e)
            else:
                raise ArchError(f'{where}: expected {{"kernel": k, "expand": e}} or "skip", got {entry!r}')
            if choice not in position:
                if choice.is_skip:
                    why = (
                        f"the {self.choice_set} choice set has no skip"
                        if self.choice_set == "mdenas"
                        else "only stride-1 blocks whose input and output widths match can be skipped"
                    )
                    raise ArchError(f"{where} cannot be 'skip': {why}{hint}")
                allowed = ", ".join(f"({c.kernel},{c.expand})" for c in position if not c.is_skip)
                raise ArchError(
                    f"{where}: MBConv(kernel={choice.kernel}, expand={choice.expand}) is not in the "
                    f"{self.choice_set} choice set; (kernel,expand) must be one of {allowed}{hint}"
                )
            arch[d.name] = position.index(choice)
        return arch
