"""nasframe-evolution: regularized evolution as a third-party nasframe strategy plugin.

The ``nasframe`` entry point names this module; nasframe registers it with pluggy and calls its
hooks. It imports only the public ``nasframe`` API.
"""

from __future__ import annotations

from typing import Any

import nasframe
from nasframe_evolution.evolution import RegularizedEvolution

__all__ = ["RegularizedEvolution", "register_strategies"]
__version__ = "0.1.0"


@nasframe.hookimpl
def register_strategies(register: Any) -> None:
    register(RegularizedEvolution)
