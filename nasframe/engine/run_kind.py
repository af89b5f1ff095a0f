"""What a run folder holds (a search of some strategy on some space, or a training), for resume's first check.

A resume with another command or another strategy used to fail deep in the schema check, blaming a key
("unknown config key 'strategy.sample_every'") the user never typed. Comparing what the saved config
says it is with what the command would run names the real difference and the command that resumes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from nasframe.interfaces.errors import NasframeError

COMMANDS = {"search": "nasframe run", "train": "nasframe train"}


def _name(config: Mapping[str, Any], section: str) -> str | None:
    value = config.get(section)
    return value.get("name") if isinstance(value, Mapping) and isinstance(value.get("name"), str) else None


def kind_of(config: Mapping[str, Any]) -> str | None:
    """``search`` (it names a strategy), ``train`` (it holds the architecture trained) or None (neither)."""
    if _name(config, "strategy"):
        return "search"
    if "arch" in config:
        return "train"
    return None


def describe(config: Mapping[str, Any]) -> str:
    kind, space = kind_of(config), _name(config, "space") or "an unknown space"
    if kind == "search":
        return f"a search run ({_name(config, 'strategy')} on {space})"
    if kind == "train":
        return f"a training run ({space})"
    return "a run of an unknown kind"


def refuse_other_run(saved: Mapping[str, Any], current: Mapping[str, Any], path: Path) -> None:
    """Refuse to resume ``path`` when its saved config is another kind of run, strategy or space than ``current``."""
    saved_kind, kind = kind_of(saved), kind_of(current)
    if saved_kind is None or kind is None:
        return
    if saved_kind != kind:
        command = COMMANDS.get(saved_kind, "the command that started it")
        raise NasframeError(
            f"cannot resume {path} with {COMMANDS.get(kind, 'this command')}: it holds {describe(saved)}; "
            f"resume it with `{command} --resume --out {path}`"
        )
    for section, option in (("strategy", "--strategy"), ("space", "--space")):
        was, now = _name(saved, section), _name(current, section)
        if was and now and was != now:
            raise NasframeError(
                f"cannot resume {path}: it holds {describe(saved)}, and this command asks for {section} {now}; "
                f"resume it with {option} {was} (or leave out --strategy and --space)"
            )
