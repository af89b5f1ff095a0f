"""Decision layout of a DARTS cell, genotype <-> Arch conversion, arch.json parsing, ``derive``.

Edges are numbered in DARTS order: node 0's edges from states 0 and 1, node 1's from states 0, 1, 2,
and so on (states 0 and 1 are the cell inputs, state ``2 + i`` is intermediate node ``i``). The
decisions are the normal cell's edges followed by the reduction cell's, named
``"{cell}.node{i}.from{j}"``.

A genotype (two ``(op, input)`` pairs per node) is an Arch whose other edges are ``none``. The order
of a node's two pairs (DARTS lists the higher-scoring edge first) is kept in the Arch's *dict order*:
``derive``, ``arch_from_json`` and ``sample_final`` insert a node's chosen edges first, in genotype
order; ``arch_to_json`` and the child network read them back in that order. A dict rebuilt in
decision order (``SearchSpace.check_arch``) loses only that order, never the architecture.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import torch

from nasframe import Arch, ArchError, ranked_choices

from .ops import CHOICES, NONE

CELL_TYPES = ("normal", "reduce")
ARCHS_DIR = Path(__file__).with_name("archs")

Pairs = list[list[tuple[int, int]]]
"""Per node, its non-``none`` edges as ``(choice index, input state)`` in genotype order."""


def decision_name(cell: str, node: int, src: int) -> str:
    return f"{cell}.node{node}.from{src}"


def cell_edges(nodes: int) -> list[tuple[int, int]]:
    """``(node, input state)`` of every edge of a cell, in DARTS edge order."""
    return [(node, src) for node in range(nodes) for src in range(node + 2)]


def decision_names(nodes: int) -> tuple[str, ...]:
    """All decision names: the normal cell's edges, then the reduction cell's."""
    return tuple(decision_name(cell, node, src) for cell in CELL_TYPES for node, src in cell_edges(nodes))


def cell_pairs(arch: Mapping[str, int], cell: str, nodes: int) -> Pairs:
    """The non-``none`` edges of each node of ``cell``, in the arch's dict order (genotype order)."""
    position = {name: i for i, name in enumerate(arch)}
    out: Pairs = []
    for node in range(nodes):
        names = sorted((decision_name(cell, node, src) for src in range(node + 2)), key=position.__getitem__)
        out.append([(arch[name], int(name.rsplit("from", 1)[1])) for name in names if arch[name] != NONE])
    return out


def arch_from_pairs(pairs: Mapping[str, Pairs], nodes: int) -> Arch:
    """An Arch with the given edges per node (in that order) and every other edge ``none``."""
    arch: Arch = {}
    for cell in CELL_TYPES:
        for node in range(nodes):
            chosen = pairs[cell][node]
            for k, src in chosen:
                arch[decision_name(cell, node, src)] = int(k)
            for src in range(node + 2):
                arch.setdefault(decision_name(cell, node, src), NONE)
    return arch


def derive(scores: Mapping[str, torch.Tensor], nodes: int, generator: torch.Generator | None = None) -> Arch:
    """Per edge the best op but ``none``; per node the two edges with the highest score (docs/algorithms.md#deriving-a-genotype).

    Ties are a draw from ``generator`` (without one: the lower op index and the lower edge index). A
    node's kept edges come in descending score order, as DARTS writes its genotypes.
    """
    pairs: dict[str, Pairs] = {}
    for cell in CELL_TYPES:
        pairs[cell] = []
        for node in range(nodes):
            candidates = []
            for src in range(node + 2):
                name = decision_name(cell, node, src)
                if name not in scores:
                    raise ArchError(f"derive: no scores for decision {name!r}")
                row = [float(v) for v in torch.as_tensor(scores[name]).detach().reshape(-1).cpu().tolist()]
                if len(row) != len(CHOICES):
                    raise ArchError(f"derive: decision {name!r} has {len(row)} scores, expected {len(CHOICES)}")
                row = [-math.inf if math.isnan(v) else v for v in row]
                best = 1 + ranked_choices(row[1:], generator)[0]  # index 0 is ``none``
                candidates.append((row[best], src, best))
            kept = [candidates[i] for i in ranked_choices([c[0] for c in candidates], generator)[:2]]
            pairs[cell].append([(k, src) for _, src, k in kept])
    return arch_from_pairs(pairs, nodes)


def sample_final(generator: torch.Generator, nodes: int) -> Arch:
    """A uniform genotype: per node two distinct inputs, each with an op uniform over the non-``none`` ops."""
    pairs: dict[str, Pairs] = {}
    for cell in CELL_TYPES:
        pairs[cell] = []
        for node in range(nodes):
            srcs = torch.randperm(node + 2, generator=generator)[:2].tolist()
            ops = torch.randint(1, len(CHOICES), (2,), generator=generator).tolist()
            pairs[cell].append(list(zip(ops, srcs)))
    return arch_from_pairs(pairs, nodes)


def arch_to_json(arch: Mapping[str, int], nodes: int) -> dict[str, Any]:
    """The DARTS genotype as arch.json; ``arch`` must be a genotype (exactly two real ops per node)."""
    out: dict[str, Any] = {"space": "darts"}
    for cell in CELL_TYPES:
        per_node = cell_pairs(arch, cell, nodes)
        for node, chosen in enumerate(per_node):
            if len(chosen) != 2:
                raise ArchError(
                    f"not a genotype: {cell} cell node {node} has {len(chosen)} non-none incoming edges, "
                    "a genotype has exactly 2 (derive the arch first)"
                )
        out[cell] = [[CHOICES[k], src] for chosen in per_node for k, src in chosen]
        out[f"{cell}_concat"] = list(range(2, nodes + 2))
    return out


def _is_pair(item: Any) -> bool:
    return isinstance(item, dict) or (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str))


def _cell_items(value: Any, cell: str, nodes: int) -> list[Any]:
    """The flat list of pairs of one cell, from the flat (8 pairs) or nested (4 nodes x 2) form."""
    if not isinstance(value, (list, tuple)):
        raise ArchError(f"{cell} cell: expected a list of [op, input] pairs, got {type(value).__name__}")
    nested = len(value) == nodes and all(isinstance(node, (list, tuple)) and not _is_pair(node) for node in value)
    if nested:
        items: list[Any] = []
        for node, node_pairs in enumerate(value):
            if len(node_pairs) != 2:
                raise ArchError(f"{cell} cell node {node}: has {len(node_pairs)} pairs, expected 2")
            items.extend(node_pairs)
        return items
    if len(value) != 2 * nodes:
        raise ArchError(
            f"{cell} cell: has {len(value)} pairs, expected {2 * nodes} [op, input] pairs (or {nodes} nodes of 2 pairs)"
        )
    return list(value)


def _parse_pair(item: Any, where: str) -> tuple[Any, Any]:
    if isinstance(item, dict):
        missing = [key for key in ("op", "input") if key not in item]
        if missing:
            raise ArchError(f"{where}: missing key {missing[0]!r} (a pair is [op, input] or {{'op', 'input'}})")
        return item["op"], item["input"]
    if isinstance(item, (list, tuple)) and len(item) == 2:
        return item[0], item[1]
    raise ArchError(f"{where}: expected an [op, input] pair, got {item!r}")


def arch_from_json(obj: Any, nodes: int) -> Arch:
    """Parse arch.json (flat DARTS pair lists or the nested per-node form) into an Arch."""
    if not isinstance(obj, dict):
        raise ArchError(
            f"arch.json must be a JSON object with 'normal' and 'reduce' pair lists, got {type(obj).__name__}"
        )
    space = obj.get("space", "darts")
    if space != "darts":
        raise ArchError(f"arch.json is an architecture of space {space!r}, not 'darts'")
    valid = ", ".join(CHOICES[1:])
    pairs: dict[str, Pairs] = {}
    for cell in CELL_TYPES:
        if cell not in obj:
            raise ArchError(f"arch.json has no {cell!r} key (a DARTS genotype has 'normal' and 'reduce' pair lists)")
        concat_key = f"{cell}_concat"
        if concat_key in obj:
            concat = obj[concat_key]
            if not isinstance(concat, (list, tuple)) or list(concat) != list(range(2, nodes + 2)):
                raise ArchError(
                    f"{concat_key} is {concat!r}; this space concatenates every intermediate node: "
                    f"{list(range(2, nodes + 2))}"
                )
        items = _cell_items(obj[cell], cell, nodes)
        pairs[cell] = []
        for node in range(nodes):
            chosen: list[tuple[int, int]] = []
            for index in (2 * node, 2 * node + 1):
                where = f"{cell} cell, pair {index} (node {node})"
                op, src = _parse_pair(items[index], where)
                if op == "none":
                    raise ArchError(f"{where}: op 'none' cannot be in a genotype; valid ops: {valid}")
                if not isinstance(op, str) or op not in CHOICES:
                    raise ArchError(f"{where}: unknown op {op!r}; valid ops: {valid}")
                if isinstance(src, bool) or not isinstance(src, int):
                    raise ArchError(f"{where}: input must be an integer, got {src!r}")
                if not 0 <= src < node + 2:
                    raise ArchError(
                        f"{where}: input {src} is out of range; node {node} takes inputs 0..{node + 1} "
                        "(0 and 1 are the cell inputs, 2.. the earlier nodes)"
                    )
                if any(src == s for _, s in chosen):
                    raise ArchError(f"{where}: input {src} is used twice by node {node}")
                chosen.append((CHOICES.index(op), src))
            pairs[cell].append(chosen)
    return arch_from_pairs(pairs, nodes)
