"""``nasframe report DIR --plot``: a bench's curves, accuracy against cost, one drawing per found architecture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nasframe.interfaces.errors import ArchError
from nasframe.registry import get_registry
from nasframe.storage.run_directory import RunDir
from nasframe.studies.report import load_bench

REPORT_DIR = "report"
CURVES_FILE = "curves.png"
PARETO_FILE = "pareto.png"


def draw_bench(path: Path) -> dict[str, Any] | None:
    """Write ``report/curves.png``, ``report/pareto.png`` and ``report/arch-<trial>.png``; their paths relative to ``path``.

    None (writing nothing) when matplotlib is not installed.
    """
    try:
        import matplotlib  # noqa: F401  (the drawing modules import its parts)
    except ImportError:
        return None
    from nasframe.studies.arch_drawing import draw_arch
    from nasframe.studies.curves import draw_curves
    from nasframe.studies.pareto import draw_pareto

    path = Path(path)
    record, rows = load_bench(path)
    out = path / REPORT_DIR
    out.mkdir(exist_ok=True)
    trials: dict[str, list[list[dict[str, Any]]]] = {}
    drawn: dict[str, str] = {}
    space = get_registry().build_space(record["shared_config"])
    for row in rows:
        trials.setdefault(row["strategy"], []).append(RunDir(path / row["trial"]).read_events())
        name = Path(row["trial"]).name
        file = out / f"arch-{name}.png"
        try:
            panels = space.drawing(space.arch_from_json(row["arch"])) if row.get("arch") else ()
        except ArchError:  # a row edited by hand: the report goes on without its drawing
            panels = ()
        if draw_arch(file, panels, f"{name}: val acc {100 * (row.get('val_accuracy') or 0):.2f} %"):
            drawn[name] = str(file.relative_to(path))
    draw_curves(out / CURVES_FILE, trials)
    drawings: dict[str, Any] = {"curves": str((out / CURVES_FILE).relative_to(path))}
    if draw_pareto(out / PARETO_FILE, rows):
        drawings["pareto"] = str((out / PARETO_FILE).relative_to(path))
    return {**drawings, "arch": drawn}
