"""Small cleaning steps on a :class:`~longtail.data.readers.TextTable`: pure, one job each."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

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


def cap_document_texts(
    texts: Sequence[str],
    max_chars: int,
    on_too_long: str,
    *,
    source: str | None = None,
    row_numbers: Sequence[int] | None = None,
) -> list[str]:
    """Long documents above ``max_chars`` characters: refused, or cut to their first ``max_chars``.

    The one place documents are cut (``long_documents.max_chars`` / ``on_too_long``): training
    and validation files as read, and every text ``predict`` and ``evaluate`` score, so a cut
    document is the same text, and so has the same embedding-cache key, wherever it appears.

    Raises:
        LongtailError: with ``on_too_long="error"``, naming the file and the first rows.
    """
    over = [i for i, text in enumerate(texts) if len(text) > max_chars]
    if not over:
        return list(texts)
    rows = ", ".join(str(row_numbers[i] if row_numbers is not None else i) for i in over[:5])
    where = f"{source}: " if source else ""
    if on_too_long == "error":
        raise LongtailError(
            f"{where}{len(over)} document(s) longer than long_documents.max_chars="
            f"{max_chars} characters (rows {rows}); raise the cap or set "
            "long_documents.on_too_long=truncate"
        )
    warnings.warn(
        f"{where}{len(over)} document(s) cut to {max_chars} characters (rows {rows})", stacklevel=3
    )
    return [text[:max_chars] for text in texts]


def strip_email_headers(text: str) -> str:
    """Drop a mail/news header block: everything up to the first blank line.

    20 Newsgroups posts carry ``From:``/``Subject:``/``Organization:`` headers that leak the
    topic. Text without a blank line is returned unchanged.
    """
    head, sep, body = text.replace("\r\n", "\n").partition("\n\n")
    return body.strip("\n") if sep else text
