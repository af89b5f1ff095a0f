"""Reports rendered: rich tables on the terminal, GitHub markdown, CSV and JSON (``nasframe report --format``)."""

from __future__ import annotations

import csv
import io
import json

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nasframe.studies.tables import Report, TableData


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


def table_markdown(table: TableData) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [f"**{cell(table.title)}**", ""]
    lines += [f"{line}  " for line in table.caption[:-1]] + table.caption[-1:]
    if table.caption:
        lines.append("")
    lines.append("| " + " | ".join(cell(c) for c in table.columns) + " |")
    lines.append("|" + "|".join("---:" if table.is_numeric(j) else ":---" for j in range(len(table.columns))) + "|")
    for i, row in enumerate(table.rows):
        cells = [f"**{cell(c)}**" if (i, j) in table.best else cell(c) for j, c in enumerate(row)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_markdown(report: Report) -> str:
    """Every table, then the notes as a list (drawings as images)."""
    parts = [table_markdown(table) for table in report.tables]
    notes = []
    for note in report.notes:
        label, _, path = note.partition(": ")
        notes.append(f"- {label}: ![{label}]({path})" if path.endswith(".png") else f"- {note}")
    if notes:
        parts.append("\n".join(notes) + "\n")
    return "\n".join(parts)


def table_csv(table: TableData) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.raw_columns)
    for row in table.raw_rows:
        writer.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def to_csv(report: Report) -> str:
    """Raw values: one CSV block per table, blocks separated by an empty line; notes as a last ``note`` block."""
    blocks = [table_csv(table) for table in report.tables]
    if report.notes:
        blocks.append(table_csv(TableData("", [], [], [], ["note"], [[note] for note in report.notes])))
    return "\n".join(blocks)


def to_json(report: Report) -> str:
    """Every number of the report (``null`` where there is none), for tools that build on it."""
    return json.dumps(report.data, indent=2) + "\n"
