"""On-disk cache of generated texts (SQLite), reused across runs and kept when a run stops.

One row per generated text, keyed by ``(method, params fingerprint, source text hash, index)``:
the ``index``-th text generated from a source text by a method with given parameters. Writes are
committed transaction by transaction (one per batch of source texts), so a run interrupted by an
error, a kill or Ctrl-C keeps every batch it finished, and the next run only generates the rest.
Several processes on one machine may share a cache (``longtail compare --shard`` does): SQLite's
write-ahead log lets readers go on while one writer commits, and a writer waits up to
:data:`LOCK_TIMEOUT_S` for another's transaction. WAL needs shared memory, so processes on
*different* machines must not share one file over a network disk: give each its own
``augment.cache_dir``. Only strings are stored (no pickle). Parameters are fingerprinted with a
SHA-256 of their JSON; a method must leave secrets (API keys) out of its parameters: only the
*name* of the environment variable holding a key may appear.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from longtail.errors import LongtailError

CACHE_FILE = "augment-cache.sqlite"
#: Seconds a writer waits for another process's transaction before giving up with an error.
LOCK_TIMEOUT_S = 120.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS generated (
    method TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    source TEXT NOT NULL,
    idx INTEGER NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (method, fingerprint, source, idx)
)
"""


def fingerprint(params: Mapping[str, Any]) -> str:
    """A stable SHA-256 hex digest of JSON-serialisable parameters (key order does not matter)."""
    blob = json.dumps(dict(params), sort_keys=True, default=str, ensure_ascii=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def text_hash(text: str) -> str:
    """SHA-256 hex digest of a source text (exact text, not normalised)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class AugmentCache:
    """A SQLite file of generated texts; use as a context manager or call :meth:`close`.

    Args:
        path: A directory (the file ``augment-cache.sqlite`` is created in it) or a file path.

    Example:
        >>> with AugmentCache("runs/cache") as cache:
        ...     cache.put("eda", fp, [(text_hash("hi there you"), 0, "hello there you")])
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        path = Path(path)
        self.path = path / CACHE_FILE if path.is_dir() or not path.suffix else path
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_S)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise LongtailError(f"cannot open augmentation cache {self.path}: {exc}") from exc

    def get(self, method: str, fp: str, source: str, indices: Sequence[int]) -> dict[int, str]:
        """Cached texts for ``indices`` of one source text (missing indices are absent)."""
        if not indices:
            return {}
        marks = ",".join("?" * len(indices))
        try:
            rows = self._db.execute(
                f"SELECT idx, text FROM generated WHERE method=? AND fingerprint=? AND source=? "
                f"AND idx IN ({marks})",
                (method, fp, source, *[int(i) for i in indices]),
            ).fetchall()
        except sqlite3.Error as exc:
            raise self._error("read", exc) from exc
        return {int(i): str(t) for i, t in rows}

    def put(self, method: str, fp: str, items: Iterable[tuple[str, int, str]]) -> None:
        """Store ``(source hash, index, text)`` items in one transaction (all or nothing)."""
        rows = [(method, fp, src, int(i), text) for src, i, text in items]
        try:
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO generated VALUES (?, ?, ?, ?, ?)", rows
                )
        except sqlite3.Error as exc:
            raise self._error("write to", exc) from exc

    def _error(self, action: str, exc: sqlite3.Error) -> LongtailError:
        hint = (
            "another process held it too long; on several machines give each its own "
            "augment.cache_dir"
            if "locked" in str(exc)
            else "delete the file to start a fresh cache"
        )
        return LongtailError(f"cannot {action} augmentation cache {self.path}: {exc}; {hint}")

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM generated").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AugmentCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
