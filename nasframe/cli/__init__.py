"""The ``nasframe`` command line: click commands, rich output, one-line errors.

Command modules import only click at module level and load torch when their command runs, so
``nasframe --help`` and ``nasframe <command> --help`` stay fast.
"""

from __future__ import annotations

from nasframe.cli.group import cli

__all__ = ["cli", "main"]


def _third_party_plugins() -> bool:
    """Whether any distribution other than nasframe itself offers plugins (only they may add commands)."""
    from importlib import metadata

    from nasframe.interfaces.hooks import BUILTIN_DISTRIBUTION, ENTRY_POINT_GROUP

    return any(
        ep.dist is None or ep.dist.name != BUILTIN_DISTRIBUTION for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)
    )


def _load_commands() -> None:
    """Add the commands plugins register; the registry (and torch) loads only when a third party is installed."""
    if _third_party_plugins():
        from nasframe.registry import get_registry

        get_registry().pm.hook.register_commands(cli=cli)


def main() -> None:
    _load_commands()
    cli(prog_name="nasframe")
