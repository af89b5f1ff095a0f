"""``nasframe report``: re-render the tables of a bench or run directory from its files."""
from __future__ import annotations

from pathlib import Path

import click

from nasframe.cli.group import cli
from nasframe.studies.report import FORMATS, print_rich, tables_for, to_csv, to_markdown


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="table: a rich table; markdown: a GitHub table on stdout; csv: raw values (mean and std columns).")
@click.option("--trials", is_flag=True, help="Bench directories: one row per trial instead of one per strategy.")
def report(directory: str, fmt: str, trials: bool) -> None:
    """Re-render the table of a bench directory (bench.json + results.jsonl) or a run directory (summary.json).

    A bench table has one row per strategy: mean ± std over seeds of every metric, the best of each
    ranked column highlighted (higher accuracy and images/s, lower search seconds and peak memory;
    params, FLOPs and epochs are not ranked), and the budget every trial was given above it.
    """
    for table in tables_for(Path(directory), trials=trials):
        if fmt == "markdown":
            click.echo(to_markdown(table), nl=False)
        elif fmt == "csv":
            click.echo(to_csv(table), nl=False)
        else:
            print_rich(table)
