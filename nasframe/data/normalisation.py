"""Per-channel input normalisation: the data set's own statistics unless ``data.mean``/``data.std`` say otherwise."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from nasframe.interfaces.errors import ConfigError


def _channels(data: Mapping[str, Any], key: str, default: Sequence[float], positive: bool) -> tuple[float, ...]:
    value = data.get(key)
    if value is None:
        return tuple(default)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value] * len(default)
    ok = isinstance(value, (list, tuple)) and len(value) == len(default) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and (v > 0 or not positive) for v in value
    )
    if not ok:
        kind = "positive numbers" if positive else "numbers"
        raise ConfigError(f"data.{key} must be null, a number or a list of {len(default)} {kind}, not {value!r}")
    return tuple(float(v) for v in value)


def normalisation(
    data: Mapping[str, Any], mean: Sequence[float], std: Sequence[float]
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) of the ``data`` config section, falling back to the data set's ``mean`` and ``std``.

    MdeNAS maps pixels to [-1, 1]: ``data.mean=0.5``, ``data.std=0.5``.
    """
    return _channels(data, "mean", mean, positive=False), _channels(data, "std", std, positive=True)
