"""SIGTERM and SIGUSR1 do what Ctrl-C does: the run stops at once, keeps its last checkpoint, says how to resume.

Slurm and Kubernetes stop a job with SIGTERM (Slurm's ``--signal`` sends SIGUSR1 before the time limit);
Python's default for SIGTERM is to die without running any ``finally``, and for SIGUSR1 to die outright.
Here both raise ``Terminated``, a ``KeyboardInterrupt``, inside the main thread, so every place that
handles Ctrl-C (the engine's run loop, bench, rank) handles them too, with the same exit status.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator

SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGUSR1", None)) if s is not None)


class Terminated(KeyboardInterrupt):
    """A stop asked for by a signal (``.name``: SIGTERM or SIGUSR1), handled as Ctrl-C is."""

    def __init__(self, number: int) -> None:
        self.name = signal.Signals(number).name
        super().__init__(self.name)


def _raise(number: int, frame: Any) -> None:
    raise Terminated(number)


@contextlib.contextmanager
def stop_signals_as_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM and SIGUSR1 raise ``Terminated``; the previous handlers come back after it.

    Outside the main thread (a notebook's worker, a bench trial in a thread) handlers cannot be installed;
    the signals keep their meaning there.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, _raise) for number in SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def how(exc: KeyboardInterrupt) -> str:
    """``interrupted`` for Ctrl-C, ``stopped by SIGTERM`` for a signal: the first words of the message."""
    return f"stopped by {exc.name}" if isinstance(exc, Terminated) else "interrupted"
