"""Reports on the terminal: a study's plain tables as rich tables, the notes under them."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nasframe.studies.report import Report, TableData


def to_rich(table: TableData) -> Table:
    out = Table(title=table.title, caption="\n".join(table.caption) or None, caption_justify="left")
    for j, name in enumerate(table.columns):
        out.add_column(name, justify="right" if table.is_numeric(j) else "left", no_wrap=j == 0)
    for i, row in enumerate(table.rows):
        out.add_row(*[f"[bold green]{escape(c)}[/]" if (i, j) in table.best else escape(c) for j, c in enumerate(row)])
    return out


def print_report(report: Report) -> None:
    """Print on stdout; when that is not a terminal, as wide as the tables need rather than 80 columns."""
    console = Console()
    rendered = [to_rich(table) for table in report.tables]
    if not console.is_terminal:
        wide = max(console.measure(r, options=console.options.update_width(400)).maximum for r in rendered)
        console = Console(width=max(80, wide))
    for table in rendered:
        console.print(table)
    for note in report.notes:
        console.print(escape(note), highlight=False)
