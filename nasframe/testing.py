"""Helpers for testing nasframe plugins: a fake installed distribution, and a tiny search end to end."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator

from nasframe.registry import reset_registry

SUBSET_ENV = "NASFRAME_TEST_DATA"


def subset_dir(dataset: str | None = None) -> Path | None:
    """A real-image subset of the data set (the default one): ``$NASFRAME_TEST_DATA``, else
    ``shared/data/<name>-subset`` beside the checkout, when it holds that data set."""
    from nasframe.registry import get_registry

    cls = get_registry().dataset(dataset)
    env = os.environ.get(SUBSET_ENV)
    here = Path(__file__).resolve()
    candidates = [Path(env)] if env else [p / "shared" / "data" / f"{cls.name}-subset" for p in here.parents[:4]]
    return next((c for c in candidates if cls.is_at(c)), None)


def dataset_dir(dataset: str | None = None) -> Path:
    """The real subset when it is beside the checkout, else the data set's look-alike, generated once per process."""
    from nasframe.registry import get_registry

    found = subset_dir(dataset)
    if found is not None:
        return found
    cls = get_registry().dataset(dataset)
    if cls.name not in _generated:
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix=f"nasframe-{cls.name}-like-"))
        _generated[cls.name] = cls.write_look_alike(folder, train=2000, test=500)
    return _generated[cls.name]


_generated: dict[str, Path] = {}


def install_plugin(
    root: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str], version: str = "0.1.0"
) -> Path:
    """Write a minimal installed distribution (dist-info with entry points) under ``root``.

    Put ``root`` on ``sys.path`` (or PYTHONPATH for a subprocess) and call ``reset_registry()``: the
    plugin is then discovered exactly as a pip-installed one.
    """
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[nasframe]\n{lines}")
    for module, code in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(code))
    return root


class plugin_path:
    """Context manager: ``root`` on sys.path and a fresh registry inside, the old state after."""

    def __init__(self, root: Path) -> None:
        self.root = str(root)

    def __enter__(self) -> plugin_path:
        sys.path.insert(0, self.root)
        reset_registry()
        return self

    def __exit__(self, *exc: Any) -> None:
        sys.path.remove(self.root)
        for name in [
            m
            for m, mod in sys.modules.items()
            if getattr(mod, "__file__", None) and str(getattr(mod, "__file__", "")).startswith(self.root)
        ]:
            del sys.modules[name]
        reset_registry()


def tiny_search(
    strategy: str,
    space: str,
    out: Path,
    *,
    epochs: int = 1,
    seed: int = 0,
    data_dir: Path | None = None,
    sets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run a ``tiny``-preset search in-process, firing the plugins' observer hooks, and return its summary."""
    from nasframe.config import resolve
    from nasframe.engine.loop import Run
    from nasframe.engine.search import SearchJob
    from nasframe.registry import get_registry
    from nasframe.storage.run_directory import RunDir

    registry = get_registry()
    data = data_dir or dataset_dir()
    overrides: dict[str, Any] = {
        "train.epochs": epochs,
        "seed": seed,
        "device": "cpu",
        "data.download": False,
        "data.dir": str(data),
    }
    overrides.update(sets or {})
    config = resolve(
        registry.space(space),
        registry.strategy(strategy),
        "tiny",
        overrides,
        evaluators=registry.evaluator,
        datasets=registry.dataset,
    )
    return Run(SearchJob(config, registry), RunDir(Path(out)), []).execute(resume=False)


def iter_pairs() -> Iterator[tuple[str, str]]:
    """Every registered (strategy, space) pair, for exhaustive parametrised tests."""
    from nasframe.registry import get_registry

    registry = get_registry()
    for strategy in sorted(registry.strategies):
        for space in sorted(registry.spaces):
            yield strategy, space
