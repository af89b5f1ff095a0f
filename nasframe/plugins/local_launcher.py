"""The ``local`` launcher: a study's tasks one after another in this process, or over a pool of local devices.

One after another is the default: the tasks run in the driver's process, so its progress bars follow
every epoch. With ``launcher.devices`` naming two or more devices (``--devices cuda:0,cuda:1``) the tasks
run in parallel, one spawned process per device; every task is seeded and independent, so the rows are
those of running them one by one.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import Any, Mapping, Sequence

import nasframe


def _devices(value: str) -> str:
    """``launcher.devices``: comma-separated device names as torch reads them, or ``auto`` (empty: none, the tasks
    run in this process). Whether each one is there is checked when the launcher opens."""
    import torch  # here, not at import: `nasframe --help` and `nasframe config` start without torch

    names = [d.strip() for d in value.split(",") if d.strip()]
    for name in names:
        if name != "auto":
            try:
                torch.device(name)
            except RuntimeError:
                raise ValueError(name) from None
    return ",".join(names)


class LocalLauncher(nasframe.Launcher):
    name = "local"
    description = "this machine: one task after another in this process, or one process per --devices entry"
    default = True
    keys = (
        nasframe.Key(
            "devices",
            "",
            "run tasks in parallel, one process per device (e.g. cuda:0,cuda:1); empty: one by one in this process",
            rule=_devices,
            allowed_text="comma-separated devices (cpu, cuda, cuda:N, mps)",
        ),
    )

    def __init__(self, settings: Mapping[str, Any], folder: Any) -> None:
        super().__init__(settings, folder)
        self.devices = [d for d in str(self.settings.get("devices") or "").split(",") if d]
        self.in_process = len(self.devices) < 2
        self.queue: list[nasframe.Task] = []
        self.observers: Sequence[Any] = ()
        self.pool: ProcessPoolExecutor | None = None
        self.futures: dict[Future, nasframe.Task] = {}

    def open(self) -> None:
        for device in self.devices:  # a device that is not there fails before any process starts
            nasframe.resolve_device(device)

    def shares(self, folder: Any) -> bool:
        return True  # every process is on this machine

    def submit(self, tasks: Sequence[nasframe.Task], observers: Sequence[Any] = ()) -> None:
        if self.in_process:
            self.queue.extend(tasks)
            self.observers = observers
            return
        context = multiprocessing.get_context("spawn")
        free = context.Queue()
        for device in self.devices:
            free.put(device)
        self.pool = ProcessPoolExecutor(
            len(self.devices), mp_context=context, initializer=_claim_device, initargs=(free, len(self.devices))
        )
        self.futures.update({self.pool.submit(_call_on_claimed_device, task): task for task in tasks})

    def wait(self, timeout: float) -> list[nasframe.Outcome]:
        if self.in_process:  # the next task, here and now: the driver's observers see its epochs
            return [self.queue.pop(0)(self.observers)] if self.queue else []
        done, _ = wait_futures(list(self.futures), timeout=timeout, return_when=FIRST_COMPLETED)
        outcomes = []
        for future in done:
            task = self.futures.pop(future)
            try:
                outcomes.append(future.result())
            except Exception as exc:  # the worker process itself died (killed, out of memory)
                outcomes.append(nasframe.Outcome(task.name, error=f"its worker process died ({exc})"))
        return outcomes

    def close(self, cancel: bool = False) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=not cancel, cancel_futures=cancel)
            self.pool = None


_claimed_device: str | None = None


def _claim_device(free: Any, workers: int) -> None:
    """Worker initializer: take one device for the worker's lifetime and a fair share of the CPU threads."""
    import torch

    global _claimed_device
    _claimed_device = free.get()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def _call_on_claimed_device(task: nasframe.Task) -> nasframe.Outcome:
    return task((), _claimed_device)


@nasframe.hookimpl
def register_launchers(register):
    register(LocalLauncher)
