"""The ``nasframe`` click group: commands load on demand, a user's error is one line."""

from __future__ import annotations

import errno
import importlib
from typing import Any

import click

from nasframe.interfaces.errors import NasframeError
from nasframe.interfaces.text import shorten

COMMANDS = {
    "bench": "bench",
    "config": "listing",
    "export": "export",
    "latency": "latency",
    "list": "listing",
    "rank": "rank",
    "report": "report",
    "run": "run",
    "train": "train",
}
"""Built-in command -> the module of ``nasframe.cli`` that defines it (imported when the command is asked for)."""

USER_ERRNOS = {
    errno.EACCES,
    errno.EPERM,
    errno.ENOSPC,
    errno.EROFS,
    errno.ENOENT,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.EDQUOT,
    errno.EEXIST,
    errno.ENAMETOOLONG,
}
"""File-system failures that are the user's to fix (permissions, a full or read-only disk, a missing folder, a name
longer than the file system allows)."""


class Group(click.Group):
    """Loads built-in commands on demand; a user's error becomes one line and exit 1 (``--debug``: the traceback)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMANDS:
            importlib.import_module(f"nasframe.cli.{COMMANDS[name]}")
        return self.commands.get(name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NasframeError as exc:
            if ctx.params.get("debug"):
                raise
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            if ctx.params.get("debug") or exc.errno not in USER_ERRNOS:
                raise
            where = f"{shorten(str(exc.filename))}: " if exc.filename else ""
            raise click.ClickException(f"{where}{exc.strerror}") from None


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show the full traceback of any error, a user's error too.")
@click.version_option(package_name="nasframe")
def cli(debug: bool) -> None:
    """nasframe: neural architecture search with MdeNAS, DARTS and random search on shared spaces."""
