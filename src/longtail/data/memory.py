"""Tables held in memory, read by the same reader as files: the estimator's data, never a CSV.

A notebook's texts and labels (a list, a pandas Series, a ``datasets.Dataset`` column) are
registered under a name ``memory:<what>-<content hash>`` that stands where a file path would;
:func:`longtail.data.readers.read_table` reads it like a file, so every check a file gets (empty
texts, missing labels, unknown label columns, row numbers in messages) applies unchanged. Rows
are numbered from 0, as Python indexes them. The name holds a hash of the content, so the same
data gets the same name (and the same run fingerprint). Nothing is written to disk.

    >>> with registered_table(["free prize", "see you"], ["spam", "ham"], what="X") as name:
    ...     table = read_table(name)                               # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

from longtail.errors import LongtailError

PREFIX = "memory:"
TEXT, LABEL = "text", "label"
_TABLES: dict[str, tuple[list[str], list[dict[str, Any]], list[int]]] = {}


def is_memory(location: Any) -> bool:
    """Whether ``location`` names an in-memory table rather than a file."""
    return str(location).startswith(PREFIX)


def register_table(texts: Sequence[Any], labels: Sequence[Any] | None, *, what: str) -> str:
    """Hold ``texts`` (and ``labels``, one per text) in memory; returns the name to read it by."""
    texts = list(texts)
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(texts):
            raise LongtailError(
                f"{what}: {len(texts)} texts but {len(labels)} labels; give one label per text"
            )
    digest = hashlib.sha256(
        json.dumps([texts, labels], ensure_ascii=False, default=str).encode("utf-8")
    ).hexdigest()[:16]
    name = f"{PREFIX}{what}-{digest}"
    if labels is None:
        columns, records = [TEXT], [{TEXT: text} for text in texts]
    else:
        columns = [TEXT, LABEL]
        records = [{TEXT: t, LABEL: label} for t, label in zip(texts, labels, strict=True)]
    _TABLES[name] = (columns, records, list(range(len(texts))))
    return name


def unregister_table(name: str) -> None:
    _TABLES.pop(name, None)


@contextlib.contextmanager
def registered_table(
    texts: Sequence[Any], labels: Sequence[Any] | None, *, what: str
) -> Iterator[str]:
    """:func:`register_table` for the duration of a ``with`` block."""
    name = register_table(texts, labels, what=what)
    try:
        yield name
    finally:
        unregister_table(name)


def memory_records(name: str) -> tuple[list[str], list[dict[str, Any]], list[int]]:
    """``(columns, records, row numbers)`` of a registered table, as the file readers return."""
    try:
        return _TABLES[str(name)]
    except KeyError:
        raise LongtailError(
            f"{name}: no such in-memory table (it is registered only while the estimator that "
            "made it trains); pass the data again"
        ) from None
