"""``nasframe list``: what is installed, which distribution gave each, and the architectures the spaces ship."""
from __future__ import annotations

from typing import Any, Mapping

import click
from rich.console import Console
from rich.table import Table

from nasframe.cli.group import cli
from nasframe.registry import get_registry

FIGURES = (("params", "{} params"), ("mult_adds", "{} mult-adds"), ("test_error", "{}% error"),
           ("top1_error", "{}% top-1 error"), ("gpu_latency", "{} GPU latency"))
"""The reported figures ``nasframe list`` shows, in this order, with their wording."""


def reported_text(reported: Mapping[str, Any]) -> str:
    """One setting's figures as the paper reports them: ``imagenet: 4.7M params, 26.7% top-1 error``."""
    figures = [form.format(reported[key]) for key, form in FIGURES if reported.get(key) is not None]
    return f"{reported.get('dataset', '?')}: {', '.join(figures) or 'figures not verified'}"


def published_table(published: Mapping[str, Mapping[str, Any]]) -> Table:
    """The shipped architectures: name (``nasframe train --arch NAME``), space, paper, code and figures."""
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
    """List search spaces, strategies, evaluators and the plugin that registered each; and the shipped architectures."""
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
    console.print(published_table(registry.published()))
    for problem in registry.problems:
        console.print(f"[red]broken:[/red] {problem}", markup=True, highlight=False)
    if registry.problems:
        click.echo(f"{len(registry.problems)} plugin(s) could not be loaded; the others work.", err=True)
