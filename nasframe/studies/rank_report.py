"""A ranking study's report (``nasframe rank`` and ``nasframe report DIR``): τ of every epoch's ranking against the
final epoch's, and against the space's ground truth where it publishes one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from nasframe.interfaces.errors import NasframeError
from nasframe.studies.rank import NOTE, STUDY_FILE, load_results
from nasframe.studies.tables import Report, TableData


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def tau_table(tau: Mapping[str, Any], title: str) -> TableData:
    """τ and p_τ of every epoch against the final epoch (by validation accuracy and by loss), and against the
    ground truth when the study has it; the mean row leaves out the final epoch."""
    truth = "tau_truth" in (tau["epochs"][0] if tau["epochs"] else {})
    columns = ["epoch", "τ (val acc)", "p_τ (val acc)", "τ (val loss)", "p_τ (val loss)"]
    keys = ["tau", "p_tau", "tau_loss", "p_tau_loss"]
    if truth:
        columns += ["τ vs ground truth", "p_τ vs ground truth"]
        keys += ["tau_truth", "p_tau_truth"]
    raw_rows = [[row["epoch"], *(row.get(k) for k in keys)] for row in tau["epochs"]]
    raw_rows.append(["mean", *(tau.get(f"mean_{k}") for k in keys)])
    rows = [[str(r[0]), *(_num(v) for v in r[1:])] for r in raw_rows]
    caption = ["τ-b against the final epoch's ranking; the mean leaves out the final epoch; n/a: every one tied"]
    if truth:
        caption.append(
            "τ vs ground truth: each epoch's ranking against the published accuracies (its mean row: over every "
            f"epoch); ground truth: {tau.get('truth_source', '')}"
        )
    raw_columns = ["epoch", *keys]
    return TableData(title, caption, columns, rows, raw_columns, raw_rows)


def rank_report(path: Path) -> Report:
    """The report of the finished ranking study in ``path``."""
    path = Path(path)
    try:
        study = json.loads((path / STUDY_FILE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise NasframeError(f"cannot read {path / STUDY_FILE}: {exc}") from None
    if not isinstance(study, dict) or study.get("kind") != "rank":
        raise NasframeError(f"{path / STUDY_FILE} is not a ranking study's record")
    records, tau = load_results(path)
    title = f"Ranking study {path}: {study.get('samples')} {study.get('space')} archs, "
    title += f"{len(tau['epochs'])} epochs, {study.get('evaluator')}"
    return Report([tau_table(tau, title)], [f"Note: {NOTE}"], {"kind": "rank", "title": title, "tau": tau})
