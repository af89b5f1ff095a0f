"""The ``slurm`` launcher: a study's tasks as Slurm jobs through submitit (one job array per study launch).

Each task is one array element with the requested resources (``launcher.partition``, ``time_min``,
``account``, ``cpus_per_trial``, ``gpus_per_trial``, ``mem_gb`` and any other ``sbatch`` option in
``launcher.sbatch``). A job Slurm preempts or times out gets submitit's signal, is requeued (up to
``launcher.max_requeues`` timeouts) and resumes from the task's last checkpoint in the shared study
folder. ``launcher.cluster=local`` runs the same jobs as processes of this machine through submitit's
local executor: a way to try a study's Slurm set-up without a cluster. Job scripts and logs are under
``OUT/slurm/``. Needs ``pip install 'nasframe[slurm]'``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
import time
from typing import Any, Iterator, Sequence

import nasframe

JOBS_DIR = "slurm"
POLL_SECONDS = 2.0
"""How often a waiting driver asks about its jobs (Slurm's accounting is not meant to be polled faster)."""


def _sbatch_options(value: str) -> str:
    """``launcher.sbatch``: extra ``sbatch`` options as ``--key=value`` words (``--qos=high --constraint=a100``)."""
    for word in value.split():
        key, _, _ = word.removeprefix("--").partition("=")
        if not word.startswith("--") or not key:
            raise ValueError(word)
    return value


def sbatch_parameters(value: str) -> dict[str, Any]:
    """``--qos=high --exclusive`` as submitit's ``additional_parameters`` (``{"qos": "high", "exclusive": True}``)."""
    out: dict[str, Any] = {}
    for word in value.split():
        key, sep, val = word.removeprefix("--").partition("=")
        out[key.replace("-", "_")] = val if sep else True
    return out


class SlurmLauncher(nasframe.Launcher):
    name = "slurm"
    description = "Slurm jobs through submitit (launcher.cluster=local: the same jobs as local processes)"
    extra = "slurm"
    keys = (
        nasframe.Key(
            "partition", None, "the partition jobs go to (null: the cluster's default)", type=str, optional=True
        ),
        nasframe.Key(
            "account", None, "the account jobs are charged to (null: yours by default)", type=str, optional=True
        ),
        nasframe.Key("time_min", 240, "each job's time limit in minutes; a job that reaches it requeues", low=1),
        nasframe.Key("cpus_per_trial", 4, "CPUs per job (--cpus-per-task)", low=1),
        nasframe.Key("gpus_per_trial", 0, "GPUs per job (--gpus-per-node)", low=0),
        nasframe.Key("mem_gb", None, "memory per job in GB (null: the partition's default)", type=float, optional=True),
        nasframe.Key("array_parallelism", 256, "most jobs of the array running at once", low=1),
        nasframe.Key("max_requeues", 3, "times a timed-out job requeues and resumes before it counts as failed", low=0),
        nasframe.Key(
            "sbatch",
            "",
            "other sbatch options, as --key=value words (e.g. --qos=high --constraint=a100)",
            rule=_sbatch_options,
            allowed_text="--key=value words",
        ),
        nasframe.Key(
            "cluster",
            "slurm",
            "slurm: submit with sbatch; local: run the jobs as processes of this machine (submitit's local executor)",
            choices=("slurm", "local"),
        ),
    )

    def __init__(self, settings: Any, folder: Any) -> None:
        super().__init__(settings, folder)
        self.executor: Any = None
        self.jobs: dict[Any, nasframe.Task] = {}

    def shares(self, folder: Any) -> bool | None:
        return True if self.settings["cluster"] == "local" else None

    def open(self) -> None:
        try:
            import submitit
        except ImportError:
            raise nasframe.NasframeError(
                "the slurm launcher needs submitit, which is not installed: pip install 'nasframe[slurm]'"
            ) from None
        folder = self.folder / JOBS_DIR / "%j"
        if self.settings["cluster"] == "local":
            self.executor = submitit.LocalExecutor(folder=folder, max_num_timeout=int(self.settings["max_requeues"]))
            self.executor.update_parameters(
                timeout_min=int(self.settings["time_min"]), gpus_per_node=int(self.settings["gpus_per_trial"])
            )
            return
        if shutil.which("sbatch") is None:
            raise nasframe.NasframeError(
                "the slurm launcher submits with sbatch, which is not on PATH: this machine is no Slurm submit "
                "node (launcher.cluster=local runs the same jobs as local processes)"
            )
        self.executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=int(self.settings["max_requeues"]))
        self.executor.update_parameters(**self.slurm_parameters())

    def slurm_parameters(self) -> dict[str, Any]:
        """The sbatch parameters every job of the study gets, as submitit's ``SlurmExecutor`` takes them."""
        s = self.settings
        params: dict[str, Any] = {
            "job_name": f"nasframe-{self.folder.name}",
            "time": int(s["time_min"]),
            "cpus_per_task": int(s["cpus_per_trial"]),
            "ntasks_per_node": 1,
            "nodes": 1,
            "array_parallelism": int(s["array_parallelism"]),
            "signal_delay_s": 120,
        }
        if int(s["gpus_per_trial"]):
            params["gpus_per_node"] = int(s["gpus_per_trial"])
        for key in ("partition", "account"):
            if s.get(key):
                params[key] = s[key]
        if s.get("mem_gb"):
            params["mem"] = f"{int(float(s['mem_gb']) * 1024)}M"
        extra = sbatch_parameters(str(s.get("sbatch") or ""))
        if extra:
            params["additional_parameters"] = extra
        return params

    def sbatch_script(self) -> str:
        """The sbatch file a job of this study would be submitted with (what ``open`` sets up, shown without sbatch)."""
        from submitit.slurm.slurm import _make_sbatch_string

        return _make_sbatch_string(
            command="python -u -m submitit.core._submit <job folder>",
            folder=self.folder / JOBS_DIR / "%j",
            **self.slurm_parameters(),
        )

    def submit(self, tasks: Sequence[nasframe.Task], observers: Sequence[Any] = ()) -> None:
        from submitit.core.utils import FailedJobError, FailedSubmissionError

        quiet = own_output(self.folder / JOBS_DIR / "controllers.log") if self.settings["cluster"] == "local" else None
        try:
            with quiet or contextlib.nullcontext(), self.executor.batch():  # one job array where the executor has them
                jobs = [
                    (self.executor.submit(Requeueable(task, int(self.settings["cpus_per_trial"]))), task)
                    for task in tasks
                ]
        except (FailedJobError, FailedSubmissionError, OSError) as exc:
            raise nasframe.NasframeError(f"sbatch refused the study's jobs: {nasframe.first_line(exc)}") from None
        self.jobs.update(jobs)

    def wait(self, timeout: float) -> list[nasframe.Outcome]:
        end = time.monotonic() + timeout
        while True:
            finished = [job for job in self.jobs if job.done()]
            if finished or time.monotonic() >= end:
                break
            time.sleep(
                min(POLL_SECONDS if self.settings["cluster"] == "slurm" else 0.2, max(end - time.monotonic(), 0))
            )
        outcomes = []
        for job in finished:
            task = self.jobs.pop(job)
            try:
                outcomes.append(job.result())
            except Exception as exc:  # the job died, or ran out of requeues: its log says why
                outcomes.append(
                    nasframe.Outcome(
                        task.name,
                        error=f"job {job.job_id} ended: {nasframe.first_line(exc)}",
                        log=str(job.paths.stderr),
                    )
                )
        return outcomes

    def close(self, cancel: bool = False) -> None:
        if cancel:
            for job in self.jobs:
                try:
                    job.cancel(check=False)
                except Exception:  # already gone
                    pass
        self.jobs.clear()

    @classmethod
    def where(cls) -> str:
        node = os.environ.get("SLURMD_NODENAME") or socket.gethostname()
        job = os.environ.get("SLURM_JOB_ID") or os.environ.get("SUBMITIT_LOCAL_JOB_ID")
        return f"{node}/job {job}" if job else node


@contextlib.contextmanager
def own_output(path: Any) -> Iterator[None]:
    """Processes started inside write their stdout and stderr to ``path``, not to the study's terminal: submitit's
    local controllers inherit them, and a cancelled one prints its own traceback (a Slurm job writes to its log)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


class Requeueable:
    """A task as a submitit job: on preemption or timeout submitit calls ``checkpoint`` and requeues the same task,
    which resumes from its run directory's last checkpoint."""

    def __init__(self, task: nasframe.Task, threads: int) -> None:
        self.task = task
        self.threads = threads

    def __call__(self) -> nasframe.Outcome:
        import torch

        torch.set_num_threads(self.threads)  # the CPUs the job asked for, not the node's
        return self.task((), None)

    def checkpoint(self) -> Any:
        import submitit

        return submitit.helpers.DelayedSubmission(Requeueable(self.task, self.threads))


@nasframe.hookimpl
def register_launchers(register):
    register(SlurmLauncher)
