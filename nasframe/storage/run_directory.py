"""The run directory contract: config.json, events.jsonl, checkpoint.safetensors, arch.json, summary.json."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from nasframe.interfaces.errors import CheckpointError, NasframeError
from nasframe.storage import checkpoint, readers
from nasframe.storage.atomic import check_creatable, write_atomic, write_json_atomic, write_jsonl_atomic

CONFIG = "config.json"
EVENTS = "events.jsonl"
CHECKPOINT = "checkpoint.safetensors"
ARCH = "arch.json"
SUMMARY = "summary.json"
MODEL_FILE = "model.safetensors"


def default_out(kind: str, space: str, strategy: str | None) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    parts = [space, strategy] if strategy else [space, kind]
    return Path("runs") / f"{'-'.join(parts)}-{stamp}"


@dataclass(frozen=True)
class RunDir:
    """Paths of one run, and the rules for starting or resuming it without losing anything."""

    path: Path
    writable: bool = True
    """False on every rank but 0 of a data-parallel run: one process writes, all of them read."""

    @property
    def config(self) -> Path:
        return self.path / CONFIG

    @property
    def events(self) -> Path:
        return self.path / EVENTS

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT

    @property
    def arch(self) -> Path:
        return self.path / ARCH

    @property
    def summary(self) -> Path:
        return self.path / SUMMARY

    def holds_run(self) -> bool:
        return any(p.exists() for p in (self.config, self.checkpoint, self.summary, self.events))

    def is_finished(self) -> bool:
        return self.summary.exists()

    def prepare(self, resume: bool) -> None:
        """Refuse to overwrite an earlier run, and an --out that cannot be created; with ``resume`` require a run.

        Nothing is created here: the folder appears only once the job's setup has succeeded (``create``), so a
        run that fails during setup leaves nothing that blocks its retry.
        """
        if self.path.exists() and not self.path.is_dir():
            raise NasframeError(f"--out {self.path} is a file, not a directory")
        if self.holds_run() and not resume:
            state = "a finished run" if self.is_finished() else "an unfinished run"
            raise NasframeError(
                f"{self.path} already holds {state}; pass --resume to continue it, or choose another --out"
            )
        if resume and not self.config.exists():
            raise NasframeError(f"nothing to resume in {self.path}: it has no {CONFIG}")
        if self.writable and not (resume and self.is_finished()):  # a finished run is only read
            check_creatable(self.path, f"--out {self.path}")

    def create(self) -> None:
        """Make the run folder (after setup succeeded)."""
        if not self.writable:
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise NasframeError(f"cannot create --out {self.path}: {exc.strerror}") from None

    def verify_finished(self) -> dict[str, Any]:
        """The summary of a finished run whose files are whole; a damaged file is a CheckpointError naming it.

        Every finished run wrote arch.json (a search its result, a training the architecture it trained), so
        a missing one is damage too, not a run without an architecture.
        """
        try:
            summary = readers.read_summary(self.summary)
            events = readers.read_events(self.events) if self.events.exists() else []
            readers.read_arch(self.arch)
        except NasframeError as exc:
            raise CheckpointError(f"the finished run in {self.path} is damaged: {exc}") from None
        if events or self.checkpoint.exists():
            epoch = checkpoint.load(self.checkpoint).meta.get("epoch")
            if epoch != len(events):
                raise CheckpointError(
                    f"the finished run in {self.path} is damaged: its checkpoint is of epoch {epoch}, "
                    f"{EVENTS} records {len(events)}"
                )
        return summary

    def read_config(self) -> dict[str, Any]:
        return readers.read_config(self.config)

    def write_json(self, path: Path, obj: Any) -> None:
        if self.writable:
            write_json_atomic(path, obj)

    def write_file(self, path: Path, write: Callable[[str], None]) -> None:
        """Atomically write ``path`` with ``write(tmp_path)``."""
        if self.writable:
            write_atomic(path, write)

    def write_config(self, config: dict[str, Any]) -> None:
        self.write_json(self.config, config)

    def read_events(self) -> list[dict[str, Any]]:
        return readers.read_events(self.events)

    def write_events(self, events: list[dict[str, Any]]) -> None:
        if self.writable:
            write_jsonl_atomic(self.events, events)

    def read_summary(self) -> dict[str, Any]:
        return readers.read_summary(self.summary)
