"""``nasframe list`` and ``nasframe config``: what is installed, and every config key it reads."""
from __future__ import annotations

import json

import click

from nasframe.cli import cli


@cli.command("list")
def list_command() -> None:
    """List search spaces, strategies and evaluators, and the plugin that registered each."""
    from rich.console import Console
    from rich.table import Table

    from nasframe.registry import get_registry

    registry = get_registry()
    table = Table(title="nasframe plugins")
    for column in ("kind", "name", "plugin", "distribution", "version"):
        table.add_column(column)
    for kind, entries in (("space", registry.spaces), ("strategy", registry.strategies),
                          ("evaluator", registry.evaluators)):
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


@cli.command("config")
@click.option("--space", default=None, help="Only the engine's keys and this space's (see `nasframe list`).")
@click.option("--strategy", default=None, help="Only the engine's keys and this strategy's.")
def config_command(space: str | None, strategy: str | None) -> None:
    """Print every config key --set accepts: what it takes, its default, and what it does.

    With --space or --strategy, only the engine's, the evaluators' and theirs; without, every installed plugin's.
    """
    from rich.console import Console
    from rich.table import Table

    from nasframe.config import ENGINE_KEYS
    from nasframe.registry import get_registry

    registry = get_registry()
    sections = [("engine", "", ENGINE_KEYS)]
    spaces = [space] if space else (sorted(registry.spaces) if strategy is None else [])
    strategies = [strategy] if strategy else (sorted(registry.strategies) if space is None else [])
    for name in spaces:
        sections.append((f"space {name}", "space.", registry.space(name).keys))
    for name in strategies:
        sections.append((f"strategy {name}", "strategy.", registry.strategy(name).keys))
    for name in sorted(registry.evaluators):
        sections.append((f"evaluator {name} (searches)", "evaluator.", registry.evaluator(name).keys))
    table = Table(title="config keys (--set KEY=VALUE; space.name and strategy.name are chosen by --space/--strategy)")
    for column in ("key", "takes", "default", "what it does"):
        table.add_column(column, overflow="fold")
    for title, prefix, keys in sections:
        table.add_section()
        table.add_row(f"[bold]{title}[/bold]", "", "", "")
        for key in keys:
            table.add_row(prefix + key.name, key.allowed(), json.dumps(key.default), key.help)
    Console().print(table)
