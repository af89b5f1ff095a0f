"""The ``nasframe`` command line: click commands, rich output, one-line errors."""
from __future__ import annotations

from nasframe.cli.group import cli

__all__ = ["cli", "main"]


def _load_commands() -> None:
    from nasframe.cli import listing, run  # noqa: F401  (each module adds its commands to `cli`)
    from nasframe.registry import get_registry

    for module in ("bench", "report", "train", "rank", "latency"):
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
