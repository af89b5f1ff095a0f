"""``nasframe report``: re-render the tables of a bench or run directory from its files."""

from __future__ import annotations

from pathlib import Path

import click

from nasframe.cli.group import cli
from nasframe.studies import REPORT_FORMATS


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(REPORT_FORMATS),
    default="table",
    show_default=True,
    help="table: rich tables; markdown: GitHub tables on stdout; csv: raw values, one block per table; "
    "json: every number (per strategy and per pair).",
)
@click.option("--trials", is_flag=True, help="Bench directories: one row per trial instead of one per strategy.")
@click.option(
    "--plot",
    is_flag=True,
    help="Bench directories: write DIR/report/curves.png and one arch-<trial>.png "
    "per trial (needs matplotlib: pip install 'nasframe[plot]').",
)
def report(directory: str, fmt: str, trials: bool, plot: bool) -> None:
    """Re-render the report of a bench directory (bench.json + results.jsonl) or a run directory (summary.json).

    A bench report states the protocol, then one row per strategy (mean ± std over seeds of every
    metric), the 95 % interval, best and worst seed per strategy, and every pair compared with a t-test
    (paired on the same seeds, else Welch) and Holm's correction. A cell is bold only when its strategy
    beats every other with Holm-adjusted p < 0.05; otherwise the verdict says the difference is within
    noise at this budget and how many seeds would resolve it.
    """
    from nasframe.cli.display import console
    from nasframe.cli.tables import print_report, to_csv, to_json, to_markdown
    from nasframe.studies.report import report_for

    path = Path(directory)
    plots = None
    if plot:
        from nasframe.studies.plots import draw_bench
        from nasframe.studies.rank import PLOT_HINT

        plots = draw_bench(path)
        if plots is None:
            console.print(PLOT_HINT, highlight=False)
    shown = report_for(path, trials=trials, plots=plots)
    if fmt == "markdown":
        click.echo(to_markdown(shown), nl=False)
    elif fmt == "csv":
        click.echo(to_csv(shown), nl=False)
    elif fmt == "json":
        click.echo(to_json(shown), nl=False)
    else:
        print_report(shown)
