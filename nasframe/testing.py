"""Helpers for testing nasframe plugins: a fake installed distribution, and a tiny search end to end."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator

from nasframe.registry import reset_registry

SUBSET_ENV = "NASFRAME_TEST_DATA"


def subset_dir() -> Path | None:
    """The real-image CIFAR-10 subset: ``$NASFRAME_TEST_DATA``, else ``shared/data/cifar10-subset`` beside the checkout."""
    env = os.environ.get(SUBSET_ENV)
    here = Path(__file__).resolve()
    candidates = [Path(env)] if env else [p / "shared" / "data" / "cifar10-subset" for p in here.parents[:4]]
    for c in candidates:
        if (c / "cifar-10-batches-py" / "data_batch_1").is_file():
            return c
    return None


def write_cifar_like(root: Path, train: int = 2000, test: int = 500, seed: int = 0) -> Path:
    """A small CIFAR-10 look-alike in torchvision's layout under ``root``, for tests on a fresh clone.

    Each class is a coloured grating of its own orientation under uniform noise, so a tiny network
    learns it above chance within an epoch; the files are pickled as torchvision ships them.
    """
    import pickle

    import numpy as np

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32)

    def images(n: int) -> tuple[np.ndarray, list[int]]:
        labels = rng.integers(0, 10, n)
        angle = labels[:, None, None] * np.pi / 10
        phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
        wave = np.sin((np.cos(angle) * xx + np.sin(angle) * yy) * 0.6 + phase)  # [n, 32, 32]
        tint = np.stack([np.cos(labels * 0.6), np.sin(labels * 0.9), np.cos(labels * 1.3)], 1)[:, :, None, None]
        pixels = 128 + 60 * wave[:, None] * (0.6 + 0.4 * tint) + rng.uniform(-50, 50, (n, 3, 32, 32))
        return np.clip(pixels, 0, 255).astype(np.uint8).reshape(n, 3072), labels.tolist()

    for name, n in (("data_batch_1", train), ("test_batch", test)):
        data, labels = images(n)
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": labels}, f, protocol=2)
    return root


def cifar_data_dir() -> Path:
    """The real subset when it is beside the checkout, else a look-alike generated once per process."""
    global _generated
    found = subset_dir()
    if found is not None:
        return found
    if _generated is None:
        import tempfile

        _generated = write_cifar_like(Path(tempfile.mkdtemp(prefix="nasframe-cifar-like-")))
    return _generated


_generated: Path | None = None


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
    from nasframe.engine.loop import HookObserver, Run
    from nasframe.engine.search import SearchJob
    from nasframe.registry import get_registry
    from nasframe.storage.run_directory import RunDir

    registry = get_registry()
    data = data_dir or cifar_data_dir()
    overrides: dict[str, Any] = {
        "train.epochs": epochs,
        "seed": seed,
        "device": "cpu",
        "data.download": False,
        "data.dir": str(data),
    }
    overrides.update(sets or {})
    config = resolve(
        registry.space(space), registry.strategy(strategy), "tiny", overrides, evaluators=registry.evaluator
    )
    return Run(SearchJob(config, registry), RunDir(Path(out)), [HookObserver(registry)]).execute(resume=False)


def iter_pairs() -> Iterator[tuple[str, str]]:
    """Every registered (strategy, space) pair, for exhaustive parametrised tests."""
    from nasframe.registry import get_registry

    registry = get_registry()
    for strategy in sorted(registry.strategies):
        for space in sorted(registry.spaces):
            yield strategy, space
