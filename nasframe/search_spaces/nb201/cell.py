"""The NAS-Bench-201 cell as decisions, and its three spellings: Arch, the benchmark's string, a code.

A cell is a complete DAG on four nodes: node 0 is the cell input, node 3 its output, and every node
``i`` sums one op on each edge ``i <- j`` (``j < i``), six edges in all. The decisions are those edges
in the order of the benchmark's search cells (``edge_keys = sorted(edges)`` in AutoDL-Projects
``xautodl/models/cell_searchs/search_cells.py``: ``1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2``), each over
the benchmark's five ops in its order (``NAS_BENCH_201`` in ``xautodl/models/cell_operations.py``).

The benchmark's string (``Structure.tostr`` in AutoDL-Projects ``xautodl/models/cell_searchs/genotypes.py``)
writes the nodes' edges between bars, nodes joined by ``+``:
``|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|``;
it is what arch.json stores, so that it pastes into the benchmark's API (``api.query_index_by_arch``).

The *code* of a cell is its choices read as a base-5 number, edge ``1<-0`` the most significant digit
(0 .. 15,624): a dense key for the ground-truth table (``table.py``), as NASLib's ``op_indices``.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import torch

from nasframe import Arch, ArchError, ranked_choices

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""The choices of every edge, in the benchmark's order (index 0 is ``none``)."""

NONE = 0
"""Index of ``none`` in ``OPS``."""

NODES = 4
"""Nodes of a cell: 0 the input, 1 and 2 intermediate, 3 the output."""

EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
"""``(node, input node)`` of every edge, in decision order."""

DECISIONS: tuple[str, ...] = tuple(f"edge_{i}_{j}" for i, j in EDGES)
"""Decision names: ``edge_<node>_<input>``, the benchmark's ``<node><-<input>``."""

NUM_CELLS = len(OPS) ** len(EDGES)
"""15,625 cells."""

_SPACE = "nb201"


def arch_to_string(arch: Mapping[str, int]) -> str:
    """The benchmark's string of ``arch`` (every edge written, ``none`` included, as the benchmark writes it)."""
    nodes = []
    for node in range(1, NODES):
        nodes.append("|" + "|".join(f"{OPS[arch[f'edge_{node}_{j}']]}~{j}" for j in range(node)) + "|")
    return "+".join(nodes)


def looks_like_string(text: str) -> bool:
    """Whether ``text`` is meant as a benchmark string (it starts with a bar): anything else is not this notation."""
    return text.strip().startswith("|")


_NODE = re.compile(r"\|(.*)\|")


def arch_from_string(text: str) -> Arch:
    """Parse the benchmark's string; raise ``ArchError`` with one line naming what is wrong."""
    if not isinstance(text, str):
        raise ArchError(f"an nb201 cell string is text like {_EXAMPLE!r}, not {type(text).__name__}")
    s = text.strip()
    if not s.startswith("|") or not s.endswith("|"):
        raise ArchError(f"an nb201 cell string starts and ends with '|', like {_EXAMPLE!r}; got {text!r}")
    parts = s.split("+")
    if len(parts) != NODES - 1:
        raise ArchError(
            f"an nb201 cell string has {NODES - 1} node parts joined by '+' (nodes 1, 2, 3), got {len(parts)} in {text!r}"
        )
    arch: Arch = {}
    for node, part in enumerate(parts, start=1):
        match = _NODE.fullmatch(part)
        if match is None:
            raise ArchError(f"node {node} part {part!r} of {text!r} is not '|op~input|...|'")
        entries = match.group(1).split("|")
        if len(entries) != node:
            raise ArchError(
                f"node {node} takes exactly {node} edge(s) (from nodes {', '.join(map(str, range(node)))}), "
                f"got {len(entries)} in {part!r}"
            )
        for j, entry in enumerate(entries):
            op, sep, source = entry.partition("~")
            if not sep:
                raise ArchError(f"edge {entry!r} of node {node} is not 'op~input' (in {text!r})")
            if op not in OPS:
                raise ArchError(f"unknown op {op!r} on node {node}; valid ops: {', '.join(OPS)}")
            if source != str(j):
                allowed = ", ".join(f"~{k}" for k in range(node))
                if not (source.isdigit() and int(source) < node):
                    raise ArchError(
                        f"edge {entry!r}: node {node} cannot read from {source!r}; its edges are {allowed} in that order"
                    )
                raise ArchError(f"edge {entry!r} is out of order: node {node}'s edges are {allowed} in that order")
            arch[f"edge_{node}_{j}"] = OPS.index(op)
    return {name: arch[name] for name in DECISIONS}


_EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def arch_to_json(arch: Mapping[str, int]) -> dict[str, Any]:
    """``{"space": "nb201", "arch": <string>, "code": <0..15624>}``; the string is what a reader uses."""
    return {"space": _SPACE, "arch": arch_to_string(arch), "code": arch_to_code(arch)}


def arch_from_json(obj: Any) -> Arch:
    """Read ``{"space": "nb201", "arch": <string>}`` (other keys are informative; ``code`` must agree if given)."""
    if isinstance(obj, str):
        return arch_from_string(obj)
    if not isinstance(obj, Mapping):
        raise ArchError(f"an nb201 arch.json is a JSON object with an 'arch' string, not {type(obj).__name__}")
    space = obj.get("space", _SPACE)
    if space != _SPACE:
        raise ArchError(f"arch.json is for space {space!r}, not {_SPACE!r}: pass --space {space}")
    if "arch" not in obj:
        raise ArchError(f"an nb201 arch.json has an 'arch' key holding the cell string, like {_EXAMPLE!r}")
    arch = arch_from_string(obj["arch"])
    code = obj.get("code")
    if code is not None and code != arch_to_code(arch):
        raise ArchError(
            f"arch.json 'code' {code!r} does not match its 'arch' string (code {arch_to_code(arch)}): drop one"
        )
    return arch


def arch_to_code(arch: Mapping[str, int]) -> int:
    """The cell's base-5 code, edge ``1<-0`` the most significant digit."""
    code = 0
    for name in DECISIONS:
        code = code * len(OPS) + arch[name]
    return code


def arch_from_code(code: int) -> Arch:
    """The cell of a base-5 code (0 .. 15,624)."""
    if not 0 <= code < NUM_CELLS:
        raise ArchError(f"an nb201 cell code is in 0..{NUM_CELLS - 1}, got {code}")
    digits = []
    for _ in DECISIONS:
        code, k = divmod(code, len(OPS))
        digits.append(k)
    return dict(zip(DECISIONS, reversed(digits)))


def derive(scores: Mapping[str, torch.Tensor], generator: torch.Generator | None = None) -> Arch:
    """The best op per edge, ``none`` included, as the benchmark's ``genotype()`` takes the arg-max over all five ops
    (AutoDL-Projects ``xautodl/models/cell_searchs/search_model_darts.py``); ties drawn from ``generator``."""
    arch: Arch = {}
    for name in DECISIONS:
        if name not in scores:
            raise ArchError(f"no scores for decision {name!r}")
        s = torch.as_tensor(scores[name]).reshape(-1)
        if len(s) != len(OPS):
            raise ArchError(f"decision {name!r} has {len(OPS)} choices but {len(s)} scores")
        arch[name] = ranked_choices(s.tolist(), generator)[0]
    return arch


__all__ = [
    "DECISIONS",
    "EDGES",
    "NODES",
    "NONE",
    "NUM_CELLS",
    "OPS",
    "arch_from_code",
    "arch_from_json",
    "arch_from_string",
    "arch_to_code",
    "arch_to_json",
    "arch_to_string",
    "derive",
    "looks_like_string",
]
