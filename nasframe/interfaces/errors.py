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
