"""Advisory file locks that fail at once and name the process holding them.

Two ``longtail train`` runs on one ``--output`` would both report success while the last writer
wins; a ``longtail cache clear`` during a run's embedding pass would delete what the run just
wrote. :func:`hold_lock` takes an operating-system lock (``flock`` on POSIX, ``msvcrt.locking``
on Windows) on a small lock file and writes the holder's pid into it, so the second process
fails with one line naming that pid. The kernel drops the lock when its holder exits, a kill -9
included, so a crashed run never leaves a stale lock behind: a lock file without a live holder
is simply taken over (and removed when that holder is done).

Shared locks let many writers in at once while keeping an exclusive taker out (the embedding
cache: concurrent runs may fill it together, ``cache clear`` may not run beside any of them).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from longtail.errors import LongtailError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def _try_lock(fd: int, *, shared: bool) -> bool:
    if fcntl is not None:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    import msvcrt  # pragma: no cover - Windows has no shared locks: every lock is exclusive

    try:  # pragma: no cover
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:  # pragma: no cover
        return False
    return True  # pragma: no cover


def lock_holder(path: str | os.PathLike[str]) -> str:
    """The pid written into a lock file (``"unknown"`` when it cannot be read)."""
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return "unknown"
    return text if text.isdigit() else "unknown"


def _open_locked(path: Path, *, shared: bool) -> tuple[int, bool]:
    """Open ``path`` and try to lock it: ``(fd, locked)``; retried while the file is replaced.

    An exclusive holder removes its lock file on release; a process that opened the file just
    before that removal would lock a file nobody else can see, so a lock only counts when the
    locked file is still the one at ``path``.
    """
    for _ in range(100):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        if not _try_lock(fd, shared=shared):
            return fd, False
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd, True
        os.close(fd)
    raise LongtailError(f"{path}: the lock file keeps being replaced; remove it and try again")


@contextlib.contextmanager
def hold_lock(path: str | os.PathLike[str], *, busy: str, shared: bool = False) -> Iterator[None]:
    """Hold the lock file ``path`` for the ``with`` block, or fail at once.

    Args:
        path: the lock file; created if missing. An exclusive holder removes it on release, so
            a finished run leaves no lock file behind; shared holders leave it.
        busy: the error's wording, with ``{pid}`` for the holder, e.g. ``"runs/x is in use by
            another longtail run (pid {pid}); wait for it or choose another --output"``.
        shared: take a shared lock (many holders) instead of an exclusive one.

    Raises:
        LongtailError: another process holds a conflicting lock.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, locked = _open_locked(path, shared=shared)
    try:
        if not locked:
            raise LongtailError(busy.format(pid=lock_holder(path)))
        os.ftruncate(fd, 0)  # shared holders each write theirs: the message names one of them
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        yield
    finally:
        if locked and not shared:  # removed while still held, so nobody locks a dead file
            with contextlib.suppress(OSError):
                path.unlink()
        os.close(fd)  # closing the descriptor releases the lock
