"""The resumable epoch loop shared by searches and from-scratch training."""

from __future__ import annotations

import contextlib
import hashlib
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Iterator

import torch
from torch import nn

from nasframe.config import Schema, config_difference, run_hash
from nasframe.engine.device import prepare, resolve_device
from nasframe.engine.distributed import device_for, world_from_env
from nasframe.engine.divergence import check_finite
from nasframe.engine.run_kind import refuse_other_run
from nasframe.engine.signals import how, stop_signals_as_interrupts
from nasframe.interfaces import __version__
from nasframe.interfaces.errors import CheckpointError, Interrupted, NasframeError, OutOfMemory
from nasframe.interfaces.world import World
from nasframe.measure.memory import peak_memory_bytes
from nasframe.registry import Registry
from nasframe.storage import checkpoint as ckpt_io
from nasframe.storage.checkpoint import Checkpoint
from nasframe.storage.lock import hold
from nasframe.storage.run_directory import RunDir


class Observer:
    """Lightning-style callbacks: every hook is a no-op, override only what you need."""

    def on_run_start(self, run: Run) -> None:
        """The loop is about to train its first (or first resumed) epoch."""

    def on_epoch_start(self, run: Run, epoch: int) -> None:
        """An epoch starts."""

    def on_step_end(self, run: Run, step: int, steps: int) -> None:
        """A training step of the current epoch ended (``step`` of ``steps``, 1-based)."""

    def on_epoch_end(self, run: Run, epoch: int, metrics: dict[str, Any]) -> None:
        """An epoch ended; ``metrics`` is its events.jsonl record."""

    def on_run_end(self, run: Run, summary: dict[str, Any]) -> None:
        """The run finished; ``summary`` is its summary.json."""

    def on_exception(self, run: Run, exception: BaseException) -> None:
        """The run stopped on ``exception`` after ``on_run_start`` (an error, Ctrl-C, out of memory)."""


@dataclass
class Progress:
    """How far through its budget the run is, for learning-rate schedules."""

    epoch: int
    epochs: int
    elapsed: float
    seconds: float | None

    @property
    def fraction(self) -> float:
        """Share of the budget spent at the start of this epoch, in [0, 1)."""
        if self.seconds:
            return min(self.elapsed / self.seconds, 1.0)
        return self.epoch / max(self.epochs, 1)


class Job(ABC):
    """One kind of run the loop can drive: it owns its models, data and resumable state."""

    kind: ClassVar[str] = ""
    registry: Registry | None = None
    """The plugins whose hooks hear of the job's run (a job of the engine always has one)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.generators: dict[str, torch.Generator] = {}
        self.device = torch.device("cpu")
        self.world = World()
        self.run: Run | None = None

    @property
    def num_epochs(self) -> int:
        return int(self.config["train"]["epochs"])

    @abstractmethod
    def setup(self) -> None:
        """Build data, networks and optimizers (the global RNG is already seeded)."""

    @abstractmethod
    def train_epoch(self, progress: Progress) -> dict[str, Any]:
        """Train one epoch and validate; return the epoch's metrics including ``images`` trained."""

    @abstractmethod
    def save_state(self, ckpt: Checkpoint) -> None:
        """Put every tensor and value needed to continue into ``ckpt``."""

    @abstractmethod
    def load_state(self, ckpt: Checkpoint) -> None:
        """Restore what ``save_state`` wrote."""

    @abstractmethod
    def finish(self, rundir: RunDir, events: list[dict[str, Any]], elapsed: float) -> dict[str, Any]:
        """Write the run's results (arch.json, exports) and return summary.json's content."""

    def schema(self) -> Schema:
        """The keys this job's config holds: the engine's, and its space's and strategy's own."""
        return Schema.of()

    def identity(self) -> dict[str, Any]:
        """Values for the checkpoint metadata that name what was run (its space, its strategy)."""
        return {}

    def start(self, *streams: str) -> None:
        """The first lines of every ``setup``: this rank's device, and one seeded generator per random stream."""
        self.device = device_for(self.world, resolve_device(self.config["device"]))
        prepare(self.device)
        seed = int(self.config["seed"])
        self.generators = {name: torch.Generator().manual_seed(stream_seed(seed, name)) for name in streams}

    def place(self, model: nn.Module) -> tuple[nn.Module, torch.optim.SGD]:
        """``model`` on the device with rank 0's weights (channels-last on CUDA), and its SGD optimizer."""
        model = model.to(self.device)
        self.world.broadcast_module(model)
        tc = self.config["train"]
        if self.device.type == "cuda" and tc.get("channels_last"):
            model = model.to(memory_format=torch.channels_last)
        optimizer = torch.optim.SGD(
            model.parameters(), lr=tc["lr"], momentum=tc["momentum"], weight_decay=tc["weight_decay"]
        )
        return model, optimizer


def stream_seed(seed: int, stream: str) -> int:
    """Independent, reproducible seeds for each random stream of a run."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{stream}".encode()).digest()[:8], "little") & ((1 << 63) - 1)


class HookObserver(Observer):
    """Forwards the loop's events to the plugins' observer hooks (``on_epoch_end`` and the like).

    ``Run`` adds it for its job's registry: the one place plugin hooks are called, in every process that runs
    a job (a bench's parallel workers and every rank of a data-parallel run included).
    """

    def __init__(self, registry: Registry) -> None:
        self.hook = registry.pm.hook

    def on_run_start(self, run: Run) -> None:
        self.hook.on_run_start(run=run)

    def on_epoch_end(self, run: Run, epoch: int, metrics: dict[str, Any]) -> None:
        self.hook.on_epoch_end(run=run, epoch=epoch, metrics=metrics)

    def on_run_end(self, run: Run, summary: dict[str, Any]) -> None:
        self.hook.on_run_end(run=run, summary=summary)

    def on_exception(self, run: Run, exception: BaseException) -> None:
        self.hook.on_exception(run=run, exception=exception)


class Run:
    """A job bound to its run directory: what observers and plugin hooks receive as ``run``.

    ``observers`` are the caller's (a progress display); the plugins' hooks are always called after them,
    through the job's registry.
    """

    def __init__(self, job: Job, rundir: RunDir, observers: Iterable[Observer] = ()) -> None:
        self.job = job
        self.rundir = rundir
        self.observers = [*observers, *([HookObserver(job.registry)] if job.registry is not None else [])]
        self.config = job.config
        self.events: list[dict[str, Any]] = []
        self.epoch = 0
        self.elapsed = 0.0
        job.run = self

    @property
    def path(self):
        return self.rundir.path

    @property
    def world(self) -> World:
        """The processes of the run: a plugin that writes files does so where ``run.world.is_main``."""
        return self.job.world

    def _emit(self, name: str, *args: Any) -> None:
        for obs in self.observers:
            getattr(obs, name)(self, *args)

    def step_done(self, step: int, steps: int) -> None:
        """Called by jobs after each training step, for progress displays."""
        for obs in self.observers:
            obs.on_step_end(self, step, steps)

    def execute(self, resume: bool) -> dict[str, Any]:
        """Run (or continue) the job to its end; returns the summary.

        Order matters for the user: the config is checked, then compared with a resumed run's (finished
        or not), then the job sets up, and only then does the run folder appear; so a wrong value or a
        failed setup leaves nothing behind, and ``--resume`` never answers for another configuration.
        The folder is locked (``storage/lock.py``) for the whole run, and SIGTERM/SIGUSR1 stop it as Ctrl-C does.
        """
        with stop_signals_as_interrupts(), contextlib.ExitStack() as held:
            self._held = held
            return self._execute(resume)

    def _execute(self, resume: bool) -> dict[str, Any]:
        job = self.job
        job.config.update(job.schema().check(job.config, "the run's config"))
        job.world = world_from_env(resolve_device(job.config["device"]).type)
        self.rundir = rundir = RunDir(self.rundir.path, writable=job.world.is_main)
        if rundir.writable:
            self._held.enter_context(hold(rundir.path, read_only_ok=resume))
        rundir.prepare(resume)
        job.world.barrier()  # every rank has checked the directory before rank 0 writes to it
        if resume:
            saved = rundir.read_config()
            refuse_other_run(saved, job.config, rundir.path)
            self._compare(job.schema().check(saved, str(rundir.config)))
            if rundir.is_finished():
                return rundir.verify_finished()
            if not rundir.checkpoint.exists() and rundir.read_events():  # never restart from nothing silently
                raise CheckpointError(
                    f"cannot resume {rundir.path}: {rundir.events.name} records trained epochs but "
                    f"{rundir.checkpoint.name} is missing; restore it, or start again in a new --out"
                )
        try:
            torch.manual_seed(stream_seed(int(job.config["seed"]), "init"))
            with self._out_of_memory("setup"):
                job.setup()
        except KeyboardInterrupt as exc:
            kept = f"{rundir.path} is as it was" if resume else "nothing was written"
            raise Interrupted(f"{how(exc)} during setup; {kept}") from None
        job.config["versions"] = {"nasframe": __version__, "torch": torch.__version__}
        rundir.create()
        rundir.write_config(job.config)
        if resume and rundir.checkpoint.exists():
            self._restore(ckpt_io.load(rundir.checkpoint))
        try:
            summary = self._train_and_finish()
        except BaseException as exc:
            self._emit("on_exception", exc)
            raise
        self._emit("on_run_end", summary)
        return summary

    def _train_and_finish(self) -> dict[str, Any]:
        """on_run_start, the epochs left, then the job's results and summary.json; Ctrl-C keeps the last checkpoint."""
        job, rundir = self.job, self.rundir
        seconds = job.config.get("budget", {}).get("seconds")
        try:
            self._emit("on_run_start")
            while self.epoch < job.num_epochs and not (seconds and self.elapsed >= seconds):
                with self._out_of_memory(f"epoch {self.epoch + 1}"):
                    self._train_epoch(seconds)
            with self._out_of_memory("the final evaluation"):
                summary = job.finish(rundir, self.events, self.elapsed)
        except KeyboardInterrupt as exc:
            kept = f"keeps the checkpoint of epoch {self.epoch}" if self.epoch else "holds its config, no epoch yet"
            raise Interrupted(
                f"{how(exc)}; {rundir.path} {kept}. Continue with the same command plus --resume --out {rundir.path}"
            ) from None
        rundir.write_json(rundir.summary, summary)
        job.world.barrier()
        return summary

    def _train_epoch(self, seconds: float | None) -> None:
        job, rundir = self.job, self.rundir
        self._emit("on_epoch_start", self.epoch)
        start = time.perf_counter()
        metrics = job.train_epoch(Progress(self.epoch, job.num_epochs, self.elapsed, seconds))
        took = time.perf_counter() - start
        self.elapsed += took
        images = metrics.pop("images", 0)
        check_finite(metrics, job.config, self.epoch, rundir.path if rundir.checkpoint.exists() else None)
        record = {
            "epoch": self.epoch,
            **metrics,
            "seconds": round(took, 4),
            "images_per_second": round(images / took, 2) if took > 0 else None,
            "peak_memory_bytes": peak_memory_bytes(job.device),
        }
        self.events.append(record)
        self.epoch += 1
        rundir.write_events(self.events)
        if rundir.writable:
            self._checkpoint()
        job.world.barrier()
        self._emit("on_epoch_end", self.epoch - 1, record)

    def _compare(self, saved: dict[str, Any]) -> None:
        """Refuse to resume with a configuration other than the saved one, naming the keys that differ.

        A finished run is compared too: more epochs would change the learning-rate schedule of the epochs
        already trained, so a longer run is a new run (another --out), never an extension of this one.
        """
        if run_hash(saved) != run_hash(self.job.config):
            diff = config_difference(saved, self.job.config)
            raise NasframeError(
                f"cannot resume {self.rundir.path}: the configuration differs from the saved one ("
                + "; ".join(diff[:6])
                + "); rerun with the saved settings, or choose another --out for new ones"
            )

    @contextlib.contextmanager
    def _out_of_memory(self, phase: str) -> Iterator[None]:
        """Out of memory (CUDA, or the CPU allocator) as one line naming the batch size and how to continue."""
        try:
            yield
        except (torch.OutOfMemoryError, MemoryError) as exc:
            raise self._memory_error(phase, exc) from None
        except RuntimeError as exc:
            if "can't allocate memory" not in str(exc) and "out of memory" not in str(exc):
                raise
            raise self._memory_error(phase, exc) from None

    def _memory_error(self, phase: str, exc: BaseException) -> OutOfMemory:
        batch = self.job.config["train"]["batch_size"]
        kept = (
            f"{self.rundir.path} keeps the checkpoint of epoch {self.epoch}; free memory and continue with the "
            f"same command plus --resume --out {self.rundir.path}, or start a new --out with a smaller --batch-size"
            if self.rundir.checkpoint.exists()
            else "nothing was trained; try a smaller --batch-size"
        )
        return OutOfMemory(f"out of memory on {self.job.device} during {phase} at train.batch_size={batch}; {kept}")

    def _checkpoint(self) -> None:
        job = self.job
        ckpt = Checkpoint(
            meta={
                "kind": job.kind,
                "epoch": self.epoch,
                "elapsed": self.elapsed,
                "config_hash": run_hash(job.config),
                "config": job.config,
                "nasframe_version": __version__,
                "torch_version": torch.__version__,
                **job.identity(),
            }
        )
        job.save_state(ckpt)
        ckpt.tensors["rng.torch"] = torch.get_rng_state()
        if torch.cuda.is_available() and job.device.type == "cuda":
            ckpt.tensors["rng.cuda"] = torch.cuda.get_rng_state(job.device)
        for name, gen in job.generators.items():
            ckpt.tensors[f"rng.{name}"] = gen.get_state()
        ckpt.tensors["progress"] = torch.tensor([self.epoch], dtype=torch.int64)
        ckpt.meta["required"] = sorted(ckpt.tensors)
        ckpt_io.save(self.rundir.checkpoint, ckpt)

    def _restore(self, ckpt: Checkpoint) -> None:
        job, path = self.job, self.rundir.checkpoint
        meta = ckpt.meta
        if meta.get("kind") != job.kind:
            raise CheckpointError(
                f"checkpoint {path} was written by a {meta.get('kind')!r} run, not a {job.kind!r} run"
            )
        saved = meta.get("config")
        if isinstance(saved, dict):  # compared as the schema reads it: a run saved with 5000.0 for 5000 still resumes
            saved = job.schema().check(saved, f"the config in {path}")
        if (run_hash(saved) if isinstance(saved, dict) else meta.get("config_hash")) != run_hash(job.config):
            diff = config_difference(saved if isinstance(saved, dict) else {}, job.config)
            raise CheckpointError(
                f"checkpoint {path} was written by another configuration (" + "; ".join(diff[:6]) + ")"
            )
        for key, expected in job.identity().items():
            if meta.get(key) != expected:
                raise CheckpointError(f"checkpoint {path} was written for {key} {meta.get(key)!r}, not {expected!r}")
        try:
            job.load_state(ckpt)
            torch.set_rng_state(ckpt.tensors["rng.torch"])
            if "rng.cuda" in ckpt.tensors and job.device.type == "cuda":
                torch.cuda.set_rng_state(ckpt.tensors["rng.cuda"], job.device)
            for name, gen in job.generators.items():
                gen.set_state(ckpt.tensors[f"rng.{name}"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint {path} does not fit this run: {type(exc).__name__}: {exc}") from None
        self.epoch = int(meta["epoch"])
        self.elapsed = float(meta.get("elapsed", 0.0))
        self.events = [e for e in self.rundir.read_events() if e.get("epoch", 0) < self.epoch]
