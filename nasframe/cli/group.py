"""The ``nasframe`` click group every command module adds itself to."""
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
