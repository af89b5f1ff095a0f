"""The ``nasframe`` command line: click commands, rich output, one-line errors."""
from __future__ import annotations

from typing import Any

import click

from nasframe.interfaces.errors import NasframeError


class Group(click.Group):
    """Turns a NasframeError from any command into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NasframeError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nasframe")
def cli() -> None:
    """nasframe: neural architecture search with MdeNAS, DARTS and random search on shared spaces."""


def _load_commands() -> None:
    from nasframe.cli import listing, run  # noqa: F401  (each module adds its commands to `cli`)
    from nasframe.registry import get_registry

    for module in ("bench", "report", "train", "rank"):
        try:
            __import__(f"nasframe.cli.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"nasframe.cli.{module}":
                raise
    registry = get_registry()
    registry.pm.hook.register_commands(cli=cli)


def main() -> None:
    _load_commands()
    cli(prog_name="nasframe")
