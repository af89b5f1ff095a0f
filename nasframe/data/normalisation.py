"""Per-channel input normalisation: the data set's own statistics unless ``data.mean``/``data.std`` say otherwise."""

from __future__ import annotations

from typing import Any, Mapping, Sequence


def _channels(value: float | Sequence[float] | None, default: Sequence[float]) -> tuple[float, ...]:
    if value is None:
        return tuple(default)
    if isinstance(value, (int, float)):
        return (float(value),) * len(default)
    return tuple(float(v) for v in value)


def normalisation(
    data: Mapping[str, Any], mean: Sequence[float], std: Sequence[float]
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) of the checked ``data`` config section, falling back to the data set's ``mean`` and ``std``.

    MdeNAS maps pixels to [-1, 1]: ``data.mean=0.5``, ``data.std=0.5``.
    """
    return _channels(data.get("mean"), mean), _channels(data.get("std"), std)
