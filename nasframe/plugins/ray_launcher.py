"""The ``ray`` launcher: a study's tasks as Ray tasks on a running cluster, or on a Ray started here.

Each task is one Ray task with its resource request (``launcher.cpus_per_trial``,
``launcher.gpus_per_trial``). A task lost with its node or its worker process is retried by Ray
(``launcher.max_retries``, Ray's retries for system failures); the retry resumes from the task's last
checkpoint in the shared study folder, so its row is the uninterrupted one. A task's own failure is an
outcome, never retried: rerunning the command retries it. Needs ``pip install 'nasframe[ray]'``.
"""

from __future__ import annotations

import os
import socket
from typing import Any, Sequence

import nasframe

PROBE_SECONDS = 5.0
"""How long the driver tries to open a TCP connection to a given cluster address before refusing it."""


class RayLauncher(nasframe.Launcher):
    name = "ray"
    description = "a Ray cluster (launcher.address or $RAY_ADDRESS; none: a Ray started on this machine)"
    extra = "ray"
    keys = (
        nasframe.Key(
            "address",
            None,
            "the cluster: its head's HOST:PORT (the GCS port, 6379 by default), ray://HOST:PORT for Ray Client, "
            "or auto; null: $RAY_ADDRESS, else a Ray started on this machine for the study",
            type=str,
            optional=True,
        ),
        nasframe.Key("cpus_per_trial", 1.0, "CPUs each task requests (and its torch threads)", low=0, low_open=True),
        nasframe.Key("gpus_per_trial", 0.0, "GPUs each task requests (0: CPU only; a fraction shares a GPU)", low=0),
        nasframe.Key(
            "max_retries",
            3,
            "times Ray runs a task again after losing it with its node or worker process (it resumes from its "
            "checkpoint)",
            low=0,
        ),
    )

    def __init__(self, settings: Any, folder: Any) -> None:
        super().__init__(settings, folder)
        self.refs: dict[Any, nasframe.Task] = {}
        self.address: str | None = None
        self.connected = False

    def open(self) -> None:
        try:
            import ray
        except ImportError:
            raise nasframe.NasframeError(
                "the ray launcher needs Ray, which is not installed: pip install 'nasframe[ray]'"
            ) from None
        self.address = self.settings.get("address") or os.environ.get("RAY_ADDRESS") or None
        if self.address and self.address != "auto":
            probe(self.address)
        try:
            ray.init(
                address=self.address,
                log_to_driver=False,
                include_dashboard=False if self.address is None else None,
                configure_logging=False,
                num_cpus=None,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise nasframe.NasframeError(
                f"cannot connect to the Ray cluster at {self.address or 'auto'}: {nasframe.first_line(exc)}"
            ) from None
        self.connected = True
        cpus, gpus = float(self.settings["cpus_per_trial"]), float(self.settings["gpus_per_trial"])
        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        if not any(n.get("CPU", 0) >= cpus and n.get("GPU", 0) >= gpus for n in nodes):
            largest = max(nodes, key=lambda n: (n.get("GPU", 0), n.get("CPU", 0)), default={})
            self.close()
            raise nasframe.NasframeError(
                f"no node of the Ray cluster can run a task of {cpus:g} CPUs and {gpus:g} GPUs (its largest node "
                f"has {largest.get('CPU', 0):g} CPUs, {largest.get('GPU', 0):g} GPUs): lower "
                "launcher.cpus_per_trial / launcher.gpus_per_trial"
            )

    def shares(self, folder: Any) -> bool | None:
        """Every node on this machine: they see what this process sees. Otherwise the file system decides."""
        import ray

        here = ray.util.get_node_ip_address()
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        return True if nodes and all(n.get("NodeManagerAddress") == here for n in nodes) else None

    def submit(self, tasks: Sequence[nasframe.Task], observers: Sequence[Any] = ()) -> None:
        import ray

        remote = ray.remote(_run).options(
            num_cpus=float(self.settings["cpus_per_trial"]),
            num_gpus=float(self.settings["gpus_per_trial"]),
            max_retries=int(self.settings["max_retries"]),
            retry_exceptions=False,
        )
        for task in tasks:
            self.refs[remote.remote(task, int(max(1, float(self.settings["cpus_per_trial"]))))] = task

    def wait(self, timeout: float) -> list[nasframe.Outcome]:
        import ray

        if not self.refs:
            return []
        ready, _ = ray.wait(list(self.refs), num_returns=1, timeout=timeout)
        if ready:  # and whatever else is ready by now
            ready, _ = ray.wait(list(self.refs), num_returns=len(self.refs), timeout=0)
        outcomes = []
        for ref in ready:
            task = self.refs.pop(ref)
            try:
                outcomes.append(ray.get(ref))
            except ray.exceptions.RayError as exc:  # lost more often than max_retries allows, or cancelled
                outcomes.append(
                    nasframe.Outcome(
                        task.name,
                        error=f"lost on the Ray cluster after {self.settings['max_retries']} retries: {nasframe.first_line(exc)}",
                    )
                )
        return outcomes

    def close(self, cancel: bool = False) -> None:
        if not self.connected:
            return
        import ray

        if cancel:
            for ref in list(self.refs):
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # already finished or its node is gone: nothing to stop
                    pass
        self.refs.clear()
        ray.shutdown()
        self.connected = False

    @classmethod
    def where(cls) -> str:
        import ray

        return f"{socket.gethostname()}/{ray.get_runtime_context().get_node_id()[:8]}"


def _run(task: nasframe.Task, threads: int) -> nasframe.Outcome:
    """A task in a Ray worker, with the torch threads its CPU request pays for."""
    import torch

    torch.set_num_threads(threads)
    return task((), None)


def probe(address: str) -> None:
    """Refuse in one line, within seconds, an address no cluster answers at (Ray itself would retry for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise nasframe.NasframeError(
            f"launcher.address {address!r} is not HOST:PORT, ray://HOST:PORT or auto (the head's address, as "
            "`ray start --head` prints it)"
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_SECONDS).close()
    except OSError as exc:
        raise nasframe.NasframeError(
            f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}): is its head running "
            "(`ray start --head`), and is the address the one it printed?"
        ) from None


@nasframe.hookimpl
def register_launchers(register):
    register(RayLauncher)
