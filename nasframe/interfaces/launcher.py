"""The Launcher interface: where a study's tasks run (this process, a pool of local processes, a Ray cluster,
Slurm jobs), registered by a plugin like a space.

A study (``nasframe bench``'s trials, ``nasframe rank``'s architectures) is a set of independent,
seeded, resumable *tasks*. The study driver decides *what* runs and records every result in its
folder; a launcher decides only *where* each task runs and tells the driver when it ended. Because a
task resumes from its own run directory, a launcher that loses a task (a node died, a job was
preempted) may simply run it again, anywhere that sees the study folder: the result is the one an
uninterrupted run gives.
"""

from __future__ import annotations

import socket
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping, Protocol, Sequence

from nasframe.interfaces.keys import Key


@dataclass(frozen=True)
class Outcome:
    """How a task ended: its result row, or a one-line error and the log that holds the rest."""

    name: str
    row: dict[str, Any] | None = None
    error: str | None = None
    log: str | None = None
    """The task's log file (a failed task's traceback is there)."""
    node: str = ""
    """Where it ran (:meth:`Launcher.where` in the worker)."""
    fatal: bool = False
    """Bad input every task shares (a config error): the driver stops the study instead of going on."""

    @property
    def ok(self) -> bool:
        return self.error is None


class Task(Protocol):
    """One unit of a study, picklable so that any process can run it.

    Calling it runs the task to its end (resuming from its run directory when an earlier attempt left a
    checkpoint) and returns its :class:`Outcome`; it does not raise for a failure of its own, only for
    an interruption (Ctrl-C, a signal) of the process it runs in. ``observers`` see its epochs when it
    runs in the driver's process; ``device`` overrides the device its config names (a local pool's
    worker claims one device for its lifetime).
    """

    name: str

    def __call__(self, observers: Sequence[Any] = (), device: str | None = None) -> Outcome: ...


class Launcher(ABC):
    """Runs a study's tasks somewhere and reports each one's :class:`Outcome`.

    The driver calls :meth:`open` (connect, check: a one-line ``NasframeError`` before any task starts),
    :meth:`submit` once with every unfinished task, :meth:`wait` until every task has an outcome, and
    :meth:`close`. A launcher retries a task it lost to its infrastructure (a dead node, a preempted job);
    a task that returned a failed outcome is not retried.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    """One line for ``nasframe list``."""
    default: ClassVar[bool] = False
    """The launcher a study uses when none is named (exactly one registered launcher says so)."""
    extra: ClassVar[str | None] = None
    """The ``nasframe[EXTRA]`` that installs what it needs, named by its "not installed" message."""
    keys: ClassVar[tuple[Key, ...]] = ()
    """Its settings, ``launcher.<key>`` in ``--set`` and ``nasframe config``."""
    in_process: ClassVar[bool] = False
    """Tasks run in the driver's own process, so the driver's observers (progress bars) see their epochs."""

    def __init__(self, settings: Mapping[str, Any], folder: Path) -> None:
        self.settings = dict(settings)
        """Every key of :attr:`keys` by its name, checked."""
        self.folder = Path(folder)
        """The study folder: a launcher may keep its own files (job scripts, logs) under it."""

    def open(self) -> None:
        """Connect to the cluster and check the request can be met; raise ``NasframeError`` in one line if not."""

    def shares(self, folder: Path) -> bool | None:
        """Whether every worker sees ``folder`` as this process does: True (say, every node is this machine),
        False, or None when the launcher cannot tell (the driver then goes by the folder's file system)."""
        return None

    @abstractmethod
    def submit(self, tasks: Sequence[Task], observers: Sequence[Any] = ()) -> None:
        """Queue ``tasks``; ``observers`` matter only to an in-process launcher."""

    @abstractmethod
    def wait(self, timeout: float) -> list[Outcome]:
        """Outcomes of the tasks that ended since the last call: at least one, unless ``timeout`` seconds passed."""

    def close(self, cancel: bool = False) -> None:
        """Release the launcher's resources; ``cancel``: stop the tasks still queued or running (an interrupted
        study, which a rerun resumes)."""

    def record(self) -> dict[str, Any]:
        """What the study's protocol record notes of the launcher."""
        return {"name": self.name, **self.settings}

    @classmethod
    def where(cls) -> str:
        """Called in a worker: the name of the node it runs on, for progress lines and the result row."""
        return socket.gethostname()
