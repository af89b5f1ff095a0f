"""What ``nasframe export`` exports: a training run's trained network, a search run's or a named architecture's
untrained one, or an earlier export; resolved into one network in eval mode and the records the card tells of it.

Every kind of input ends as the config of a network trained from scratch (``nasframe train``'s), so the export
folder can hold that config beside the weights and ``load_model`` reads the folder back like a training run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from nasframe.config import run_hash
from nasframe.engine.training import read_arch, train_config
from nasframe.interfaces.errors import ArchError, ConfigError, NasframeError
from nasframe.interfaces.space import Arch, SearchSpace
from nasframe.registry import Registry, get_registry
from nasframe.storage.loading import load_model
from nasframe.storage.run_directory import MODEL_FILE, RunDir

EXPORT_RECORD = "export.json"
"""The machine-readable record an export folder holds; its presence marks the folder as an export."""
WEIGHTS = ("trained", "untrained")


@dataclass
class Source:
    """One network to export and what is known of where it came from."""

    label: str
    """The input as the user named it (a folder, a file, a shipped name)."""
    kind: str
    """``train run``, ``search run``, ``export``, ``shipped architecture`` or ``architecture file``."""
    config: dict[str, Any]
    """The config of the network as ``nasframe train`` would train it (holds ``arch``)."""
    space: SearchSpace
    arch: Arch
    model: nn.Module
    trained: bool
    training: dict[str, Any] | None = None
    """The training run's figures (test accuracy, epochs, seed, config digest, versions) when trained."""
    search: dict[str, Any] | None = None
    """The search the architecture came from (strategy, seed, budget, config digest, versions), when known."""
    published: dict[str, Any] | None = None
    """A shipped architecture's paper and source."""


def budget_of(config: Mapping[str, Any]) -> dict[str, Any]:
    """What a run was allowed to spend: epochs, wall-clock seconds and the hardware limits that were set."""
    limits = {k: v for k, v in (config.get("constraint") or {}).items() if k.startswith("max_") and v is not None}
    return {
        "epochs": config.get("train", {}).get("epochs"),
        "seconds": (config.get("budget") or {}).get("seconds"),
        **limits,
    }


def search_record(path: Path, config: Mapping[str, Any]) -> dict[str, Any]:
    """The card's account of a search run: where it is, which strategy and seed, its budget, digest and versions."""
    summary_file = RunDir(path).summary
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    return {
        "path": str(path),
        "strategy": (config.get("strategy") or {}).get("name"),
        "space": config["space"]["name"],
        "preset": config.get("preset"),
        "seed": config.get("seed"),
        "budget": budget_of(config),
        "epochs_run": summary.get("epochs"),
        "val_accuracy": summary.get("val_accuracy"),
        "config_digest": run_hash(config),
        "versions": config.get("versions"),
    }


def training_record(path: Path, config: Mapping[str, Any], summary: Mapping[str, Any]) -> dict[str, Any]:
    """The card's account of a training run: its test figures as summary.json has them, and how it was run."""
    return {
        "path": str(path),
        "test_accuracy": summary.get("test_accuracy"),
        "test_loss": summary.get("test_loss"),
        "epochs": summary.get("epochs"),
        "train_seconds": summary.get("train_seconds"),
        "preset": config.get("preset"),
        "seed": config.get("seed"),
        "dataset": config["data"]["dataset"],
        "config_digest": run_hash(config),
        "versions": config.get("versions"),
    }


def initial_network(space: SearchSpace, arch: Arch, seed: int) -> nn.Module:
    """The child network with the seeded initial weights ``nasframe train`` would start from, in eval mode."""
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return space.build_child(arch).eval()
    finally:
        torch.random.set_rng_state(state)


def resolve_source(
    text: str,
    weights: str | None = None,
    *,
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    search: str | None = None,
    registry: Registry | None = None,
) -> Source:
    """The network ``text`` names, with trained weights unless ``weights`` is ``untrained``.

    ``weights`` None means trained for a run folder (a search run is then refused: it has none) and
    untrained for an architecture (a shipped name or an arch.json file, which never has weights).
    ``preset`` and ``overrides`` size an untrained network; a trained network's size is its run's.
    ``search`` names the search run a trained network's architecture came from (checked against it).
    """
    registry = registry or get_registry()
    overrides = dict(overrides or {})
    path = Path(text)
    if path.is_dir():
        source = _from_folder(path, weights, preset, overrides, registry)
    else:
        arch_json = read_arch(text, registry)
        if weights == "trained":
            raise NasframeError(
                f"{text} is an architecture, not a trained network: it has no weights. Pass a `nasframe train` "
                "run folder, or --weights untrained to export the architecture with initial weights"
            )
        published = registry.published().get(text, {}).get("published") if not path.exists() else None
        source = _untrained(
            text,
            "shipped architecture" if published is not None else "architecture file",
            arch_json,
            preset or "paper",
            overrides,
            registry,
        )
        source.published = published
    if search is not None:
        source.search = _checked_search(Path(search), source, registry)
    return source


def _from_folder(
    path: Path, weights: str | None, preset: str | None, overrides: dict[str, Any], registry: Registry
) -> Source:
    rundir = RunDir(path)
    if not rundir.config.exists():
        raise NasframeError(
            f"{path} is not a run directory: it has no config.json (pass a `nasframe train` or `nasframe run` "
            "folder, an arch.json or a shipped architecture's name)"
        )
    config = rundir.read_config()
    if not rundir.arch.exists():
        raise NasframeError(f"{path} holds no architecture yet (no arch.json): a run writes it when it finishes")
    record = _export_record(path)
    kind = "export" if record is not None else "train run" if "arch" in config else "search run"
    has_weights = (path / MODEL_FILE).exists() and (record is None or record.get("weights") == "trained")
    want = weights or "trained"
    if want == "trained" and not has_weights:
        what = "untrained weights" if record is not None else f"no trained weights (no {MODEL_FILE})"
        hint = (
            f"train it with `nasframe train --arch {rundir.arch}`"
            if kind == "search run"
            else "finish its training (`nasframe train ... --resume`)"
            if kind == "train run"
            else "export the training run instead"
        )
        raise NasframeError(
            f"{path} holds {what}: {hint}, or pass --weights untrained to export its architecture with initial weights"
        )
    arch_json = json.loads(rundir.arch.read_text())
    if kind == "search run":
        base = {"seed": config.get("seed", 0), "data.dir": config["data"].get("dir")}
        if config["data"].get("dataset") is not None:
            base["data.dataset"] = config["data"]["dataset"]
        source = _untrained(
            str(path), kind, arch_json, preset or config.get("preset") or "paper", {**base, **overrides}, registry
        )
        source.search = search_record(path, config)
        return source
    if preset is not None or overrides:
        raise ConfigError(
            f"--preset and --set size the network of an architecture or a search run; the network in {path} is "
            "the one its config.json describes"
        )
    space = registry.build_space(config)
    arch = space.arch_from_json(config["arch"])
    if want == "trained":
        model = load_model(path)
    else:
        model = initial_network(space, arch, int(config.get("seed", 0)))
    source = Source(str(path), kind, config, space, arch, model, trained=want == "trained")
    if record is not None:
        source.training, source.search = record.get("training"), record.get("search")
        source.published = record.get("published")
    elif rundir.summary.exists():
        source.training = training_record(path, config, rundir.read_summary())
    if not source.trained:
        source.training = None
    return source


def _untrained(
    label: str, kind: str, arch_json: dict[str, Any], preset: str, overrides: dict[str, Any], registry: Registry
) -> Source:
    config = train_config(arch_json, preset, overrides, registry)
    space = registry.build_space(config)
    arch = space.arch_from_json(config["arch"])
    model = initial_network(space, arch, int(config.get("seed", 0)))
    return Source(label, kind, config, space, arch, model, trained=False)


def _export_record(path: Path) -> dict[str, Any] | None:
    record = path / EXPORT_RECORD
    if not record.exists():
        return None
    try:
        return json.loads(record.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise NasframeError(f"cannot read {record}: {exc}") from None


def _checked_search(path: Path, source: Source, registry: Registry) -> dict[str, Any]:
    """The search run ``path`` as the source's provenance; refused unless it found the source's architecture."""
    rundir = RunDir(path)
    if not rundir.config.exists() or "strategy" not in rundir.read_config():
        raise NasframeError(f"--search {path} is not a search run directory (no config.json naming a strategy)")
    if not rundir.arch.exists():
        raise NasframeError(f"--search {path} has not found an architecture yet (no arch.json)")
    try:
        found = source.space.arch_from_json(json.loads(rundir.arch.read_text()))
    except ArchError as exc:
        raise NasframeError(f"--search {path} searched another space: {exc}") from None
    if found != source.arch:
        raise NasframeError(f"--search {path} found another architecture than the one in {source.label}")
    return search_record(path, rundir.read_config())
