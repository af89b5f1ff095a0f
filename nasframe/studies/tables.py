"""A study's report as plain data, independent of its output format: tables of display strings and raw values,
notes, and every number as JSON-able data (``nasframe.cli.tables`` renders them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class TableData:
    """A table independent of its output format: display strings, raw values for CSV, best cells."""

    title: str
    caption: list[str]
    columns: list[str]
    rows: list[list[str]]
    raw_columns: list[str]
    raw_rows: list[list[Any]]
    best: set[tuple[int, int]] = field(default_factory=set)
    numeric_from: int = 1
    """Columns from this index on are right-aligned numbers..."""
    text_from: int | None = None
    """...up to this one, from which on they are left-aligned text again (a verdict)."""

    def is_numeric(self, column: int) -> bool:
        return self.numeric_from <= column < (self.text_from if self.text_from is not None else len(self.columns))


@dataclass
class Report:
    """What ``nasframe report`` shows: tables, notes under them, and every number as JSON-able data."""

    tables: list[TableData]
    notes: list[str]
    data: dict[str, Any]
