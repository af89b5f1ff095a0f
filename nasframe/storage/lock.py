"""One process per run folder: an advisory ``flock`` on ``<folder>/.nasframe.lock``, held for the run's life.

Two processes writing one folder interleave checkpoints and events into a run that is neither. The lock
is ``fcntl.flock`` on a file inside the folder, so the kernel releases it when the holder dies (SIGKILL,
OOM killer, a lost node's process): a stale lock never blocks a resume. The holder writes its pid into
the file so the refused process can name it.

The run folder itself appears only once setup succeeded (``RunDir.create``), yet the lock must be taken
before anything is checked or written. So the folder is made here (one ``mkdir``, atomic: of two fresh
``nasframe run --out X`` started at once exactly one holds the lock) and removed again on release (with any
parent folder made for it) if the run left nothing in it, which keeps "a run that fails in setup leaves
nothing behind".
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path
from typing import Iterator

from nasframe.interfaces.errors import NasframeError
from nasframe.interfaces.text import shorten

LOCK_FILE = ".nasframe.lock"


class Busy(NasframeError):
    """Another process holds the folder's lock."""


def _holder(path: Path) -> str:
    try:
        pid = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        pid = ""
    return f"pid {pid}" if pid.isdigit() else "another process"


@contextlib.contextmanager
def hold(folder: str | os.PathLike, what: str = "--out", read_only_ok: bool = False) -> Iterator[None]:
    """Hold ``folder``'s lock for the ``with`` block; refuse in one line when another process holds it.

    ``read_only_ok``: a folder whose lock file cannot be created (read-only media, another user's finished
    run) is only read, and proceeds unlocked.
    """
    folder = Path(folder)
    for _ in range(100):  # a retry only follows a release that removed the file between our open and our lock
        taken = _take(folder, what, read_only_ok)
        if taken is not False:
            break
    else:  # pragma: no cover - a hundred holders in a row, each ending at the wrong moment
        raise Busy(f"{what} {folder} is in use by other processes that keep starting and ending")
    if taken is None:
        yield
        return
    fd, created = taken
    path = folder / LOCK_FILE
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        _release(folder, path, created)
        os.close(fd)


def _take(folder: Path, what: str, read_only_ok: bool) -> tuple[int, list[Path]] | None | bool:
    """(fd, the folders made, deepest first) once locked; None to go on unlocked (read-only); False to try again."""
    if folder.exists() and not folder.is_dir():
        raise NasframeError(f"{what} {folder} is a file, not a directory")
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    created: list[Path] = []
    try:
        folder.mkdir(parents=True)
        created = missing  # deepest first: the order they are removed in
    except FileExistsError:
        pass
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise NasframeError(
                f"{what} {shorten(str(folder))}: a name in it is too long for the file system"
            ) from None
        if read_only_ok and folder.is_dir():
            return None
        raise NasframeError(f"cannot create {what} {folder}: {exc.strerror}") from None
    path = folder / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except FileNotFoundError:
        return False  # the folder was removed by a holder that just ended
    except OSError as exc:
        if read_only_ok:
            return None
        raise NasframeError(f"cannot lock {what} {folder}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise Busy(
            f"{what} {folder} is in use by {_holder(path)}: one process per folder. Wait for it to end, "
            f"or choose another {what}"
        ) from None
    try:
        same = os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        same = False
    if not same:  # we locked a file its last holder had already removed
        os.close(fd)
        return False
    return fd, created


def _release(folder: Path, path: Path, created: list[Path]) -> None:
    """Remove the lock file (still holding the lock), then the folders this process made, if the run left them empty."""
    with contextlib.suppress(OSError):
        path.unlink()
    for made in created:
        try:
            made.rmdir()  # fails, as it should, once the run wrote anything
        except OSError:
            break
