"""One export folder from one source: the exported file, the weights nasframe reads back, parity, speed, the card.

Everything is written into a hidden folder beside ``--out`` and renamed into place only when every check passed,
so a refused or failed export leaves nothing behind, and an ``--out`` that holds anything is never touched.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from nasframe.deploy import drawing
from nasframe.deploy import export as formats
from nasframe.deploy.model_card import render
from nasframe.deploy.parity import check_parity, measure_parity, parity_images
from nasframe.deploy.preprocessing import preprocessing
from nasframe.deploy.source import EXPORT_RECORD, Source
from nasframe.deploy.speed import measure_speed, predicted_latency
from nasframe.engine.ground_truth import benchmark_record
from nasframe.interfaces import __version__
from nasframe.interfaces.errors import NasframeError
from nasframe.measure.cost import count_flops, count_params
from nasframe.registry import Registry, get_registry
from nasframe.storage.atomic import check_creatable, write_json_atomic, write_text_atomic
from nasframe.storage.integrity import save_signed
from nasframe.storage.run_directory import ARCH, CONFIG, MODEL_FILE

KIND = "nasframe-export"
FORMAT_VERSION = 1
CARD = "README.md"
DRAWING = "arch.png"
LOADERS = {
    "onnx": "`onnxruntime.InferenceSession('model.onnx')` (input `images`, output `logits`)",
    "exported-program": "`torch.export.load('model.pt2').module()` (torch only, no nasframe)",
}


def check_out(out: Path) -> None:
    """Refuse an ``--out`` that exists with anything in it, or whose nearest existing folder takes no new entry."""
    if out.exists() and not out.is_dir():
        raise NasframeError(f"--out {out} is a file; choose a new folder")
    if out.is_dir() and any(out.iterdir()):
        raise NasframeError(f"--out {out} already holds files; choose a new or empty folder (nothing is overwritten)")
    check_creatable(out.parent.resolve(), f"--out {out}")


def export_source(
    source: Source,
    fmt: str,
    out: Path,
    *,
    tolerance: float,
    images: int,
    data_dir: str | None = None,
    registry: Registry | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Export ``source`` as ``fmt`` into ``out``; the export.json record. Nothing is left at ``out`` on failure."""
    registry = registry or get_registry()
    formats.require(fmt)
    check_out(out)
    made = _missing_parents(out.resolve())
    staging: Path | None = None
    try:
        for folder in reversed(made):
            folder.mkdir()
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.resolve().parent))
        record = _write(source, fmt, staging, out, tolerance, images, data_dir, registry, progress)
        _publish_modes(staging)
        if out.is_dir():
            out.rmdir()  # empty (checked above): the finished folder takes its place
        os.replace(staging, out)
        return record
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        for folder in made:
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _publish_modes(folder: Path) -> None:
    """The modes the user's umask gives new files: the temp files and folder were made private (0600, 0700)."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for path in folder.iterdir():
        path.chmod(0o666 & ~umask)


def _missing_parents(path: Path) -> list[Path]:
    """The folders above ``path`` that do not exist yet, deepest first."""
    missing = []
    parent = path.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    return missing


def _write(
    source: Source,
    fmt: str,
    folder: Path,
    out: Path,
    tolerance: float,
    count: int,
    data_dir: str | None,
    registry: Registry,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    model, space = source.model.eval(), source.space
    data = space.data
    shape = (data.channels, data.image_size, data.image_size)
    progress(f"exporting to {fmt}")
    written = formats.write(model, shape, fmt, folder)
    run = formats.load(fmt, written.path)
    runtime = formats.runtime_name(fmt)
    progress("checking parity")
    config = (
        source.config if data_dir is None else {**source.config, "data": {**source.config["data"], "dir": data_dir}}
    )
    parity = measure_parity(model, run, parity_images(config, data, count, registry), tolerance)
    check_parity(parity, runtime)
    progress("timing batch 1")
    speed = measure_speed(model, run, shape)
    speed.update(predicted_latency(source.config, space, source.arch, speed["pytorch_ms"], registry))
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_signed(state, folder / MODEL_FILE, {})  # load_model verifies it, as it does a training run's
    config_out = {**source.config, "versions": source.config.get("versions") or _core_versions()}
    write_json_atomic(folder / CONFIG, config_out)
    arch_json = space.arch_to_json(source.arch)
    write_json_atomic(folder / ARCH, arch_json)
    drawn = drawing.can_draw() and drawing.draw(
        folder / DRAWING, space.drawing(source.arch), f"{space.name} architecture"
    )
    record = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "name": out.name,
        "format": fmt,
        **written.record(),
        "runtime": runtime,
        "load": LOADERS[fmt],
        "weights": "trained" if source.trained else "untrained",
        "source": {"input": source.label, "kind": source.kind},
        "space": space.name,
        "space_config": dict(space.config),
        "arch": arch_json,
        "choices": space.choice_names(source.arch),
        "network": {"params": count_params(model), "flops": count_flops(model, data)},
        "preprocessing": preprocessing(source.config, data, registry),
        "training": source.training,
        "search": source.search,
        "published": source.published,
        "ground_truth": benchmark_record(space, source.arch).get("benchmark"),  # checked: finite, with a source
        "parity": parity.record(),
        "latency": speed,
        "drawing": DRAWING if drawn else None,
        "versions": {**_core_versions(), **_format_versions(fmt), "python": platform.python_version()},
    }
    write_json_atomic(folder / EXPORT_RECORD, record)
    write_text_atomic(folder / CARD, render(record))
    return record


def _core_versions() -> dict[str, str]:
    return {"nasframe": __version__, "torch": torch.__version__}


def _format_versions(fmt: str) -> Mapping[str, str]:
    if fmt != "onnx":
        return {}
    import onnx
    import onnxruntime
    import onnxscript

    return {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__, "onnxscript": onnxscript.__version__}
