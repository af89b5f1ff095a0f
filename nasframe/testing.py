"""Helpers for testing nasframe plugins, as pytest's ``pytester`` serves pytest's: a toy space and a fake search
context for a strategy's unit tests, a fake installed distribution, data for tests, and a tiny search end to end.
nasframe's own tests use the same helpers."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch

from nasframe.interfaces.decidedness import ranked_choices
from nasframe.interfaces.errors import ArchError
from nasframe.interfaces.space import DataInfo, Decision, SearchSpace, Supernet
from nasframe.interfaces.world import World
from nasframe.registry import reset_registry

SUBSET_ENV = "NASFRAME_TEST_DATA"


class ScalarSupernet(Supernet):
    """Logits ``[s, 0]`` for every image, with ``s`` a sum of one learnable number per choice: values a test
    can work out by hand. ``s = Σ_d gate_d · value[d, arch_d]`` for an Arch (a probe's path adds
    ``gates[d, 1] · value[d, probe_d]`` without a graph through the value), ``Σ_d Σ_c w[d, c] · value[d, c]`` for
    Relaxed weights ``w``."""

    def __init__(self, values: Sequence[Sequence[float]], names: Sequence[str]) -> None:
        super().__init__()
        width = max(len(v) for v in values)
        self.value = torch.nn.Parameter(torch.tensor([[*v, *[0.0] * (width - len(v))] for v in values]))
        self.names = list(names)

    def forward(self, x, arch, gates=None, probe=None):
        if isinstance(arch, torch.Tensor):
            s = (arch.to(self.value.dtype) * self.value).sum()
        else:
            rows = range(len(self.names))
            chosen = torch.stack([self.value[d, arch[self.names[d]]] for d in rows])
            if probe is None:
                s = (chosen * (torch.ones(len(rows)) if gates is None else gates)).sum()
            else:
                other = torch.stack([self.value[d, probe[self.names[d]]].detach() for d in rows])
                s = (gates[:, 0] * chosen + gates[:, 1] * other).sum()
        return torch.stack([s, torch.zeros_like(s)]).expand(len(x), 2)


class ToySpace(SearchSpace):
    """Named decisions over given choices (``skip`` counts as a shortcut), two classes, no data: a strategy's
    unit tests run on it. ``supernet`` builds the test's own network; the default is a ``ScalarSupernet``
    whose values are 1, 2, 3, ... in choice order."""

    name = "toy"
    shortcuts = frozenset({"skip"})

    def __init__(
        self,
        choices: Mapping[str, Sequence[str]] | None = None,
        supernet: Callable[[], Supernet] | None = None,
        num_classes: int = 2,
    ) -> None:
        super().__init__({}, DataInfo(self.name, num_classes=num_classes, image_size=1, channels=1))
        choices = choices if choices is not None else {"d0": ("a", "b", "c"), "d1": ("a", "skip")}
        self._decisions = tuple(Decision(name, tuple(options)) for name, options in choices.items())
        self._supernet = supernet

    @property
    def decisions(self) -> tuple[Decision, ...]:
        return self._decisions

    def build_supernet(self) -> Supernet:
        if self._supernet is not None:
            return self._supernet()
        start = 1.0
        values = []
        for d in self._decisions:
            values.append([start + k for k in range(len(d.choices))])
            start += len(d.choices)
        return ScalarSupernet(values, [d.name for d in self._decisions])

    def build_child(self, arch):
        supernet = self.build_supernet()

        class Child(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.supernet = supernet

            def forward(self, x):
                return self.supernet(x, arch)

        return Child()

    def derive(self, scores, generator=None):
        """The highest score per decision, ties drawn from ``generator``."""
        return {name: ranked_choices(values.tolist(), generator)[0] for name, values in scores.items()}

    def arch_to_json(self, arch):
        return {"space": self.name, "arch": dict(self.check_arch(arch))}

    def arch_from_json(self, obj):
        if not isinstance(obj, Mapping) or not isinstance(obj.get("arch"), Mapping):
            raise ArchError('a toy arch.json is {"space": "toy", "arch": {decision: index}}')
        return self.check_arch(obj["arch"])


def fake_context(space: Any, *, supernet: Any = None, seed: int = 0, config: dict[str, Any] | None = None) -> Any:
    """What ``strategy.ctx`` offers, without an engine, data or budget: the supernet (``space``'s unless given),
    the CPU, a seeded generator, ``forward_loss`` (cross-entropy of the supernet's logits), ``derive`` with that
    generator, ``sample_feasible`` that just draws, and no cost terms. For a strategy's unit tests; its
    end-to-end tests use ``tiny_search``."""
    from types import SimpleNamespace

    supernet = supernet if supernet is not None else space.build_supernet()
    generator = torch.Generator().manual_seed(seed)

    def forward_loss(batch, arch, amp=True, gates=None, probe=None):
        logits = supernet(batch[0], arch) if gates is None and probe is None else supernet(batch[0], arch, gates, probe)
        return torch.nn.functional.cross_entropy(logits, batch[1]), logits

    return SimpleNamespace(
        config=config or {},
        space=space,
        supernet=supernet,
        device=torch.device("cpu"),
        generator=generator,
        val_generator=torch.Generator().manual_seed(seed + 1),
        world=World(),
        forward_loss=forward_loss,
        derive=lambda scores: space.derive(space.scores_from_tensor(scores), generator),
        sample_feasible=lambda draw: draw(),
        cost_terms=lambda weights: [],
    )


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


KILL_AFTER_EPOCH = "KILL_AFTER_EPOCH"
"""The environment variable ``install_killer``'s plugin reads: the 1-based epoch after which it kills its process."""

_KILLER = """
import os, signal
import nasframe

@nasframe.hookimpl
def on_epoch_end(run, epoch, metrics):
    if epoch + 1 == int(os.environ["KILL_AFTER_EPOCH"]):
        os.kill(os.getpid(), signal.SIGKILL)
"""


def install_killer(root: Path) -> Path:
    """A plugin that SIGKILLs its own process once epoch ``$KILL_AFTER_EPOCH`` (1-based) is checkpointed: put the
    returned folder on a subprocess's PYTHONPATH to test that a killed run resumes to the uninterrupted result."""
    return install_plugin(root, "killer", {"killer": "killer_plugin"}, {"killer_plugin": _KILLER})


PAUSE_DIR = "NASFRAME_TEST_PAUSE_DIR"
"""The environment variable ``install_pauser``'s plugin reads: the folder of its marker file ``paused``."""

_PAUSER = """
import os, pathlib, time
import nasframe

@nasframe.hookimpl
def on_epoch_end(run, epoch, metrics):
    marker = pathlib.Path(os.environ.get("NASFRAME_TEST_PAUSE_DIR", "/nonexistent")) / "paused"
    if epoch == 0 and marker.parent.is_dir() and not marker.exists():
        marker.write_text(str(run.path))
        time.sleep(600)
"""


def install_pauser(root: Path) -> Path:
    """A plugin that stops the first run to checkpoint its first epoch (while ``$NASFRAME_TEST_PAUSE_DIR/paused``
    is absent: it writes the run's folder there and sleeps), so that a test can kill or preempt the node, job or
    process it runs in at a known point. Put the returned folder on PYTHONPATH of the processes that train."""
    return install_plugin(root, "pauser", {"pauser": "pauser_plugin"}, {"pauser_plugin": _PAUSER})


def wait_for_pause(pause_dir: Path, driver: Any, deadline: float = 300) -> Path:
    """The folder of the run ``install_pauser``'s plugin stopped, once it stopped; fails if ``driver`` (a Popen of the
    study command) ends first or nothing pauses in time."""
    marker = Path(pause_dir) / "paused"
    end = time.monotonic() + deadline
    while not marker.exists():
        if driver.poll() is not None:
            raise AssertionError(f"the study ended before any run paused:\n{driver.communicate()[0]}")
        if time.monotonic() > end:
            raise AssertionError("no run paused")
        time.sleep(0.2)
    time.sleep(0.2)  # the marker is written before the sleep starts
    return Path(marker.read_text())


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
