"""``nasframe list`` and ``nasframe config``: what is installed, the architectures it ships, every config key."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping

import click

from nasframe.cli.group import cli

if TYPE_CHECKING:
    from rich.table import Table

FIGURES = (
    ("params", "{} params"),
    ("mult_adds", "{} mult-adds"),
    ("test_error", "{}% error"),
    ("top1_error", "{}% top-1 error"),
    ("gpu_latency", "{} GPU latency"),
)
"""The reported figures ``nasframe list`` shows, in this order, with their wording."""


def reported_text(reported: Mapping[str, Any]) -> str:
    """One setting's figures as the paper reports them: ``imagenet: 4.7M params, 26.7% top-1 error``."""
    figures = [form.format(reported[key]) for key, form in FIGURES if reported.get(key) is not None]
    return f"{reported.get('dataset', '?')}: {', '.join(figures) or 'figures not verified'}"


def published_table(published: Mapping[str, Mapping[str, Any]]) -> Table:
    """The shipped architectures: name (``nasframe train --arch NAME``), space, paper, code and figures."""
    from rich.table import Table

    table = Table(title="published architectures (nasframe train --arch NAME)")
    for column in ("name", "space", "paper", "source", "reported"):
        table.add_column(column)
    for name in sorted(published):
        record = published[name].get("published", {})
        figures = "\n".join(reported_text(r) for r in record.get("reported", []))
        table.add_row(name, published[name]["space"], record.get("paper", ""), record.get("source", ""), figures)
    return table


@cli.command("list")
def list_command() -> None:
    """List search spaces, strategies, evaluators, cost models and data sets, the plugin that registered each; and the
    shipped architectures."""
    from rich.console import Console
    from rich.table import Table

    from nasframe.registry import get_registry

    registry = get_registry()
    table = Table(title="nasframe plugins")
    for column in ("kind", "name", "plugin", "distribution", "version"):
        table.add_column(column)
    for kind, entries in (
        ("space", registry.spaces),
        ("strategy", registry.strategies),
        ("evaluator", registry.evaluators),
        ("cost model", registry.cost_models),
        ("data set", registry.datasets),
        ("launcher", registry.launchers),
    ):
        for name in sorted(entries):
            reg = entries[name]
            label = f"{name} (default)" if kind in ("data set", "launcher") and reg.cls.default else name
            table.add_row(kind, label, reg.plugin, reg.distribution, reg.version)
    for plugin in registry.observers():
        table.add_row("hooks", ", ".join(plugin.hooks), plugin.plugin, plugin.distribution, plugin.version)
    console = Console()
    console.print(table)
    layouts = Table(title="data sets (--dataset NAME, --data-dir DIR)")
    for column in ("name", "what it reads"):
        layouts.add_column(column)
    for name in sorted(registry.datasets):
        layouts.add_row(name, registry.datasets[name].cls.description)
    console.print(layouts)
    console.print(published_table(registry.published()))
    for problem in registry.problems:
        console.print(f"[red]broken:[/red] {problem}", markup=True, highlight=False)
    if registry.problems:
        click.echo(f"{len(registry.problems)} plugin(s) could not be loaded; the others work.", err=True)


@cli.command("config")
@click.option("--space", default=None, help="Only the engine's keys and this space's (see `nasframe list`).")
@click.option("--strategy", default=None, help="Only the engine's keys and this strategy's.")
@click.option("--launcher", default=None, help="Only the engine's keys and this launcher's (bench and rank).")
def config_command(space: str | None, strategy: str | None, launcher: str | None) -> None:
    """Print every config key --set accepts: what it takes, its default, and what it does.

    With --space, --strategy or --launcher, only the engine's, the evaluators' and theirs; without, every
    installed plugin's. Launcher keys (launcher.*) are settings of `nasframe bench` and `nasframe rank`.
    """
    from rich.console import Console
    from rich.table import Table

    from nasframe.config import ENGINE_KEYS
    from nasframe.registry import get_registry

    registry = get_registry()
    sections = [("engine", "", ENGINE_KEYS)]
    only = space or strategy or launcher
    spaces = [space] if space else ([] if only else sorted(registry.spaces))
    strategies = [strategy] if strategy else ([] if only else sorted(registry.strategies))
    launchers = [launcher] if launcher else ([] if only else sorted(registry.launchers))
    for name in spaces:
        sections.append((f"space {name}", "space.", registry.space(name).keys))
    for name in strategies:
        sections.append((f"strategy {name}", "strategy.", registry.strategy(name).keys))
    for name in sorted(registry.evaluators):
        sections.append((f"evaluator {name} (searches)", "evaluator.", registry.evaluator(name).keys))
    for name in launchers:
        sections.append((f"launcher {name} (bench, rank)", "launcher.", registry.launcher(name).keys))
    table = Table(title="config keys (--set KEY=VALUE; space.name and strategy.name are chosen by --space/--strategy)")
    for column in ("key", "takes", "default", "what it does"):
        table.add_column(column, overflow="fold")
    for title, prefix, keys in sections:
        table.add_section()
        table.add_row(f"[bold]{title}[/bold]", "", "", "")
        for key in keys:
            table.add_row(prefix + key.name, key.allowed(), json.dumps(key.default), key.help)
    Console().print(table)
