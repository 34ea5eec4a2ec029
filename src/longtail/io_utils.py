"""Atomic file writes (a temp file in the same directory, fsync, then ``os.replace``) and digests.

A crash or kill at any moment leaves either the old file or the new one, never half of one.

Permissions: longtail's outputs get the modes any other program's would. A new file is created
``0666 & ~umask`` and a new directory ``0777 & ~umask`` (the kernel applies the umask, where
:mod:`tempfile` would make every output private, ``0600`` / ``0700``). A *replaced* file or
directory keeps the permission bits (``0o777``) of the one it replaces, as editors do: a
predictions file a user made group-readable stays group-readable after the next ``predict``.

Temporaries are named after their target and their writer's pid: ``.<name>.<pid>.<random>.tmp``
(files), ``.<name>.tmp-<pid>-<random>`` (staged directories) and ``.<name>.old-<pid>-<random>``
(a directory being swapped out). A kill -9 leaves one behind; the next write to the same target
removes those whose writer is gone (``os.kill(pid, 0)`` finds no such process). A temporary of a
live process, this one included, is never touched. Pids are only meaningful within one machine:
writers of one target on several hosts sharing a folder must not rely on this clean-up.
Temporaries without a pid (from longtail versions before this naming) are left alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def _temp_patterns(name: str) -> re.Pattern[str]:
    """The names of ``name``'s temporaries; group ``pid`` is their writer."""
    name = re.escape(name)
    return re.compile(
        rf"\.{name}\.(?:(?P<pid>\d+)\.[0-9a-f]+\.tmp"
        rf"|tmp-(?P<stage>\d+)-[0-9a-f]+"
        rf"|old-(?P<old>\d+)(?:-[0-9a-f]+)?)"
    )


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (one owned by another user counts)."""
    if pid <= 0 or os.name == "nt":
        return True  # 0 and negatives address process groups; Windows' os.kill terminates
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but is not ours, or the platform cannot tell: keep its files
    return True


def remove_stale_temporaries(target: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporaries of ``target`` left by writers that are gone; returns them.

    One exception: when ``target`` itself is missing, a writer was killed between the two renames
    of :func:`replace_directory`, and its ``.old-`` copy (the complete previous version) is put
    back in place instead of removed.
    """
    target = Path(target)
    pattern = _temp_patterns(target.name)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    prefix = f".{target.name}."
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        match = pattern.fullmatch(entry.name)
        if match is None:
            continue
        pid = int(match["pid"] or match["stage"] or match["old"])
        if pid == os.getpid() or process_alive(pid):
            continue
        path = Path(entry.path)
        with contextlib.suppress(OSError):
            if match["old"] and not os.path.lexists(target):
                os.replace(path, target)
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed


def _token() -> str:
    return secrets.token_hex(4)


def _existing_mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode) & 0o777
    except OSError:
        return None


def _open_temp(target: Path) -> tuple[int, Path]:
    """Create ``target``'s temporary beside it: mode ``0666 & ~umask``, or the mode of the file
    it will replace."""
    while True:
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{_token()}.tmp")
        try:
            fd = os.open(tmp, _CREATE_FLAGS, 0o666)
        except FileExistsError:
            continue
        break
    mode = _existing_mode(target)
    if mode is not None:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, mode)
            else:  # pragma: no cover - Windows
                os.chmod(tmp, mode)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
    return fd, tmp


@contextlib.contextmanager
def atomic_writer(
    path: str | os.PathLike[str], mode: str = "wb", *, clean_stale: bool = True, **open_kwargs: Any
) -> Iterator[IO[Any]]:
    """Write ``path`` through a handle; the file appears (or is replaced) only if the block ends
    without an exception. ``mode`` is ``"wb"`` or ``"w"`` (``open_kwargs``: ``encoding``,
    ``newline``). Permissions and temporaries as in the module docstring; ``clean_stale=False``
    skips the listing of the folder that finds killed writers' temporaries, for stores that write
    many files into one folder and sweep their temporaries themselves (the embedding cache)."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_writer writes new content: mode 'w' or 'wb', not {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if clean_stale:
        remove_stale_temporaries(path)
    fd, tmp = _open_temp(path)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(
    path: str | os.PathLike[str], data: bytes, *, clean_stale: bool = True
) -> Path:
    """Write ``data`` to ``path`` atomically (a new file ``0666 & ~umask``; a replaced file keeps
    its permission bits) and remove temporaries of ``path`` left by killed writers (unless
    ``clean_stale`` is false, see :func:`atomic_writer`)."""
    with atomic_writer(path, "wb", clean_stale=clean_stale) as handle:
        handle.write(data)
    return Path(path)


def make_staging_directory(target: str | os.PathLike[str]) -> Path:
    """A new empty directory beside ``target`` to build it in, ``0777 & ~umask``, named
    ``.<name>.tmp-<pid>-<random>``; stale ones of killed writers are removed first. Swap it in
    with :func:`replace_directory`."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    while True:
        staging = target.with_name(f".{target.name}.tmp-{os.getpid()}-{_token()}")
        try:
            staging.mkdir(mode=0o777)
        except FileExistsError:
            continue
        return staging


def replace_directory(staging: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Swap a fully written ``staging`` directory into place of ``target``.

    Two renames: the old directory aside, the new one in; the old one is removed afterwards. A
    kill between them leaves the complete old copy beside ``target`` (``.<name>.old-<pid>-<random>``,
    removed by the next swap once this process is gone), never a half-written one. The new
    directory takes the permission bits of the one it replaces.
    """
    staging, target = Path(staging), Path(target)
    remove_stale_temporaries(target)
    old = target.with_name(f".{target.name}.old-{os.getpid()}-{_token()}")
    mode = _existing_mode(target) if target.is_dir() else None
    if mode is not None:
        os.chmod(staging, mode)
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return atomic_write_text(
        path, json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n"
    )


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The hex SHA-256 of a file's content, read in 1 MiB blocks (weights can be gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _jsonable(value: Any) -> Any:
    """Turn NumPy scalars/arrays and paths into plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
