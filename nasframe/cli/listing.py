"""``nasframe list``: what is installed, and which distribution gave each."""
from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from nasframe.cli.group import cli
from nasframe.registry import get_registry


@cli.command("list")
def list_command() -> None:
    """List search spaces, strategies and evaluators, and the plugin that registered each."""
    registry = get_registry()
    table = Table(title="nasframe plugins")
    for column in ("kind", "name", "plugin", "distribution", "version"):
        table.add_column(column)
    for kind, entries in (("space", registry.spaces), ("strategy", registry.strategies),
                          ("evaluator", registry.evaluators), ("cost model", registry.cost_models)):
        for name in sorted(entries):
            reg = entries[name]
            table.add_row(kind, name, reg.plugin, reg.distribution, reg.version)
    for plugin in registry.observers():
        table.add_row("hooks", ", ".join(plugin.hooks), plugin.plugin, plugin.distribution, plugin.version)
    console = Console()
    console.print(table)
    for problem in registry.problems:
        console.print(f"[red]broken:[/red] {problem}", markup=True, highlight=False)
    if registry.problems:
        click.echo(f"{len(registry.problems)} plugin(s) could not be loaded; the others work.", err=True)
