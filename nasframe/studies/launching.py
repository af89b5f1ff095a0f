"""Handing a study's tasks to a launcher, and keeping the study folder the one source of truth.

The driver (``nasframe bench``, ``nasframe rank``) builds one :class:`StudyTask` per unfinished trial or
architecture and gives them to the launcher (:class:`nasframe.Launcher`: this process, a local pool,
Ray, Slurm). A task, wherever it runs, writes only its own run directory, a placement record
``OUT/placement/<task>.json`` (node, device, attempt) and, if it fails, its log ``OUT/logs/<task>.log``;
the driver alone writes the study's results, each row once, as its outcome arrives. A rerun skips what
the results hold and hands the rest to whichever launcher is named, which resumes each from its last
checkpoint.

Progress: :class:`TaskObserver` hears each task queued, running (with its node, read from the
placement records the driver polls), done or failed; a failed task does not stop the others, unless
its error is bad input every task shares (a ``ConfigError``), which stops the study in one line.
"""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from nasframe.config import Schema
from nasframe.engine.loop import Observer
from nasframe.interfaces.errors import ConfigError, Interrupted, NasframeError
from nasframe.interfaces.launcher import Launcher, Outcome
from nasframe.interfaces.text import first_line
from nasframe.registry import Registry, get_registry
from nasframe.storage import readers
from nasframe.storage.atomic import write_atomic, write_json_atomic

PLACEMENT_DIR = "placement"
LOGS_DIR = "logs"
POLL_SECONDS = 1.0
"""How often the driver looks for tasks that started (their placement records) while none ends."""

NETWORK_FILE_SYSTEMS = frozenset(
    "nfs nfs4 cifs smb3 smbfs lustre gpfs beegfs ceph cephfs glusterfs fuse.glusterfs fuse.sshfs panfs "
    "fuse.ceph-fuse fuse.juicefs fuse.s3fs fuse.gcsfuse afs 9p orangefs pvfs2 wekafs fuse.weka".split()
)
LOCAL_FILE_SYSTEMS = frozenset("ext2 ext3 ext4 xfs btrfs tmpfs ramfs overlay zfs f2fs vfat exfat ntfs apfs".split())


class TaskObserver(Observer):
    """Told when a study task changes state: ``queued``, ``running`` (on ``node``), ``done`` or ``failed``."""

    def on_task(self, name: str, state: str, node: str = "", detail: str = "") -> None:
        """``detail``: a failed task's error and log, or a running task's attempt after a retry."""


def launcher_schema(launcher_cls: type[Launcher]) -> Schema:
    """The launcher's settings as config keys ``launcher.<key>``, checked like every other key."""
    return Schema({f"launcher.{key.name}": key for key in launcher_cls.keys})


def split_launcher_sets(overrides: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``--set`` overrides as (the run's, the launcher's): a launcher's keys never enter a run's config."""
    ours = {k: v for k, v in overrides.items() if k.startswith("launcher.")}
    return {k: v for k, v in overrides.items() if k not in ours}, ours


def make_launcher(
    name: str | None, overrides: Mapping[str, Any], out: Path, registry: Registry | None = None
) -> Launcher:
    """The launcher ``name`` (None: the default) with its ``launcher.*`` overrides checked."""
    cls = (registry or get_registry()).launcher(name)
    schema = launcher_schema(cls)
    config = schema.defaults()
    schema.apply(config, overrides, f"the {cls.name} launcher's settings")
    return cls(config.get("launcher", {}), Path(out))


def file_system(path: Path) -> str:
    """The type of the file system ``path`` is on (``/proc/mounts``' longest mount point above it); "" if unknown."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return ""
    path = Path(os.path.realpath(path))
    best, kind = -1, ""
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        if (path == Path(point) or Path(point) in path.parents) and len(point) > best:
            best, kind = len(point), parts[2]
    return kind


def check_shared(launcher: Launcher, out: Path, warn: Callable[[str], None]) -> None:
    """Refuse a study folder the launcher's workers cannot see; warn when that cannot be told."""
    if launcher.in_process:
        return
    shared = launcher.shares(out)
    if shared:
        return
    kind = file_system(out if out.exists() else out.parent)
    if kind in NETWORK_FILE_SYSTEMS and shared is None:
        return
    where = f"a node-local file system ({kind})" if kind in LOCAL_FILE_SYSTEMS else "a node-local folder"
    if shared is False or kind in LOCAL_FILE_SYSTEMS:
        raise NasframeError(
            f"--out {out} is on {where}: the {launcher.name} launcher's workers on other nodes could not see it. "
            "Put --out on a file system every node mounts (NFS, Lustre, GPFS, ...)"
        )
    warn(
        f"warning: cannot tell whether every {launcher.name} worker sees --out {out} "
        f"(file system {kind or 'unknown'}); it must be on a file system every node mounts"
    )


def open_launcher(launcher: Launcher, out: Path, warn: Callable[[str], None]) -> None:
    """Connect the launcher and check its request and the study folder, before any task starts."""
    launcher.open()
    try:
        check_shared(launcher, out, warn)
    except BaseException:
        launcher.close(cancel=True)
        raise


@dataclass
class StudyTask:
    """A study task as a launcher sees it: a name, and a picklable ``work(observers, device) -> row``.

    Called in a worker, it notes where it runs, runs the work (which resumes from its run directory) and
    turns an error into a failed :class:`Outcome` with the traceback in its log; an interruption of the
    worker (Ctrl-C, SIGTERM, a preemption's exit) goes on, so that the launcher can run it again.
    """

    name: str
    out: str
    work: Callable[[Sequence[Observer], str | None], dict[str, Any]]
    launcher: str = ""
    where: Callable[[], str] | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return Path(self.out) / LOGS_DIR / f"{self.name}.log"

    def __call__(self, observers: Sequence[Observer] = (), device: str | None = None) -> Outcome:
        node = self.where() if self.where is not None else ""
        previous = placement(Path(self.out), self.name)
        write_json_atomic(
            placement_path(Path(self.out), self.name),
            {
                "task": self.name,
                "launcher": self.launcher,
                "node": node,
                "pid": os.getpid(),
                "device": device,
                "attempt": int(previous.get("attempt", 0)) + 1 if previous else 1,
                "started": time.time(),
            },
        )
        try:
            row = self.work(observers, device)
        except (Interrupted, KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            self._log(traceback.format_exc())
            line = first_line(exc)
            return Outcome(
                self.name,
                error=line if isinstance(exc, NasframeError) else f"{type(exc).__name__}: {line}",
                log=str(self.log_path),
                node=node,
                fatal=isinstance(exc, ConfigError),
            )
        return Outcome(self.name, row={**row, "node": node}, node=node)

    def _log(self, text: str) -> None:
        """Append ``text`` to the task's log (kept over attempts: each failure adds its traceback)."""
        old = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")

        def write(tmp: Path) -> None:
            Path(tmp).write_text(f"{old}--- {stamp} on {self.where() if self.where else '?'}\n{text}\n")

        write_atomic(self.log_path, write)


def note_launch(record: Path, launcher: Launcher) -> None:
    """The study's record (bench.json, study.json) notes each launch: which launcher ran or resumed the study, with
    its settings and the time (the protocol of a study run by several launchers names them all)."""
    saved = readers.read_object(record, "study record")
    saved.setdefault("launches", []).append({**launcher.record(), "at": time.strftime("%Y-%m-%dT%H:%M:%S")})
    write_json_atomic(record, saved)


def placement_path(out: Path, name: str) -> Path:
    """Where task ``name`` of the study in ``out`` notes where it runs (written by the task, read by the driver)."""
    return out / PLACEMENT_DIR / f"{name}.json"


def placement(out: Path, name: str) -> dict[str, Any]:
    """A task's placement record, or {} when it has not started (or the record is unreadable)."""
    path = placement_path(out, name)
    if not path.exists():
        return {}
    try:
        return readers.read_object(path, "task placement record")
    except NasframeError:
        return {}


def drive(
    launcher: Launcher,
    tasks: Sequence[StudyTask],
    out: Path,
    observers: Iterable[Observer],
    record: Callable[[StudyTask, dict[str, Any]], None],
) -> list[Outcome]:
    """Run ``tasks`` on ``launcher``; ``record`` each finished task's row as it arrives; return the failed outcomes.

    Raises ``NasframeError`` for bad input every task shares (the first such failure stops the study),
    and ``Interrupted`` on Ctrl-C or SIGTERM, after cancelling what is still running: a rerun resumes it.
    """
    observers = list(observers)
    watchers = [o for o in observers if isinstance(o, TaskObserver)]
    by_name = {t.name: t for t in tasks}
    where = type(launcher).where
    for task in tasks:
        task.launcher, task.where = launcher.name, where
        _tell(watchers, task.name, "queued")
    failed: list[Outcome] = []
    if not tasks:
        return failed
    seen: dict[str, int] = {name: int(placement(out, name).get("attempt", 0)) for name in by_name}
    launcher.submit(list(tasks), observers if launcher.in_process else ())
    pending = set(by_name)
    try:
        while pending:
            outcomes = launcher.wait(POLL_SECONDS)
            for name in sorted(pending):
                started = placement(out, name)
                attempt = int(started.get("attempt", 0))
                if attempt > seen[name]:
                    seen[name] = attempt
                    _tell(
                        watchers, name, "running", started.get("node", ""), f"attempt {attempt}" if attempt > 1 else ""
                    )
            for outcome in outcomes:
                if outcome.name not in pending:
                    continue
                pending.discard(outcome.name)
                if outcome.ok:
                    assert outcome.row is not None
                    record(by_name[outcome.name], outcome.row)
                    _tell(watchers, outcome.name, "done", outcome.node)
                    continue
                if outcome.fatal:
                    raise NasframeError(outcome.error or "a task failed")
                failed.append(outcome)
                log = f" (log: {outcome.log})" if outcome.log else ""
                _tell(watchers, outcome.name, "failed", outcome.node, f"{outcome.error}{log}")
    except BaseException as exc:
        launcher.close(cancel=True)
        if isinstance(exc, (Interrupted, KeyboardInterrupt)):  # name what was running, for the "continue" line
            started = [name for name in sorted(pending) if int(placement(out, name).get("attempt", 0)) > 0]
            raise TasksInterrupted(str(exc), started) from None
        raise
    launcher.close()
    return failed


class TasksInterrupted(Interrupted):
    """A study interrupted by Ctrl-C or SIGTERM, with the unfinished tasks that had started."""

    def __init__(self, message: str, started: Sequence[str]) -> None:
        super().__init__(message)
        self.started = list(started)


def _tell(watchers: Sequence[TaskObserver], name: str, state: str, node: str = "", detail: str = "") -> None:
    for watcher in watchers:
        watcher.on_task(name, state, node, detail)


def failure_message(failed: Sequence[Outcome], total: int, what: str, out: Path) -> str:
    """The one line a study that finished with failed tasks ends on (exit status 1)."""
    names = ", ".join(o.name for o in failed[:4]) + (", ..." if len(failed) > 4 else "")
    return (
        f"{len(failed)} of {total} {what} failed ({names}); their logs are under {out / LOGS_DIR}. "
        f"Fix the cause and rerun the same command: finished {what} are kept"
    )
