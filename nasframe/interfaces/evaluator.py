"""The Evaluator interface: performance estimation, turning an architecture into feedback."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from nasframe.interfaces.feedback import Feedback
from nasframe.interfaces.keys import Configurable
from nasframe.interfaces.space import ArchLike

if TYPE_CHECKING:
    from nasframe.interfaces.context import SearchContext


class Evaluator(Configurable, ABC):
    """Estimates how good an architecture is: with shared weights, by training it, or by a proxy."""

    name: ClassVar[str] = ""
    # ``keys``: the ``evaluator.*`` settings it reads, declared as ``nasframe.Key``

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config: dict[str, Any] = self.checked_config(config or {}, "evaluator")

    @abstractmethod
    def evaluate(self, arch: ArchLike, ctx: SearchContext, max_batches: int | None = None) -> Feedback:
        """Validation feedback for ``arch``: the whole split, or its first ``max_batches`` batches (the same for every arch)."""
