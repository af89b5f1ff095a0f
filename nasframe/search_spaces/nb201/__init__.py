"""The NAS-Bench-201 cell space (``--space nb201``, docs/algorithms.md#nas-bench-201-space), registered as a plugin.

Modules: ``cell`` (decisions, the benchmark's cell string, arch.json, codes, ``derive``), ``table`` (the
shipped 200-epoch accuracies of all 15,625 cells, ``data/``), ``ops`` (edge ops and the fixed parts of
the network), ``child`` (the benchmark's ``TinyNetwork``), ``supernet`` (the weight-sharing network),
``space`` (the ``SearchSpace``).
"""

from __future__ import annotations

import nasframe

from .cell import DECISIONS, EDGES, OPS, arch_from_string, arch_to_string
from .child import ChildNetwork
from .space import NB201Space
from .supernet import SearchNetwork
from .table import DATASETS, load_table

__all__ = [
    "DATASETS",
    "DECISIONS",
    "EDGES",
    "OPS",
    "ChildNetwork",
    "NB201Space",
    "SearchNetwork",
    "arch_from_string",
    "arch_to_string",
    "load_table",
    "register_search_spaces",
]


@nasframe.hookimpl
def register_search_spaces(register):
    register(NB201Space)
