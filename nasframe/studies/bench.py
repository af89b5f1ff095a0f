"""Head-to-head benchmarks (``nasframe bench``): every strategy on the same space, data, seeds and budget.

A bench is a grid of *trials*, one per (strategy, seed). Every trial is an ordinary search run
directory written by :class:`~nasframe.engine.SearchJob` and :class:`~nasframe.loop.Run`, under
``OUT/trials/<strategy>-seed<k>/``. Fairness comes from how the trial configs are built:

* one resolution per trial with ``strategy_presets=False``: the space's preset decides the supernet,
  data split and training recipe for everyone; a strategy's preset contributes only its own
  ``strategy.*`` keys (e.g. random search's candidate count);
* the same ``--set`` overrides, budget (``train.epochs`` and/or ``budget.seconds``) and seed list for
  every strategy; the train/validation split depends only on the ``data`` config, which is checked
  to be identical across trials before anything runs;
* one evaluation protocol: the engine's validation accuracy of the final architecture with the
  shared supernet weights (``val_accuracy`` of the search summary) and, with ``retrain_epochs > 0``,
  the test accuracy after training that architecture from scratch with the space's train preset
  (:class:`~nasframe.training.TrainJob`, ``OUT/trials/<trial>/retrain/``), identical for all.

``OUT/bench.json`` records the settings (a rerun with other settings is refused) and the protocol
(:mod:`nasframe.studies.protocol`: budget, split sizes, selection rules, BN mode, retraining recipe,
versions, device); ``--set NAME:strategy.KEY=V`` gives strategy NAME's trials a key of their own;
``OUT/results.jsonl`` holds one row per finished trial, rewritten atomically after each. A rerun
with the same ``--out`` skips finished trials and resumes an interrupted one from its checkpoint.

Under a wall-clock budget (``seconds``) the loop stops at the first epoch end at or past the budget,
so a trial overshoots by less than one epoch; ``train.epochs`` is then a large cap unless given.
Peak memory is reset before each trial: the CUDA allocator's peak on a GPU, the process's peak
resident set size on CPU (Linux ``/proc/self/clear_refs``), which includes Python, torch and data.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from nasframe.config import PRESETS, config_difference, is_portable, resolve
from nasframe.engine.device import resolve_device
from nasframe.engine.loop import Observer, Run
from nasframe.interfaces.errors import ConfigError, Interrupted, NasframeError
from nasframe.interfaces.launcher import Launcher, Outcome
from nasframe.measure.memory import reset_peak_memory
from nasframe.registry import Registry, get_registry
from nasframe.storage import readers
from nasframe.storage.atomic import write_json_atomic, write_jsonl_atomic
from nasframe.storage.run_directory import RunDir
from nasframe.studies.comparison import DECISION_MEANS
from nasframe.studies.launching import StudyTask, TasksInterrupted, drive, make_launcher, note_launch
from nasframe.studies.protocol import protocol_record, versions

BENCH_FILE = "bench.json"
RESULTS_FILE = "results.jsonl"
TRIALS_DIR = "trials"
RETRAIN_DIR = "retrain"
FORMAT = 1
EPOCH_CAP = 1_000_000
"""``train.epochs`` under a seconds budget when no epoch count is given: the clock decides."""

DECISION_KEYS = DECISION_MEANS
"""How decided a trial's final distribution was (the strategy's last metrics, see ``nasframe.distribution_metrics``):
the row keys the report averages (``comparison``)."""


def parse_names(text: str, what: str) -> tuple[str, ...]:
    """``a,b,c`` as a tuple of distinct non-empty names."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        raise ConfigError(f"--{what} is empty; give a comma-separated list")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"--{what} lists {', '.join(dupes)} more than once")
    return names


def parse_seeds(text: str) -> tuple[int, ...]:
    """``0,1,2`` as distinct integers."""
    parts = parse_names(text, "seeds")
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        raise ConfigError(f"--seeds takes comma-separated integers, not {text!r}") from None


@dataclass(frozen=True)
class BenchSpec:
    """What a bench was asked to do. ``settings()`` is what a rerun must repeat exactly."""

    space: str
    strategies: tuple[str, ...]
    seeds: tuple[int, ...]
    preset: str = "paper"
    epochs: int | None = None
    seconds: float | None = None
    retrain_epochs: int = 0
    overrides: Mapping[str, Any] = field(default_factory=dict)
    """``--set`` for the searches (every key but the portable ones is part of the bench's identity);
    ``NAME:strategy.KEY`` sets a key of strategy NAME only (e.g. ``mdenas:strategy.sample_every``)."""
    retrain_overrides: Mapping[str, Any] = field(default_factory=dict)
    """``--retrain-set`` for the from-scratch training of each final architecture."""

    def __post_init__(self) -> None:
        if not self.strategies:
            raise ConfigError("--strategies is empty; name at least one strategy (see `nasframe list`)")
        if not self.seeds:
            raise ConfigError("--seeds is empty; give at least one seed, e.g. --seeds 0,1,2")
        if len(set(self.strategies)) != len(self.strategies):
            raise ConfigError("--strategies lists a strategy more than once")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError("--seeds lists a seed more than once")
        if self.preset not in PRESETS:
            raise ConfigError(f"unknown preset {self.preset!r}; available: {', '.join(PRESETS)}")
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError(f"--epochs must be at least 1 for a bench, not {self.epochs}")
        if self.seconds is not None and not self.seconds > 0:
            raise ConfigError(f"--budget-seconds must be positive, not {self.seconds}")
        if self.retrain_epochs < 0:
            raise ConfigError(f"--retrain-epochs must be 0 or more, not {self.retrain_epochs}")
        for key in self.overrides:
            name, sep, own = key.partition(":")
            if sep and (name not in self.strategies or not own.startswith("strategy.") or own == "strategy.name"):
                raise ConfigError(
                    f"--set {key}=... must be STRATEGY:strategy.KEY with a strategy of this bench "
                    "(a strategy's own keys; everything else is shared by every strategy)"
                )
        for key in ("seed", "strategy.name", "space.name"):
            if key in self.overrides:
                raise ConfigError(f"--set {key}=... is not allowed in a bench: use --seeds, --strategies or --space")
        for key in ("train.epochs", "budget.seconds"):
            if key in self.overrides:
                flag = "--epochs" if key == "train.epochs" else "--budget-seconds"
                raise ConfigError(f"--set {key}=... is not allowed in a bench: use {flag}, the bench's budget")
        for key in ("seed", "train.epochs", "space.name"):
            if key in self.retrain_overrides:
                raise ConfigError(
                    f"--retrain-set {key}=... is not allowed: the bench sets it (--seeds, --retrain-epochs)"
                )

    def budget_overrides(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.epochs is not None:
            out["train.epochs"] = self.epochs
        elif self.seconds is not None:
            out["train.epochs"] = EPOCH_CAP
        if self.seconds is not None:
            out["budget.seconds"] = float(self.seconds)
        return out

    def strategy_overrides(self, name: str) -> dict[str, Any]:
        """The search overrides of strategy ``name``'s trials: the shared ones plus its own ``NAME:`` keys."""
        shared = {k: v for k, v in self.overrides.items() if ":" not in k}
        return {**shared, **{k.partition(":")[2]: v for k, v in self.overrides.items() if k.startswith(f"{name}:")}}

    def settings(self) -> dict[str, Any]:
        """The bench's identity, as bench.json stores it (without the portable overrides)."""
        return {
            "space": self.space,
            "strategies": list(self.strategies),
            "seeds": list(self.seeds),
            "preset": self.preset,
            "budget": {"epochs": self.epochs, "seconds": self.seconds},
            "retrain_epochs": self.retrain_epochs,
            "overrides": {k: v for k, v in self.overrides.items() if not is_portable(k)},
            "retrain_overrides": {k: v for k, v in self.retrain_overrides.items() if not is_portable(k)},
        }


@dataclass
class Trial:
    """One (strategy, seed) search of a bench and, optionally, the from-scratch training of its result."""

    index: int
    strategy: str
    seed: int
    config: dict[str, Any]
    rundir: RunDir

    @property
    def name(self) -> str:
        return f"{self.strategy}-seed{self.seed}"

    @property
    def key(self) -> tuple[str, int]:
        return (self.strategy, self.seed)

    @property
    def retrain_dir(self) -> RunDir:
        return RunDir(self.rundir.path / RETRAIN_DIR)


class BenchObserver(Observer):
    """An :class:`~nasframe.loop.Observer` that also hears about the bench's trials (all no-ops)."""

    def on_bench_start(self, bench: Bench, pending: int) -> None:
        """The bench starts; ``pending`` of its trials are not finished yet."""

    def on_trial_start(self, bench: Bench, trial: Trial, phase: str) -> None:
        """``phase`` ``search`` or ``retrain`` of ``trial`` starts (the loop's hooks follow)."""

    def on_trial_end(self, bench: Bench, trial: Trial, row: dict[str, Any], skipped: bool) -> None:
        """``trial`` is finished; ``skipped`` when an earlier run of the bench had finished it."""

    def on_bench_end(self, bench: Bench, rows: list[dict[str, Any]]) -> None:
        """Every trial is finished; ``rows`` is results.jsonl."""


def _shared(config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a trial config that must be the same for every trial."""
    out = copy.deepcopy(dict(config))
    out.pop("seed", None)
    out.pop("strategy", None)
    return out


def read_results(path: Path) -> list[dict[str, Any]]:
    return readers.read_results(path)


def read_bench(out: Path) -> dict[str, Any]:
    """bench.json of a bench directory."""
    path = Path(out) / BENCH_FILE
    if not path.exists():
        raise NasframeError(f"{out} is not a bench directory: it has no {BENCH_FILE}")
    return readers.read_bench(path)


class Bench:
    """A head-to-head benchmark: the trials of a :class:`BenchSpec`, run (or resumed) in ``out``."""

    def __init__(self, spec: BenchSpec, out: Path | str, registry: Registry | None = None) -> None:
        self.spec = spec
        self.out = Path(out)
        self.registry = registry or get_registry()
        self.space_cls = self.registry.space(spec.space)
        strategy_classes = {name: self.registry.strategy(name) for name in spec.strategies}
        self.trials: list[Trial] = []
        for seed in spec.seeds:  # seed-major: a strategy's trials are spread over the bench's wall time
            for name in spec.strategies:
                overrides = {**spec.strategy_overrides(name), **spec.budget_overrides(), "seed": seed}
                config = resolve(
                    self.space_cls,
                    strategy_classes[name],
                    spec.preset,
                    overrides,
                    strategy_presets=False,
                    evaluators=self.registry.evaluator,
                    datasets=self.registry.dataset,
                )
                rundir = RunDir(self.out / TRIALS_DIR / f"{name}-seed{seed}")
                self.trials.append(Trial(len(self.trials), name, seed, config, rundir))
        self.shared_config = _shared(self.trials[0].config)
        for trial in self.trials[1:]:
            diff = config_difference(self.shared_config, _shared(trial.config))
            if diff:  # cannot happen with strategy_presets=False unless a plugin mutates its config
                raise NasframeError(f"trial {trial.name} would not share the bench's settings: {'; '.join(diff[:4])}")
        if spec.retrain_epochs:  # a bad --retrain-set fails now, not after the searches
            self.retrain_config(spec.seeds[0])
        self.results_path = self.out / RESULTS_FILE
        self.failed: list[Outcome] = []
        """The outcomes of the trials that failed in the last :meth:`execute`."""
        self.bench_path = self.out / BENCH_FILE

    # -- settings -------------------------------------------------------------------------------
    def retrain_overrides(self, seed: int) -> dict[str, Any]:
        """The from-scratch training config's overrides: same data set, device and seed as the search."""
        shared = {k: self.shared_config["data"][k.split(".")[1]] for k in ("data.dataset", "data.dir", "data.download")}
        return {
            **shared,
            "device": self.shared_config["device"],
            **self.spec.retrain_overrides,
            "train.epochs": self.spec.retrain_epochs,
            "seed": seed,
        }

    def retrain_config(self, seed: int) -> dict[str, Any]:
        """The resolved from-scratch training config of a trial with ``seed`` (its arch aside)."""
        overrides = self.retrain_overrides(seed)
        return resolve(self.space_cls, None, self.spec.preset, overrides, train=True, datasets=self.registry.dataset)

    def record(self) -> dict[str, Any]:
        """bench.json: the settings, the budget as resolved, and the config every trial shares."""
        budget = {
            "epochs": int(self.shared_config["train"]["epochs"]),
            "seconds": self.shared_config["budget"].get("seconds"),
            "epochs_capped": self.spec.epochs is None and self.spec.seconds is not None,
        }
        shared = copy.deepcopy(self.shared_config)
        return {
            "format": FORMAT,
            "kind": "bench",
            "settings": self.spec.settings(),
            "budget": budget,
            "trials": [
                {"strategy": t.strategy, "seed": t.seed, "dir": str(t.rundir.path.relative_to(self.out))}
                for t in self.trials
            ],
            "shared_config": shared,
            "strategy_configs": {t.strategy: t.config["strategy"] for t in self.trials},
            "portable": {k: v for k, v in self.spec.overrides.items() if is_portable(k)},
            "versions": versions(),
            "protocol": protocol_record(
                self.space_cls,
                {t.strategy: (self.registry.strategy(t.strategy), t.config["strategy"]) for t in self.trials},
                self.registry.evaluator(self.shared_config["evaluator"]["name"]),
                self.shared_config,
                self.spec.seeds,
                budget,
                self.retrain_config(self.spec.seeds[0]) if self.spec.retrain_epochs else None,
                self.registry.dataset(self.shared_config["data"]["dataset"]).sizes,
            ),
        }

    def check_out(self) -> None:
        """Write bench.json, or check that the one there describes this same bench."""
        if self.out.exists() and not self.out.is_dir():
            raise NasframeError(f"--out {self.out} is a file, not a directory")
        started = self.results_path.exists() or (self.out / TRIALS_DIR).exists()  # a trial got past its setup
        if self.bench_path.exists():
            saved = read_bench(self.out).get("settings", {})
            diff = config_difference(saved, self.spec.settings())
            if not diff:
                return
            if started:
                raise NasframeError(
                    f"{self.out} holds another bench ({'; '.join(diff[:6])}); rerun with the same settings "
                    "to continue it, or choose another --out"
                )
            # no trial got past its setup (say, a budget no architecture meets): nothing to keep, the retry proceeds
        elif RunDir(self.out).holds_run() or started:
            raise NasframeError(
                f"{self.out} holds something other than a bench (no {BENCH_FILE}); choose another --out"
            )
        write_json_atomic(self.bench_path, self.record())

    # -- running --------------------------------------------------------------------------------
    def execute(self, observers: Iterable[Observer] = (), launcher: Launcher | None = None) -> list[dict[str, Any]]:
        """Run every unfinished trial on ``launcher`` (default: one by one in this process), resuming an
        interrupted one; returns results.jsonl's rows. A failed trial does not stop the others: its outcome
        is in :attr:`failed`, and rerunning the bench retries it.

        Whatever the launcher, every trial is independent and seeded, so the rows are those of running
        them one after another here; each finished row goes to results.jsonl as it arrives.
        """
        observers = list(observers)
        bench_obs = [o for o in observers if isinstance(o, BenchObserver)]
        self.check_out()
        launcher = launcher or make_launcher(None, {}, self.out, self.registry)
        done = {(r.get("strategy"), r.get("seed")): r for r in read_results(self.results_path)}
        pending = [t for t in self.trials if t.key not in done]
        note_launch(self.bench_path, launcher)
        for obs in bench_obs:
            obs.on_bench_start(self, len(pending))
        for trial in self.trials:
            if trial.key in done:
                for obs in bench_obs:
                    obs.on_trial_end(self, trial, done[trial.key], True)
        out = str(self.out.resolve())  # a worker on another node starts in another folder
        tasks = [StudyTask(t.name, out, TrialWork(self.spec, out, t.index)) for t in pending]
        by_name = {t.name: t for t in pending}
        try:
            self.failed = drive(
                launcher,
                tasks,
                self.out,
                observers,
                lambda task, row: self._record(by_name[task.name], row, done, bench_obs),
            )
        except TasksInterrupted as exc:
            raise Interrupted(
                f"interrupted in trial {', '.join(exc.started) or '(none started)'}; {self.out} keeps the finished "
                f"trials and the last checkpoint of each unfinished one. Continue with the same command and --out {self.out}"
            ) from None
        return self._end(done, bench_obs)

    def _record(
        self,
        trial: Trial,
        row: dict[str, Any],
        done: dict[tuple[str, int], dict[str, Any]],
        bench_obs: Sequence[BenchObserver],
    ) -> None:
        """A finished trial's row goes to disk at once: an interrupted bench keeps it."""
        done[trial.key] = row
        self.write_results(done)
        for obs in bench_obs:
            obs.on_trial_end(self, trial, row, False)

    def _end(
        self, done: Mapping[tuple[str, int], dict[str, Any]], bench_obs: Sequence[BenchObserver]
    ) -> list[dict[str, Any]]:
        rows = self.ordered(done)
        for obs in bench_obs:
            obs.on_bench_end(self, rows)
        return rows

    def ordered(self, done: Mapping[tuple[str, int], dict[str, Any]]) -> list[dict[str, Any]]:
        return [done[t.key] for t in self.trials if t.key in done]

    def write_results(self, done: Mapping[tuple[str, int], dict[str, Any]]) -> None:
        write_jsonl_atomic(self.results_path, self.ordered(done))

    def run_trial(
        self, trial: Trial, observers: Sequence[Observer], bench_obs: Sequence[BenchObserver]
    ) -> dict[str, Any]:
        """The trial's search (resumed when its directory holds one) and its retraining; its results row."""
        from nasframe.engine.search import SearchJob

        device = resolve_device(trial.config["device"])
        if trial.rundir.is_finished():
            summary = trial.rundir.read_summary()
        else:
            for obs in bench_obs:
                obs.on_trial_start(self, trial, "search")
            reset_peak_memory(device)
            job = SearchJob(copy.deepcopy(trial.config), self.registry)
            summary = Run(job, trial.rundir, observers).execute(resume=trial.rundir.config.exists())
        retrain = None
        if self.spec.retrain_epochs:
            retrain = self.retrain(trial, summary["arch"], observers, bench_obs)
        return {**trial_row(trial, summary, retrain, self.out), "device": str(device)}

    def retrain(
        self, trial: Trial, arch_json: dict[str, Any], observers: Sequence[Observer], bench_obs: Sequence[BenchObserver]
    ) -> dict[str, Any]:
        from nasframe.engine.training import TrainJob, train_config

        rundir = trial.retrain_dir
        if rundir.is_finished():
            return rundir.read_summary()
        for obs in bench_obs:
            obs.on_trial_start(self, trial, "retrain")
        config = train_config(arch_json, self.spec.preset, self.retrain_overrides(trial.seed), self.registry)
        reset_peak_memory(resolve_device(config["device"]))
        return Run(TrainJob(config, self.registry), rundir, observers).execute(resume=rundir.config.exists())


@dataclass(frozen=True)
class TrialWork:
    """One trial as picklable work for a launcher: the bench is rebuilt from its spec wherever it runs."""

    spec: BenchSpec
    out: str
    index: int

    def __call__(self, observers: Sequence[Observer] = (), device: str | None = None) -> dict[str, Any]:
        bench = Bench(self.spec, self.out)
        trial = bench.trials[self.index]
        if device is not None:  # a pool worker's own device: no part of the trial's identity
            bench.shared_config["device"] = trial.config["device"] = device
        return bench.run_trial(trial, observers, [o for o in observers if isinstance(o, BenchObserver)])


def trial_row(trial: Trial, summary: Mapping[str, Any], retrain: Mapping[str, Any] | None, out: Path) -> dict[str, Any]:
    """One results.jsonl row: the search summary's metrics plus the from-scratch test accuracy."""
    retrain = retrain or {}
    return {
        "strategy": trial.strategy,
        "seed": trial.seed,
        "trial": str(trial.rundir.path.relative_to(out)),
        "arch": summary.get("arch"),
        "val_accuracy": summary.get("val_accuracy"),
        "val_loss": summary.get("val_loss"),
        "retrain_test_accuracy": retrain.get("test_accuracy"),
        "params": summary.get("params"),
        "flops": summary.get("flops"),
        "latency_ms": summary.get("latency_ms"),
        "predicted_latency_ms": summary.get("predicted_latency_ms"),
        "latency_error": summary.get("latency_error"),
        "search_seconds": summary.get("search_seconds"),
        "selection_seconds": summary.get("selection_seconds"),
        "images_per_second": summary.get("images_per_second"),
        "peak_memory_bytes": summary.get("peak_memory_bytes"),
        "epochs": summary.get("epochs"),
        "budget": summary.get("budget"),
        "retrain_epochs": retrain.get("epochs"),
        "retrain_seconds": retrain.get("train_seconds"),
        "retrain_params": retrain.get("params"),
        "retrain_flops": retrain.get("flops"),
        **{key: (summary.get("strategy_metrics") or {}).get(key) for key in DECISION_KEYS},
        **ground_truth_columns(summary.get("benchmark"), trial.config["data"]["dataset"]),
    }


def ground_truth_columns(record: Mapping[str, Any] | None, dataset: str) -> dict[str, Any]:
    """``benchmark_accuracy`` and ``benchmark_regret`` on the run's data set, where the space publishes them
    (a row of a space without a table has neither column)."""
    if not record or dataset not in record:
        return {}
    return {"benchmark_accuracy": record[dataset], "benchmark_regret": record.get(f"regret_{dataset}")}
