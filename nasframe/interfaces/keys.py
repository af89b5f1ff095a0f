"""Declared config keys: every setting's type, range or choices, default and help, checked by one function."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

from nasframe.interfaces.errors import ConfigError
from nasframe.interfaces.text import shorten

TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
LARGEST = {int: 2**63 - 1, float: 3.4e38}
"""Numbers must fit the tensors they end up in: int64, and float32 (an optimizer's lr or decay)."""


@dataclass(frozen=True)
class Key:
    """One config key: what it holds, what is allowed, its default and a one-line help.

    ``type`` is ``bool``, ``int``, ``float`` or ``str`` (inferred from ``default`` when left out), or
    ``object`` for a value only ``rule`` can judge (a number or a list of numbers);
    ``low``/``high`` bound numbers (``low_open``/``high_open`` exclude the bound); ``choices`` lists
    the allowed values; ``optional`` lets the key be ``null``; ``rule`` is a last check that returns
    the value to keep or raises ``ValueError`` (``allowed`` then describes what it accepts).
    """

    name: str
    default: Any
    help: str
    type: type | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[Any, ...] = ()
    optional: bool = False
    settable: bool = True
    """False for identity keys (``space.name``): chosen by an option, never by ``--set``."""
    rule: Callable[[Any], Any] | None = field(default=None, compare=False)
    allowed_text: str = ""

    @property
    def kind(self) -> type:
        if self.type is not None:
            return self.type
        return type(self.default) if self.default is not None else str

    def allowed(self) -> str:
        """What the key accepts, as a phrase: ``an integer >= 1``, ``one of epoch, step``, ``null or a number``."""
        if self.allowed_text:
            text = self.allowed_text
        elif self.choices:
            text = "one of " + ", ".join(_show(c) for c in self.choices)
        else:
            text = TYPE_NAMES[self.kind]
            bounds = []
            if self.low is not None:
                bounds.append(f"{'>' if self.low_open else '>='} {_bound(self.low, self.kind)}")
            if self.high is not None:
                bounds.append(f"{'<' if self.high_open else '<='} {_bound(self.high, self.kind)}")
            if bounds:
                text += " " + " and ".join(bounds)
        return f"null or {text}" if self.optional else text

    def check(self, value: Any, dotted: str | None = None) -> Any:
        """``value`` in this key's type (an integral float becomes an int, an int a float), or ConfigError."""
        try:
            return self._convert(value)
        except (ValueError, TypeError):
            allowed = self.allowed()
            largest = LARGEST.get(self.kind)
            if largest is not None and self.high is None and _too_large(value, largest):
                allowed += f" (at most {_bound(largest, self.kind)}: it must fit a {self.kind.__name__}64 tensor)"
            raise ConfigError(
                f"config key {dotted or self.name!r} = {shorten(_show(value))} is not allowed: it takes {allowed}"
            ) from None

    def _convert(self, value: Any) -> Any:
        if value is None:
            if self.optional:
                return None
            raise ValueError
        kind = self.kind
        if kind is object:
            pass
        elif kind is bool:
            if not isinstance(value, bool):
                raise ValueError
        elif kind in (int, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError
            if abs(value) > LARGEST[kind]:
                raise ValueError
            if kind is int:
                if not float(value).is_integer():
                    raise ValueError
                value = int(value)
            else:
                value = float(value)
            self._bounds(value)
        elif not isinstance(value, kind):
            raise ValueError
        if self.choices and value not in self.choices:
            raise ValueError
        return self.rule(value) if self.rule is not None else value

    def _bounds(self, value: float) -> None:
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            raise ValueError
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            raise ValueError


def _bound(bound: float, kind: type) -> str:
    """A bound as a reader types it: ``9223372036854775807`` for an integer key, not ``9.22337e+18``."""
    return str(int(bound)) if kind is int and float(bound).is_integer() else f"{bound:g}"


def _too_large(value: Any, largest: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > largest


def _show(value: Any) -> str:
    """A value as the user typed it: JSON spelling for true/false/null."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return repr(value) if isinstance(value, str) else str(value)


def keys_from_defaults(defaults: Mapping[str, Any]) -> tuple[Key, ...]:
    """Keys of a plugin that declares only ``defaults``: each typed by its default, no range."""
    return tuple(Key(name, value, "", optional=value is None) for name, value in defaults.items())


class Configurable:
    """Base of spaces, strategies and evaluators: ``keys`` declares the section's settings, ``defaults`` follows.

    A subclass declares ``keys`` (preferred) or, as older plugins do, only ``defaults``; either way both
    attributes are set on the class, so the engine reads one schema and the plugin reads its defaults.
    """

    keys: ClassVar[tuple[Key, ...]] = ()
    defaults: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "keys" in cls.__dict__:
            cls.defaults = {key.name: key.default for key in cls.keys}
        elif "defaults" in cls.__dict__:
            cls.keys = keys_from_defaults(cls.defaults)

    @classmethod
    def checked_config(cls, config: Mapping[str, Any], section: str) -> dict[str, Any]:
        """The defaults updated with ``config``, every declared key checked (``section`` names them in errors)."""
        merged = {**cls.defaults, **config}
        for key in cls.keys:
            merged[key.name] = key.check(merged[key.name], f"{section}.{key.name}")
        return merged
