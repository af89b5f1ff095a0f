"""The DARTS cell search space (``--space darts``, docs/algorithms.md#darts-cell-space), registered as a nasframe plugin.

Modules: ``ops`` (the eight edge ops and the preprocessing blocks), ``genotype`` (decision layout,
genotype <-> Arch, arch.json, ``derive``), ``supernet`` (the search network), ``child`` (the
evaluation network), ``space`` (the space class). Shipped genotypes (``nasframe train --arch NAME``): ``archs/*.json``, each
with the paper and code it comes from.
"""

from __future__ import annotations

import nasframe

from .child import ChildNetwork
from .genotype import ARCHS_DIR
from .ops import CHOICES
from .space import DartsSpace
from .supernet import SearchNetwork

__all__ = ["ARCHS_DIR", "CHOICES", "ChildNetwork", "DartsSpace", "SearchNetwork", "register_search_spaces"]


@nasframe.hookimpl
def register_search_spaces(register):
    register(DartsSpace)
