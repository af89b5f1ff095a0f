"""Plugin discovery: built-ins and third parties both arrive through the ``nasframe`` entry points."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any, Callable, Generic, Mapping, TypeVar

import pluggy

from nasframe.interfaces import __version__
from nasframe.interfaces import hooks as hookspecs
from nasframe.interfaces.cost_model import CostModel
from nasframe.interfaces.dataset import Dataset
from nasframe.interfaces.errors import NasframeError, PluginError
from nasframe.interfaces.evaluator import Evaluator
from nasframe.interfaces.hooks import BUILTIN_DISTRIBUTION, ENTRY_POINT_GROUP
from nasframe.interfaces.launcher import Launcher
from nasframe.interfaces.space import DataInfo, SearchSpace
from nasframe.interfaces.strategy import Strategy
from nasframe.interfaces.world import World
from nasframe.measure import latency_table

T = TypeVar("T")


@dataclass(frozen=True)
class Registered(Generic[T]):
    """A registered class and where it came from."""

    name: str
    cls: type[T]
    plugin: str
    distribution: str
    version: str


@dataclass(frozen=True)
class PluginProblem:
    """A plugin that could not be used, and why."""

    plugin: str
    distribution: str
    reason: str

    def __str__(self) -> str:
        return f"plugin {self.plugin!r} (from {self.distribution}): {self.reason}"


@dataclass(frozen=True)
class ObserverPlugin:
    """A loaded plugin that implements hooks other than the register_* ones."""

    plugin: str
    distribution: str
    version: str
    hooks: list[str]


@dataclass
class Registry:
    """Everything the loaded plugins registered, by kind and name."""

    pm: pluggy.PluginManager
    strategies: dict[str, Registered[Strategy]] = field(default_factory=dict)
    spaces: dict[str, Registered[SearchSpace]] = field(default_factory=dict)
    evaluators: dict[str, Registered[Evaluator]] = field(default_factory=dict)
    cost_models: dict[str, Registered[CostModel]] = field(default_factory=dict)
    datasets: dict[str, Registered[Dataset]] = field(default_factory=dict)
    launchers: dict[str, Registered[Launcher]] = field(default_factory=dict)
    problems: list[PluginProblem] = field(default_factory=list)
    sources: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Loaded plugin name -> (distribution, version)."""

    KINDS = (
        ("register_strategies", "strategy", Strategy, "strategies"),
        ("register_search_spaces", "search space", SearchSpace, "spaces"),
        ("register_evaluators", "evaluator", Evaluator, "evaluators"),
        ("register_cost_models", "cost model", CostModel, "cost_models"),
        ("register_datasets", "data set", Dataset, "datasets"),
        ("register_launchers", "launcher", Launcher, "launchers"),
    )

    def add_plugin(self, module: ModuleType | object, plugin: str, distribution: str, version: str) -> None:
        """Register one plugin module and collect what it registers; a failure is recorded, not raised."""
        try:
            self.pm.register(module, name=plugin)
        except Exception as exc:  # pluggy validation errors, duplicate names
            self.problems.append(PluginProblem(plugin, distribution, f"invalid hooks: {exc}"))
            return
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(module)
            self.problems.append(PluginProblem(plugin, distribution, f"unknown hook: {exc}"))
            return
        staged: list[tuple[str, Registered[Any]]] = []
        try:
            for hook_name, kind, base, attr in self.KINDS:
                for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                    if impl.plugin is module:
                        impl.function(register=self._registrar(kind, base, attr, plugin, distribution, version, staged))
        except PluginError as exc:
            self.pm.unregister(module)
            self.problems.append(PluginProblem(plugin, distribution, str(exc)))
            return
        except Exception as exc:  # a plugin's own code raised: report it, keep the others working
            self.pm.unregister(module)
            self.problems.append(PluginProblem(plugin, distribution, f"raised {type(exc).__name__}: {exc}"))
            return
        for attr, reg in staged:
            getattr(self, attr)[reg.name] = reg
        self.sources[plugin] = (distribution, version)

    def _registrar(
        self, kind: str, base: type, attr: str, plugin: str, distribution: str, version: str, staged: list
    ) -> Callable[[type], None]:
        def register(cls: type) -> None:
            if not (isinstance(cls, type) and issubclass(cls, base)):
                raise PluginError(f"registered {cls!r} as a {kind}, but it is not a {base.__name__} subclass")
            name = getattr(cls, "name", "")
            if not name or not isinstance(name, str):
                raise PluginError(f"{kind} class {cls.__name__} has no `name`")
            existing = getattr(self, attr).get(name) or next(
                (r for a, r in staged if a == attr and r.name == name), None
            )
            if existing is not None:
                raise PluginError(
                    f"{kind} name {name!r} is already registered by plugin {existing.plugin!r} "
                    f"(from {existing.distribution})"
                )
            staged.append((attr, Registered(name, cls, plugin, distribution, version)))

        return register

    def _lookup(self, table: dict[str, Registered[T]], kind: str, name: str) -> type[T]:
        if name not in table:
            known = ", ".join(sorted(table)) or "none"
            broken = f" ({len(self.problems)} plugin(s) failed to load: see `nasframe list`)" if self.problems else ""
            raise NasframeError(f"unknown {kind} {name!r}; available: {known}{broken}")
        return table[name].cls

    def observers(self) -> list[ObserverPlugin]:
        """Plugins that implement observer or command hooks (they register no class, so list them apart)."""
        out = []
        for name, plugin in self.pm.list_name_plugin():
            hooks = sorted(
                caller.name
                for caller in self.pm.get_hookcallers(plugin) or []
                if not caller.name.startswith("register_") or caller.name == "register_commands"
            )
            if hooks and name in self.sources:
                distribution, version = self.sources[name]
                out.append(ObserverPlugin(name, distribution, version, hooks))
        return out

    def strategy(self, name: str) -> type[Strategy]:
        return self._lookup(self.strategies, "strategy", name)

    def space(self, name: str | None) -> type[SearchSpace]:
        """The search space ``name``; None: the one registered as the default."""
        return self._lookup(self.spaces, "search space", name if name is not None else self._default(self.spaces))

    def evaluator(self, name: str) -> type[Evaluator]:
        return self._lookup(self.evaluators, "evaluator", name)

    def published(self) -> dict[str, dict[str, Any]]:
        """Every space's shipped architectures by name; a name two spaces ship is a plugin error."""
        out: dict[str, dict[str, Any]] = {}
        for space in sorted(self.spaces):
            for name, obj in self.spaces[space].cls.published().items():
                if name in out:
                    raise PluginError(f"spaces {out[name]['space']!r} and {space!r} both ship an architecture {name!r}")
                out[name] = {**obj, "space": space}
        return out

    def cost_model(self, name: str) -> type[CostModel]:
        return self._lookup(self.cost_models, "cost model", name)

    def dataset(self, name: str | None) -> type[Dataset]:
        """The data set ``name``; None: the one registered as the default."""
        return self._lookup(self.datasets, "data set", name if name is not None else self._default(self.datasets))

    def launcher(self, name: str | None) -> type[Launcher]:
        """The launcher ``name``; None: the one registered as the default (runs tasks in this machine's processes)."""
        return self._lookup(self.launchers, "launcher", name if name is not None else self._default(self.launchers))

    @staticmethod
    def _default(table: Mapping[str, Registered[Any]]) -> str:
        """The one entry of ``table`` whose class says it is the default."""
        defaults = sorted(name for name, reg in table.items() if getattr(reg.cls, "default", False))
        if len(defaults) != 1:
            raise PluginError(
                f"{len(defaults)} registered plugins claim to be the default ({', '.join(defaults) or 'none'}) "
                "where one is needed: name one (`nasframe list` shows them)"
            )
        return defaults[0]

    def data_info(self, config: Mapping[str, Any]) -> DataInfo:
        """What a space needs of the run's data set, without reading it (``nasframe train --epochs 0``)."""
        return self.dataset(config["data"].get("dataset")).info(config)

    def build_data(self, config: Mapping[str, Any], device: Any, *, purpose: str, world: World = World()) -> Any:
        """The splits of the run's data set on ``device``; with several processes each batch is this rank's shard."""
        dataset = self.dataset(config["data"].get("dataset"))
        if world.active and not dataset.distributed:
            raise NasframeError(f"data set {dataset.name!r} does not shard over data-parallel processes")
        return dataset.build(config, device, purpose=purpose, world=world)

    def build_space(self, config: Mapping[str, Any], data: DataInfo | None = None) -> SearchSpace:
        """The space a run's config names, sized for ``data`` (by default what the config says of the data set)."""
        return self.space(config["space"]["name"])(own_keys(config["space"]), data or self.data_info(config))


def own_keys(section: Mapping[str, Any]) -> dict[str, Any]:
    """A plugin's config section without its ``name`` key: what its constructor takes."""
    return {k: v for k, v in section.items() if k != "name"}


def _allowed_plugins() -> set[str] | None:
    value = os.environ.get("NASFRAME_PLUGINS")
    if value is None:
        return None
    return {p.strip() for p in value.split(",") if p.strip()}


def load_registry() -> Registry:
    """Load every plugin of the ``nasframe`` entry-point group; ``NASFRAME_PLUGINS`` limits third parties."""
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    registry = Registry(pm)
    # The lookup latency table is part of the core (measure/), not a plugin: registered here, like a
    # plugin's cost model, so that a run always has the default `cost.model`.
    registry.add_plugin(latency_table, "lookup_latency", BUILTIN_DISTRIBUTION, __version__)
    allowed = _allowed_plugins()
    eps = sorted(
        metadata.entry_points(group=ENTRY_POINT_GROUP),
        key=lambda ep: (ep.dist is None or ep.dist.name != BUILTIN_DISTRIBUTION, ep.name),
    )
    seen: set[str] = set()
    for ep in eps:
        dist = ep.dist.name if ep.dist is not None else "unknown"
        version = ep.dist.version if ep.dist is not None else "?"
        if ep.name in seen:  # the same distribution seen twice on sys.path
            continue
        seen.add(ep.name)
        if dist != BUILTIN_DISTRIBUTION and allowed is not None and ep.name not in allowed and dist not in allowed:
            continue
        try:
            module = ep.load()
        except Exception as exc:
            registry.problems.append(PluginProblem(ep.name, dist, f"failed to import: {type(exc).__name__}: {exc}"))
            continue
        registry.add_plugin(module, ep.name, dist, version)
    return registry


_registry: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _registry
    if _registry is None:
        _registry = load_registry()
    return _registry


def reset_registry() -> None:
    """Forget the loaded plugins so the next ``get_registry`` looks again (after installing one)."""
    global _registry
    _registry = None
    importlib.invalidate_caches()
