"""Errors a user can act on: the CLI prints them as one line and exits non-zero."""

from __future__ import annotations


class NasframeError(Exception):
    """A problem with the user's input or environment (not a bug): shown without a traceback."""


class ConfigError(NasframeError):
    """An unknown or malformed configuration key or value."""


class ArchError(NasframeError):
    """A malformed architecture, or one written for another space."""


class CheckpointError(NasframeError):
    """A checkpoint that cannot be resumed: damaged, or written by another configuration."""


class DataError(NasframeError):
    """Data that is missing or malformed."""


class PluginError(NasframeError):
    """A plugin that failed to load or registered something invalid."""


class Interrupted(NasframeError):
    """The user pressed Ctrl-C; the message says what was kept and how to continue."""


class OutOfMemory(NasframeError):
    """The device ran out of memory; the message names the batch size and how to continue."""


def shorten(value: object, limit: int = 80) -> str:
    """``value`` as text of at most ``limit`` characters (an ellipsis marks the cut), for messages.

    A user's value is echoed in an error so they can see what was refused; a pasted file or a 10,000-digit
    number would bury the one line that explains it.
    """
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
