"""The benchmark's table, shipped with the space: every cell's 200-epoch test accuracy on three data sets.

``data/nb201_tss_200ep.bin.gz`` (see ``data/NOTICE.md`` for its source, licence and citation) is gzip of
one little-endian payload, rows in the order of the NATS-Bench API extraction it comes from, which walks
the API's indices (``api.get_more_info(i, ...)``): a row is the benchmark's *index* of its cell:

- ``uint16[15625]``: each row's cell as its base-5 code (``cell.arch_to_code``),
- ``float64[15625]`` three times: CIFAR-10, CIFAR-100 and ImageNet16-120 test accuracy in %.

The payload's sha256 is checked on load, so a damaged or swapped file is an error, never wrong figures.
``build_payload`` makes it from the extraction's CSV (``/work/shared/data/nats-bench-tss``, README there).
"""

from __future__ import annotations

import array
import csv
import gzip
import hashlib
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from nasframe import Arch, ArchError

from .cell import NUM_CELLS, arch_from_code, arch_from_string, arch_to_code

TABLE_PATH = Path(__file__).with_name("data") / "nb201_tss_200ep.bin.gz"
TABLE_SHA256 = "6f232968a30bd6d48a89271050cf78727b9b53beb729f1a6782090cecf58721a"
"""sha256 of the decompressed payload (``build_payload`` of the extraction's CSV)."""

DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "imagenet16-120")
"""The table's data sets, named as ``data.dataset`` names them where nasframe loads them."""

CSV_COLUMNS: tuple[str, ...] = (
    "CIFAR10TestAccuracy200Epochs",
    "CIFAR100TestAccuracy200Epochs",
    "ImageNetTestAccuracy200Epochs",
)
"""The extraction's column of each data set, in ``DATASETS`` order."""

SOURCE = (
    "NAS-Bench-201 / NATS-Bench topology space, 200-epoch test accuracy (mean over the benchmark's seeds); "
    "Dong & Yang, ICLR 2020; Dong, Liu, Musial & Gabrys, IEEE TPAMI 2021"
)

DECIMALS = 3
"""Figures in a record are rounded to this many decimals (the table's accuracies are means of 1/100-% steps)."""


@dataclass(frozen=True)
class Table:
    """The table in memory: per row its code, per data set its accuracies and best row, and the row of every code."""

    codes: tuple[int, ...]
    accuracy: Mapping[str, tuple[float, ...]]
    row_of_code: tuple[int, ...]
    best_row: Mapping[str, int]

    def index(self, arch: Mapping[str, int]) -> int:
        """The benchmark's index (row) of ``arch``."""
        return self.row_of_code[arch_to_code(arch)]

    def arch(self, index: int) -> Arch:
        """The cell at the benchmark's index ``index``."""
        if not 0 <= index < NUM_CELLS:
            raise ArchError(f"an nb201 table index is in 0..{NUM_CELLS - 1}, got {index}")
        return arch_from_code(self.codes[index])

    def best(self, dataset: str) -> int:
        """The row of the highest accuracy on ``dataset`` (the first such row on a tie)."""
        return self.best_row[dataset]

    def record(self, arch: Mapping[str, int]) -> dict[str, Any]:
        """``ground_truth``'s record: accuracy and regret per data set, and the source."""
        row = self.index(arch)
        out: dict[str, Any] = {}
        for name in DATASETS:
            out[name] = round(self.accuracy[name][row], DECIMALS)
        for name in DATASETS:
            column = self.accuracy[name]
            out[f"regret_{name}"] = round(column[self.best(name)] - column[row], DECIMALS)
        out["source"] = SOURCE
        return out


def _little_endian(values: array.array) -> array.array:
    if sys.byteorder != "little":
        values.byteswap()
    return values


def parse_payload(payload: bytes) -> Table:
    """The table of a decompressed payload (its sha256 is checked by ``load_table``)."""
    codes = _little_endian(array.array("H", payload[: 2 * NUM_CELLS]))
    accuracy = {}
    offset = 2 * NUM_CELLS
    for name in DATASETS:
        column = _little_endian(array.array("d", payload[offset : offset + 8 * NUM_CELLS]))
        accuracy[name] = tuple(column)
        offset += 8 * NUM_CELLS
    row_of_code = [0] * NUM_CELLS
    for row, code in enumerate(codes):
        row_of_code[code] = row
    best_row = {name: max(range(NUM_CELLS), key=column.__getitem__) for name, column in accuracy.items()}
    return Table(tuple(codes), accuracy, tuple(row_of_code), best_row)


@lru_cache(maxsize=1)
def load_table(path: Path = TABLE_PATH) -> Table:
    """The shipped table, read once per process; a payload whose sha256 differs is an error."""
    payload = gzip.decompress(path.read_bytes())
    digest = hashlib.sha256(payload).hexdigest()
    if digest != TABLE_SHA256:
        raise RuntimeError(f"{path} is not the shipped NAS-Bench-201 table (sha256 {digest}, expected {TABLE_SHA256})")
    return parse_payload(payload)


def build_payload(csv_path: Path) -> bytes:
    """The payload of the extraction's CSV (rows kept in its order; every cell exactly once)."""
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    codes = array.array("H", (arch_to_code(arch_from_string(row["ArchitectureString"])) for row in rows))
    if len(rows) != NUM_CELLS or len(set(codes)) != NUM_CELLS:
        raise ValueError(f"{csv_path}: expected each of the {NUM_CELLS} cells once, got {len(rows)} rows")
    parts = [_little_endian(codes).tobytes()]
    for column in CSV_COLUMNS:
        parts.append(_little_endian(array.array("d", (float(row[column]) for row in rows))).tobytes())
    return b"".join(parts)


def write_table(csv_path: Path, path: Path = TABLE_PATH) -> str:
    """Write the shipped file from the CSV (gzip without a timestamp, so it is reproducible); its payload sha256."""
    payload = build_payload(csv_path)
    path.write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))
    return hashlib.sha256(payload).hexdigest()


__all__ = [
    "CSV_COLUMNS",
    "DATASETS",
    "SOURCE",
    "TABLE_PATH",
    "TABLE_SHA256",
    "Table",
    "build_payload",
    "load_table",
    "parse_payload",
    "write_table",
]
