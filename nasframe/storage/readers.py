"""One reader per file kind nasframe writes: every read checks the file's shape, every failure is one line.

A JSON file can be valid JSON and still the wrong thing (a list where an object belongs, a row without
its fields, an arch.json nested ten thousand deep that overflows the parser). Each reader here turns every
such case into a ``NasframeError`` (or the subclass the caller names) that says which file, what is wrong
and, where it helps, what to do; nothing downstream meets a KeyError or a RecursionError instead.

events.jsonl and results.jsonl are rewritten whole and atomically (``storage/atomic.py``), so a kill never
leaves a torn last line. A line that does not parse was therefore damaged after nasframe wrote it; it is
refused, never dropped, because dropping it would silently shorten the run's record.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from nasframe.interfaces.errors import NasframeError
from nasframe.interfaces.text import shorten

Error = type[NasframeError]


def _parse(text: str, path: Path, where: str, error: Error) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{path}{where} is not valid JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise error(f"{path}{where} is nested too deeply to read (it was not written by nasframe)") from None


def _text(path: Path, what: str, error: Error) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"no {what} at {path}") from None
    except IsADirectoryError:
        raise error(f"{path} is a folder, not a {what} file") from None
    except UnicodeDecodeError:
        raise error(f"{path} is not a {what}: it is not UTF-8 text") from None
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror}") from None


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def read_object(
    path: str | os.PathLike,
    what: str,
    required: Iterable[str] = (),
    error: Error = NasframeError,
    expected: str = "",
) -> dict[str, Any]:
    """A JSON file that must hold an object with the ``required`` keys (``expected`` says what it should be)."""
    path = Path(path)
    obj = _parse(_text(path, what, error), path, "", error)
    return _check_object(obj, path, "", what, required, error, expected)


def _check_object(
    obj: Any, path: Path, where: str, what: str, required: Iterable[str], error: Error, expected: str = ""
) -> dict:
    if not isinstance(obj, dict):
        raise error(
            f"{path}{where} holds {_kind(obj)} ({shorten(json.dumps(obj), 40)}), not "
            f"{expected or 'the JSON object a ' + what + ' is'}"
        )
    missing = [k for k in required if k not in obj]
    if missing:
        raise error(f"{path}{where} is not a whole {what}: it has no {', '.join(map(repr, missing))}")
    return obj


def read_rows(
    path: str | os.PathLike, what: str, required: Iterable[str] = (), error: Error = NasframeError
) -> list[dict[str, Any]]:
    """A JSON-lines file of objects with the ``required`` keys; a missing file is no rows."""
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    for number, line in enumerate(_text(path, what, error).splitlines(), 1):
        if line.strip():
            where = f" line {number}"
            rows.append(_check_object(_parse(line, path, where, error), path, where, f"{what} row", required, error))
    return rows


def read_config(path: str | os.PathLike, error: Error = NasframeError) -> dict[str, Any]:
    """A run's config.json (its keys are checked by the schema afterwards)."""
    return read_object(path, "run config (config.json)", error=error)


def read_events(path: str | os.PathLike, error: Error = NasframeError) -> list[dict[str, Any]]:
    """A run's events.jsonl: one object per trained epoch, each with its ``epoch``."""
    rows = read_rows(path, "epoch log (events.jsonl)", ("epoch",), error)
    for number, row in enumerate(rows):
        if not isinstance(row["epoch"], int) or isinstance(row["epoch"], bool):
            raise error(f"{path} record {number + 1} has epoch {shorten(row['epoch'], 40)!s}, not a whole number")
    return rows


def read_summary(path: str | os.PathLike, error: Error = NasframeError) -> dict[str, Any]:
    """A finished run's summary.json."""
    return read_object(path, "run summary (summary.json)", error=error)


def read_arch(path: str | os.PathLike, error: Error = NasframeError) -> dict[str, Any]:
    """An arch.json: an object (its content is the space's to check, with ``arch_from_json``)."""
    path = Path(path)
    if path.is_dir():
        hint = f"; pass {path / 'arch.json'}" if (path / "arch.json").is_file() else ""
        raise error(f"--arch {path} is a folder, not an architecture file{hint}")
    if not path.exists() and not path.is_symlink():
        raise error(f"no architecture file at {path}")
    return read_object(
        path,
        "architecture (arch.json)",
        error=error,
        expected='a JSON object with a "space" key naming its search space',
    )


def read_results(path: str | os.PathLike, error: Error = NasframeError) -> list[dict[str, Any]]:
    """A bench's results.jsonl: one row per finished trial, naming at least its strategy and seed."""
    return read_rows(path, "bench results (results.jsonl)", ("strategy", "seed"), error)


def read_bench(path: str | os.PathLike, error: Error = NasframeError) -> dict[str, Any]:
    """A bench's bench.json: its settings and trials."""
    obj = read_object(path, "bench record (bench.json)", ("settings",), error)
    if not isinstance(obj["settings"], dict) or not isinstance(obj.get("trials", []), list):
        raise error(f"{path} is not a bench record: 'settings' must be an object and 'trials' a list")
    return obj
