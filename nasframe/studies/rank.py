"""The performance-ranking study behind ``nasframe rank`` (docs/algorithms.md#ranking-study, MdeNAS Figure 4).

Sample N architectures, train each and validate it after every epoch, then compare every epoch's
ranking with the final one (Kendall's τ-b). Two evaluators:

* ``scratch``: each architecture's child network trains from scratch on the training part of the
  training set and is validated on the held-out validation part (never the test set); each is an
  ordinary resumable run directory ``OUT/archs/<i>/`` driven by the shared epoch loop.
* ``supernet``: one weight-sharing supernet trains single paths drawn uniformly from the N
  architectures (one per step) and validates each of them with the shared weights after every
  epoch; one run directory ``OUT/supernet/``.

``OUT/study.json`` pins the settings and the sampled architectures: rerunning the same command
skips finished architectures and resumes an unfinished one; other settings on the same ``OUT``
are refused. Results: ``rank.jsonl`` (one line per architecture, per-epoch validation accuracy and
loss), ``tau.json`` (τ and p_τ per epoch, their mean) and ``rank.png`` (with matplotlib).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from nasframe.config import config_difference, resolve, run_hash
from nasframe.data import DataModule
from nasframe.engine.loop import Job, Observer, Progress, Run, stream_seed
from nasframe.engine.search import SupernetJob
from nasframe.engine.training import TrainJob
from nasframe.interfaces.errors import Interrupted, NasframeError
from nasframe.interfaces.launcher import Launcher
from nasframe.measure.memory import peak_memory_bytes
from nasframe.measure.rank_correlation import PAPER_MEAN_TAU, epoch_taus, kendall_tau_b, mean_tau, p_tau
from nasframe.registry import Registry, get_registry
from nasframe.storage import readers
from nasframe.storage.atomic import write_atomic, write_json_atomic, write_jsonl_atomic
from nasframe.storage.lock import LOCK_FILE
from nasframe.storage.run_directory import RunDir
from nasframe.studies import RANK_EVALUATORS
from nasframe.studies.launching import StudyTask, TasksInterrupted, drive, failure_message, make_launcher, note_launch

STUDY_FILE = "study.json"
RANK_FILE = "rank.jsonl"
TAU_FILE = "tau.json"
PLOT_FILE = "rank.png"
PLOT_HINT = "plot skipped: matplotlib is not installed (pip install matplotlib)"
NOTE = (
    f"MdeNAS reports a mean τ of {PAPER_MEAN_TAU} on full CIFAR-10; absolute numbers from a small or "
    "JPEG-recompressed subset, a tiny preset or few epochs are not comparable with it."
)


class ValTrainJob(TrainJob):
    """``TrainJob`` on the search split: trains on the training part, validates on the held-out part."""

    kind = "rank-train"

    def load_data(self) -> DataModule:
        data = self.registry.build_data(self.config, self.device, purpose="search")
        cutout = int(self.config["data"].get("cutout") or 0)
        if cutout and hasattr(data.train, "cutout"):  # the training recipe's cutout (the search split has none)
            data.train.cutout = cutout
        return DataModule(data.info, data.train, data.val, data.val)

    def test(self) -> dict[str, float]:
        out = super().test()  # runs on self.data.test, which is the validation split here
        return {"val_loss": out["test_loss"], "val_accuracy": out["test_accuracy"]}

    def finish(self, rundir: RunDir, events: list[dict[str, Any]], elapsed: float) -> dict[str, Any]:
        summary = super().finish(rundir, events, elapsed)
        summary.pop("test_accuracy", None)
        summary.pop("test_loss", None)
        last = events[-1] if events else {}
        summary["val_accuracy"] = last.get("val_accuracy")
        summary["val_loss"] = last.get("val_loss")
        return summary


class SupernetRankJob(SupernetJob):
    """One supernet trained with uniform single paths over the study's architectures, each validated per epoch."""

    kind = "rank-supernet"

    def setup(self) -> None:
        super().setup()
        self.archs = [self.space.arch_from_json(a) for a in self.config["archs"]]

    def train_epoch(self, progress: Progress) -> dict[str, Any]:
        assert self.run is not None
        ctx = self.ctx
        lr = self.start_epoch(progress)
        steps = len(self.data.train)
        for i, batch in enumerate(self.data.train.epoch(self.generators["data"])):
            pick = int(torch.randint(len(self.archs), (), generator=self.generators["strategy"]))
            ctx.train_weights(batch, self.archs[pick])
            ctx.step += 1
            self.run.step_done(i + 1, steps)
        self.world.average_buffers(self.supernet)
        record: dict[str, Any] = {**ctx.epoch_metrics(), "lr": lr}
        feedback = [ctx.evaluate(arch) for arch in self.archs]
        record["val_accuracy"] = [f.accuracy for f in feedback]
        record["val_loss"] = [f.loss for f in feedback]
        return record

    def finish(self, rundir: RunDir, events: list[dict[str, Any]], elapsed: float) -> dict[str, Any]:
        last = events[-1] if events else {}
        return {
            "space": self.space_cls.name,
            "evaluator": "supernet",
            "archs": len(self.archs),
            "val_accuracy": last.get("val_accuracy"),
            "val_loss": last.get("val_loss"),
            "supernet_params": self.supernet_params,
            "epochs": len(events),
            "train_seconds": round(elapsed, 3),
            "peak_memory_bytes": peak_memory_bytes(self.device),
        }


class StudyObserver(Observer):
    """An Observer of every run of the study, told also when each architecture (or the supernet) starts."""

    def on_arch_start(self, index: int, total: int, finished: bool) -> None:
        """Architecture ``index`` of ``total`` starts (``finished``: already done, it will be skipped)."""


def study_config(
    space: str, evaluator: str, preset: str, overrides: dict[str, Any], registry: Registry | None = None
) -> dict[str, Any]:
    """The resolved config every architecture of the study shares (the training recipe for ``scratch``,
    the space's search setting for ``supernet``)."""
    if evaluator not in RANK_EVALUATORS:
        raise NasframeError(f"unknown ranking evaluator {evaluator!r}; available: {', '.join(RANK_EVALUATORS)}")
    registry = registry or get_registry()
    scratch = evaluator == "scratch"
    return resolve(
        registry.space(space),
        None,
        preset,
        overrides,
        train=scratch,
        evaluators=None if scratch else registry.evaluator,
        datasets=registry.dataset,
    )


def sample_archs(config: dict[str, Any], samples: int, registry: Registry | None = None) -> list[dict[str, Any]]:
    """``samples`` architectures as arch.json objects: ``space.sample_final`` from the seed's ``rank`` stream."""
    space = (registry or get_registry()).build_space(config)
    generator = torch.Generator().manual_seed(stream_seed(int(config["seed"]), "rank"))
    return [space.arch_to_json(space.sample_final(generator)) for _ in range(samples)]


@dataclass
class Study:
    """One ranking study on disk: settings, sampled architectures, and where each one trains."""

    out: Path
    space: str
    samples: int
    evaluator: str
    preset: str
    config: dict[str, Any]
    archs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def record(self) -> dict[str, Any]:
        return {
            "kind": "rank",
            "space": self.space,
            "samples": self.samples,
            "evaluator": self.evaluator,
            "preset": self.preset,
            "config": self.config,
            "archs": self.archs,
        }

    def arch_dir(self, index: int) -> RunDir:
        return RunDir(self.out / "archs" / str(index))

    @property
    def supernet_dir(self) -> RunDir:
        return RunDir(self.out / "supernet")

    def unit_dir(self, index: int | None) -> RunDir:
        """Where a unit of the study trains: architecture ``index`` (``scratch``), or the supernet (``index`` None)."""
        return self.supernet_dir if index is None else self.arch_dir(index)


def open_study(
    out: Path,
    space: str,
    samples: int,
    evaluator: str,
    preset: str,
    overrides: dict[str, Any],
    registry: Registry | None = None,
) -> Study:
    """Start a study in ``out``, or reopen the one there when its settings are the same; refuse otherwise."""
    if samples < 2:
        raise NasframeError(f"a ranking needs at least 2 architectures, got --samples {samples}")
    config = study_config(space, evaluator, preset, overrides, registry)
    if int(config["train"]["epochs"]) < 1:
        raise NasframeError("a ranking study needs at least 1 epoch (--epochs)")
    study = Study(Path(out), space, samples, evaluator, preset, config, sample_archs(config, samples, registry))
    path = study.out / STUDY_FILE
    if path.exists():
        saved = readers.read_object(path, "ranking study record")
        diff = config_difference(
            {k: v for k, v in saved.items() if k not in ("config", "launches")},
            {k: v for k, v in study.record.items() if k != "config"},
        )
        if run_hash(saved.get("config", {})) != run_hash(config):
            diff += config_difference(saved.get("config", {}), config)
        if diff:
            raise NasframeError(
                f"{study.out} holds a ranking study with other settings ("
                + "; ".join(diff[:6])
                + "); rerun it with its own settings to continue it, or choose another --out"
            )
    else:
        if study.out.exists() and not study.out.is_dir():
            raise NasframeError(f"--out {study.out} is a file, not a directory")
        if study.out.exists() and any(p.name != LOCK_FILE for p in study.out.iterdir()):
            raise NasframeError(
                f"{study.out} is not empty and holds no ranking study ({STUDY_FILE}); choose another --out"
            )
        write_json_atomic(path, study.record)
    return study


@dataclass(frozen=True)
class ArchWork:
    """One architecture's training (``index``), or the shared supernet's (``index`` None), as picklable work for a
    launcher; it returns the architecture's rank.jsonl records."""

    study: Study
    index: int | None

    def __call__(self, observers: Sequence[Observer] = (), device: str | None = None) -> dict[str, Any]:
        registry = get_registry()
        study = self.study
        config = copy.deepcopy(study.config)
        if device is not None:  # a pool worker's own device: no part of the study's identity
            config["device"] = device
        for obs in observers:
            if isinstance(obs, StudyObserver):
                obs.on_arch_start(self.index or 0, len(study.archs) if self.index is not None else 1, False)
        if self.index is None:
            config["archs"] = study.archs
            job: Job = SupernetRankJob(config, registry)
        else:
            config["arch"] = study.archs[self.index]
            job = ValTrainJob(config, registry)
        rundir = study.unit_dir(self.index)
        Run(job, rundir, observers).execute(resume=rundir.holds_run())
        return {"records": arch_records(study, self.index)}


def arch_records(study: Study, index: int | None) -> list[dict[str, Any]]:
    """rank.jsonl's records of a trained architecture (``index``) or of every one (the supernet, ``index`` None)."""
    if index is not None:
        rundir = study.arch_dir(index)
        events = rundir.read_events()
        record = {
            "index": index,
            "arch": study.archs[index],
            "val_accuracy": [e["val_accuracy"] for e in events],
            "val_loss": [e["val_loss"] for e in events],
        }
        summary = rundir.read_summary()
        record.update({k: summary[k] for k in ("params", "flops") if k in summary})
        return [record]
    events = study.supernet_dir.read_events()
    return [
        {
            "index": i,
            "arch": arch,
            "val_accuracy": [e["val_accuracy"][i] for e in events],
            "val_loss": [e["val_loss"][i] for e in events],
        }
        for i, arch in enumerate(study.archs)
    ]


def train_study(
    study: Study,
    observers: Sequence[Observer] = (),
    registry: Registry | None = None,
    launcher: Launcher | None = None,
) -> list[dict[str, Any]]:
    """Train (or finish training) every architecture on ``launcher`` (default: one by one in this process);
    rank.jsonl's records in sample order (not yet written). A failed architecture does not stop the others;
    the study then ends with one line naming the failures and their logs (a rerun retries them)."""
    registry = registry or get_registry()
    observers = list(observers)
    launcher = launcher or make_launcher(None, {}, study.out, registry)
    note_launch(study.out / STUDY_FILE, launcher)
    units: list[int | None] = list(range(len(study.archs))) if study.evaluator == "scratch" else [None]
    records: dict[int | None, list[dict[str, Any]]] = {}
    here = dataclasses.replace(study, out=study.out.resolve())  # a worker on another node starts elsewhere
    unit_of: dict[str, int | None] = {}
    tasks = []
    for index in units:
        if study.unit_dir(index).is_finished():
            records[index] = arch_records(study, index)
            for obs in observers:
                if isinstance(obs, StudyObserver):
                    obs.on_arch_start(index or 0, len(units), True)
            continue
        name = f"arch-{index}" if index is not None else "supernet"
        unit_of[name] = index
        tasks.append(StudyTask(name, str(here.out), ArchWork(here, index)))
    try:
        failed = drive(
            launcher,
            tasks,
            study.out,
            observers,
            lambda task, row: records.__setitem__(unit_of[task.name], row["records"]),
        )
    except TasksInterrupted as exc:
        kept = ", ".join(str(study.unit_dir(unit_of[n]).path.relative_to(study.out)) for n in exc.started)
        raise Interrupted(
            f"interrupted; {study.out} keeps every finished architecture and the last checkpoint of "
            f"{kept or 'the unfinished ones'}. Continue with the same command and --out {study.out}"
        ) from None
    if failed:
        raise NasframeError(failure_message(failed, len(tasks), "architectures", study.out))
    return [r for index in units for r in records[index]]


def _finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) else value


def ground_truth(study: Study, registry: Registry | None = None) -> tuple[list[float], str] | None:
    """Each sampled architecture's published accuracy on the study's data set (``SearchSpace.ground_truth``) and
    its source; None when the space publishes none for that data set."""
    space = (registry or get_registry()).build_space(study.config)
    dataset = study.config["data"]["dataset"]
    values, source = [], ""
    for arch in study.archs:
        record = space.ground_truth(space.arch_from_json(arch))
        if record is None or not isinstance(record.get(dataset), (int, float)):
            return None
        values.append(float(record[dataset]))
        source = str(record.get("source", ""))
    return values, source


def tau_record(
    records: Sequence[dict[str, Any]], evaluator: str = "", truth: tuple[Sequence[float], str] | None = None
) -> dict[str, Any]:
    """τ-b and p_τ of every epoch's ranking against the final epoch's, by validation accuracy (and by loss); with
    ``truth`` (ground-truth accuracies in record order, and their source) also each epoch's τ-b against it."""
    taus = epoch_taus([r["val_accuracy"] for r in records])
    taus_loss = epoch_taus([r["val_loss"] for r in records])
    mean, mean_loss = mean_tau(taus), mean_tau(taus_loss)
    epochs = [
        {
            "epoch": e + 1,
            "tau": _finite(t),
            "p_tau": _finite(p_tau(t)),
            "tau_loss": _finite(tl),
            "p_tau_loss": _finite(p_tau(tl)),
        }
        for e, (t, tl) in enumerate(zip(taus, taus_loss))
    ]
    out: dict[str, Any] = {
        "metric": "val_accuracy",
        "reference": "final epoch",
        "samples": len(records),
        "evaluator": evaluator,
        "epochs": epochs,
        "mean_over": "epochs before the final one (whose τ with itself is 1)",
        "mean_tau": _finite(mean),
        "mean_p_tau": _finite(p_tau(mean)),
        "mean_tau_loss": _finite(mean_loss),
        "mean_p_tau_loss": _finite(p_tau(mean_loss)),
        "paper_mean_tau": PAPER_MEAN_TAU,
        "note": NOTE,
    }
    if truth is not None:
        values, source = truth
        against = [kendall_tau_b([r["val_accuracy"][e] for r in records], values) for e in range(len(epochs))]
        for row, t in zip(epochs, against):
            row.update(tau_truth=_finite(t), p_tau_truth=_finite(p_tau(t)))
        defined = [t for t in against if not math.isnan(t)]
        mean_truth = sum(defined) / len(defined) if defined else math.nan  # every epoch: none is τ = 1 by definition
        final = against[-1] if against else math.nan
        out.update(
            truth_source=source,
            truth=list(values),
            mean_tau_truth=_finite(mean_truth),
            mean_p_tau_truth=_finite(p_tau(mean_truth)),
            final_tau_truth=_finite(final),
        )
    return out


def write_results(study: Study, records: Sequence[dict[str, Any]], registry: Registry | None = None) -> dict[str, Any]:
    """Write rank.jsonl and tau.json of a trained study; returns tau.json's content."""
    write_jsonl_atomic(study.out / RANK_FILE, list(records))
    tau = tau_record(records, study.evaluator, ground_truth(study, registry))
    write_json_atomic(study.out / TAU_FILE, tau)
    return tau


def load_results(out: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """rank.jsonl and tau.json of a finished study (for re-rendering)."""
    records = readers.read_rows(out / RANK_FILE, "ranking results", ("index", "val_accuracy", "val_loss"))
    if not records:
        raise NasframeError(f"{out} holds no {RANK_FILE}: not a finished ranking study")
    return records, readers.read_object(out / TAU_FILE, "ranking correlations")


def plot_study(path: Path, records: Sequence[dict[str, Any]], tau: dict[str, Any]) -> bool:
    """Figure 4-like PNG: validation accuracy and loss per epoch of every architecture, and τ / p_τ per epoch.

    Returns False (writing nothing) when matplotlib is not installed.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return False
    fig = Figure(figsize=(13, 3.8), layout="constrained")
    FigureCanvasAgg(fig)
    acc_ax, loss_ax, tau_ax = fig.subplots(1, 3)
    for r in records:
        epochs = range(1, len(r["val_accuracy"]) + 1)
        acc_ax.plot(epochs, [100 * a for a in r["val_accuracy"]], marker=".", linewidth=1, label=f"arch {r['index']}")
        loss_ax.plot(epochs, r["val_loss"], marker=".", linewidth=1)
    acc_ax.set(title="Validation accuracy", xlabel="epoch", ylabel="accuracy (%)")
    loss_ax.set(title="Validation loss", xlabel="epoch", ylabel="cross-entropy")
    if len(records) <= 12:
        acc_ax.legend(fontsize="x-small")
    rows = tau["epochs"]
    xs = [row["epoch"] for row in rows]
    nan = float("nan")
    tau_ax.plot(xs, [nan if row["tau"] is None else row["tau"] for row in rows], marker="o", label="τ")
    tau_ax.plot(xs, [nan if row["p_tau"] is None else row["p_tau"] for row in rows], marker="s", label="p_τ")
    if tau.get("mean_tau") is not None:
        tau_ax.axhline(tau["mean_tau"], linestyle="--", color="C0", linewidth=1, label=f"mean τ {tau['mean_tau']:.3f}")
    tau_ax.axhline(PAPER_MEAN_TAU, linestyle=":", color="grey", linewidth=1, label=f"paper mean τ {PAPER_MEAN_TAU}")
    tau_ax.set(title="Ranking vs final epoch (Kendall τ-b)", xlabel="epoch", ylim=(-1.05, 1.05))
    tau_ax.legend(fontsize="x-small")
    for ax in (acc_ax, loss_ax, tau_ax):
        ax.grid(alpha=0.3)
        if xs:
            ax.set_xticks(xs if len(xs) <= 20 else xs[:: max(len(xs) // 10, 1)])
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    return True
