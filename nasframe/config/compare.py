"""Which settings change a run's result: the hash a checkpoint carries, and the keys two configs differ in."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any, Iterable, Mapping

PORTABLE_KEYS = ("device", "data.dir", "data.download", "data.workers", "train.nonfinite", "versions")
"""Keys that may differ between a run and its resume (or between a bench's runs) without changing any result."""


def config_hash(config: Mapping[str, Any], ignore: Iterable[str] = ()) -> str:
    """A digest of the settings that change results, so a checkpoint refuses a different config."""
    clean = copy.deepcopy(dict(config))
    for key in ignore:
        parts = key.split(".")
        node = clean
        for part in parts[:-1]:
            node = node.get(part, {})
        node.pop(parts[-1], None)
    return hashlib.sha256(json.dumps(clean, sort_keys=True).encode()).hexdigest()[:16]


def run_hash(config: Mapping[str, Any]) -> str:
    """The hash of everything but the portable keys: equal hashes mean the same result."""
    return config_hash(config, ignore=PORTABLE_KEYS)


def is_portable(key: str) -> bool:
    """Whether a dotted key (or a key under it) may differ without changing results."""
    return any(key == p or key.startswith(p + ".") for p in PORTABLE_KEYS)


def config_difference(saved: Mapping[str, Any], current: Mapping[str, Any], prefix: str = "") -> list[str]:
    """``key: saved X, now Y`` for every dotted key whose value differs, portable keys left out."""
    out = []
    for key in sorted(set(saved) | set(current), key=str):
        dotted = f"{prefix}{key}"
        if is_portable(dotted):
            continue
        a, b = saved.get(key, "<absent>"), current.get(key, "<absent>")
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += config_difference(a, b, f"{dotted}.")
        elif a != b:
            short = [text if len(text) <= 60 else text[:57] + "..." for text in (repr(a), repr(b))]
            out.append(f"{dotted}: saved {short[0]}, now {short[1]}")
    return out
