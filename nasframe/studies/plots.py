"""``nasframe report DIR --plot``: a bench's curves, accuracy against cost, one drawing per found architecture."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from nasframe.interfaces.errors import NasframeError
from nasframe.interfaces.space import SearchSpace
from nasframe.registry import get_registry
from nasframe.storage.run_directory import RunDir
from nasframe.studies.report import load_bench

REPORT_DIR = "report"
CURVES_FILE = "curves.png"
PARETO_FILE = "pareto.png"


def space_of(record: Mapping[str, Any], arch: Mapping[str, Any]) -> SearchSpace:
    """The space a bench row's architecture belongs to: as the bench configured it, else as its arch.json names it."""
    registry = get_registry()
    shared = record.get("shared_config")
    if isinstance(shared, dict) and isinstance(shared.get("space"), dict) and "name" in shared["space"]:
        return registry.build_space(shared)
    space_cls = registry.space(str(arch.get("space")))
    keys = {k.split(".", 1)[1]: v for k, v in space_cls.arch_config(arch).items()}
    return space_cls(keys, registry.data_info({"data": {}}))


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
    for row in rows:
        trials.setdefault(row["strategy"], []).append(RunDir(path / row["trial"]).read_events())
        name = Path(row["trial"]).name
        file = out / f"arch-{name}.png"
        try:
            space = space_of(record, row["arch"]) if isinstance(row.get("arch"), dict) else None
            panels = space.drawing(space.arch_from_json(row["arch"])) if space is not None else ()
        except NasframeError:  # an arch of a space not installed, or edited by hand: no drawing, the report goes on
            panels = ()
        if draw_arch(file, panels, f"{name}: val acc {100 * (row.get('val_accuracy') or 0):.2f} %"):
            drawn[name] = str(file.relative_to(path))
    draw_curves(out / CURVES_FILE, trials)
    drawings: dict[str, Any] = {"curves": str((out / CURVES_FILE).relative_to(path))}
    if draw_pareto(out / PARETO_FILE, rows):
        drawings["pareto"] = str((out / PARETO_FILE).relative_to(path))
    return {**drawings, "arch": drawn}
