"""Small cleaning steps on a :class:`~longtail.data.readers.TextTable`: pure, one job each."""

from __future__ import annotations

import warnings

from longtail.data.readers import TextTable, format_rows
from longtail.errors import LongtailError


def empty_text_rows(table: TextTable) -> list[int]:
    """Positions (0-based) of rows whose text is empty or only whitespace."""
    return [i for i, text in enumerate(table.texts) if not text.strip()]


def drop_empty_texts(table: TextTable, strict: bool = False) -> TextTable:
    """Remove rows with empty or whitespace-only text.

    Args:
        table: The table to clean; it is not modified.
        strict: Raise instead of dropping.

    Returns:
        A new table without those rows; their row numbers are appended to ``dropped_rows``
        (so ``len(new.dropped_rows) - len(table.dropped_rows)`` is the count dropped here).

    Raises:
        LongtailError: If ``strict`` and some texts are empty, with the count and first rows.
    """
    empty = empty_text_rows(table)
    if not empty:
        return table
    rows = [table.row_numbers[i] for i in empty]
    message = f"{table.source}: {len(empty)} row(s) have empty text (rows {format_rows(rows)})"
    if strict:
        raise LongtailError(f"{message}; fill in the text or remove those rows")
    if len(empty) == len(table):
        raise LongtailError(f"{message}: every row; check the text column")
    # one channel only: a logging call as well printed the line twice (without "warning: ")
    warnings.warn(f"{message}; dropped them", stacklevel=2)
    drop = set(empty)
    kept = table.subset([i for i in range(len(table)) if i not in drop])
    kept.dropped_rows = [*table.dropped_rows, *rows]
    return kept


def strip_email_headers(text: str) -> str:
    """Drop a mail/news header block: everything up to the first blank line.

    20 Newsgroups posts carry ``From:``/``Subject:``/``Organization:`` headers that leak the
    topic. Text without a blank line is returned unchanged.
    """
    head, sep, body = text.replace("\r\n", "\n").partition("\n\n")
    return body.strip("\n") if sep else text
