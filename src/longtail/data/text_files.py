"""Parse CSV, TSV, JSON Lines and JSON-array files (optionally ``.gz``/``.bz2``) into records.

:func:`read_text_records` returns the same ``(columns, records, row_numbers)`` triple as
:mod:`longtail.data.columnar` does for Parquet and saved datasets; :func:`longtail.data.read_table`
picks the reader. Every problem is a one-line :class:`~longtail.errors.LongtailError` naming the
file and line: a UTF-16 or non-UTF-8 file, a broken compressed file, a malformed CSV row, a
quote never closed, a JSON line that does not parse, a key given twice in one object.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from longtail.data.columnar import Records
from longtail.errors import LongtailError

#: Suffix -> delimiter (``None``: JSON)
TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".jsonl": None, ".json": None}


def quoted_names(columns: Sequence[str]) -> str:
    """Column or key names as an error message lists them: ``'a', 'b'`` (``(none)`` if empty)."""
    return ", ".join(repr(c) for c in columns) or "(none)"


def read_text_records(path: Path, suffix: str, compression: str | None) -> Records:
    """The records of a text file whose (lower-case) format suffix is ``suffix``, one of
    :data:`TEXT_SUFFIXES`, compressed with ``compression`` (``".gz"``, ``".bz2"`` or ``None``).
    A ``.json`` file holding one array is read as an array, otherwise as JSON Lines."""
    text = _decode(path, _read_bytes(path, compression))
    delimiter = TEXT_SUFFIXES[suffix]
    if delimiter is not None:
        return _parse_delimited(path, text, delimiter)
    if suffix == ".json" and text.lstrip().startswith("["):
        return _parse_json_array(path, text)
    return _parse_jsonl(path, text)


def _read_bytes(path: Path, compression: str | None) -> bytes:
    raw = path.read_bytes()  # OSError is turned into a LongtailError by read_table
    try:
        if compression == ".gz":
            return gzip.decompress(raw)
        if compression == ".bz2":
            return bz2.decompress(raw)
    except (OSError, EOFError, ValueError) as exc:
        raise LongtailError(
            f"{path}: not a valid {compression} file ({exc}); re-compress it or remove the "
            f"{compression} extension"
        ) from exc
    return raw


def _decode(path: Path, raw: bytes) -> str:
    """UTF-8, with or without a byte-order mark; anything else is an error naming the line."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LongtailError(
            f"{path}: the file is UTF-16 (it starts with a UTF-16 byte-order mark); "
            "re-save it as UTF-8"
        )
    if raw.startswith(b"\x1f\x8b"):
        raise LongtailError(f"{path}: the file is gzip-compressed; name it {path.name}.gz")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LongtailError(
            f"{path}: not valid UTF-8 at line {line} (byte offset {exc.start}; "
            "Latin-1 or Windows-1252 perhaps); re-save the file as UTF-8"
        ) from exc


def _no_duplicate_keys(path: Path, where: str) -> Any:
    """A ``json.loads`` ``object_pairs_hook`` that refuses a key given twice in one object."""

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        record = dict(pairs)
        if len(record) != len(pairs):
            keys = [k for k, _ in pairs]
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            raise LongtailError(
                f"{path}{where}: duplicate key(s) {quoted_names(dupes)} in one object; "
                "give every field a unique name"
            )
        return record

    return hook


def _loads(path: Path, text: str, line: int | None = None) -> Any:
    """``json.loads`` whose every failure is a one-line error naming the line of ``path``.

    ``line`` is the JSON Lines line number; ``None`` means ``text`` is the whole file.
    """
    where = f" line {line}" if line is not None else ""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys(path, where))
    except json.JSONDecodeError as exc:
        at = where or f" line {exc.lineno}"
        fix = "each line must be one JSON object" if line is not None else "fix the file"
        raise LongtailError(
            f"{path}{at}: not valid JSON ({exc.msg} at column {exc.colno}); {fix}"
        ) from exc
    except RecursionError as exc:
        raise LongtailError(
            f"{path}{where}: JSON nested too deeply to read; flatten the values"
        ) from exc
    except ValueError as exc:  # an integer with more than 4300 digits
        raise LongtailError(
            f"{path}{where}: a number is too long to read; put it in quotes as a string"
        ) from exc


def _parse_delimited(path: Path, text: str, delimiter: str) -> Records:
    csv.field_size_limit(2**31 - 1)  # long documents exceed the 128 KiB default
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if not header:
            raise LongtailError(f"{path} is empty; it needs a header row and data rows")
        header = [h.strip() for h in header]
        dupes = sorted({h for h in header if header.count(h) > 1})
        if dupes:
            raise LongtailError(
                f"{path} line 1: duplicate column name(s) {quoted_names(dupes)} in the header; "
                "give every column a unique name"
            )
        records: list[dict[str, Any]] = []
        rows: list[int] = []
        start = last_start = reader.line_num + 1
        for record in reader:
            if record and record != [""]:
                if len(record) != len(header):
                    _refuse_open_quote(path, text, start, reader.line_num, delimiter)
                    raise LongtailError(
                        f"{path} line {start}: {len(record)} field(s) but the header has "
                        f"{len(header)}; quote fields that contain {delimiter!r} or newlines"
                    )
                records.append(dict(zip(header, record, strict=True)))
                rows.append(start)
            last_start, start = start, reader.line_num + 1
        # Python's csv reader ends a quote left open at the end of the file silently; the last
        # record then holds the rest of the file.
        _refuse_open_quote(path, text, last_start, reader.line_num, delimiter)
    except csv.Error as exc:
        raise LongtailError(
            f"{path} line {reader.line_num}: malformed row ({exc}); fix the quoting"
        ) from exc
    return header, records, rows


def _refuse_open_quote(path: Path, text: str, first: int, last: int, delimiter: str) -> None:
    """Raise if the record on lines ``first``..``last`` opens a quote it never closes."""
    lines = io.StringIO(text, newline="").readlines()
    opened = _open_quote_line(lines[first - 1 : last], delimiter)
    if opened is not None:
        line = first + opened
        raise LongtailError(
            f"{path} line {line}: unterminated quote: a field opened with '\"' on this line is "
            "never closed, so the rest of the file was read into it; close the quote (a quote "
            "inside a quoted field is written '\"\"')"
        )


def _open_quote_line(lines: Sequence[str], delimiter: str) -> int | None:
    """The 0-based index of the line whose quote is still open at the end, as Python's csv
    reader (not strict) reads quotes: a quote opens a field only at its start; inside, ``""`` is a
    quote character and a lone quote closes the field."""
    quoted, field_start, opened = False, True, None
    for number, line in enumerate(lines):
        i = 0
        while i < len(line):
            char = line[i]
            if quoted:
                if char == '"':
                    if line[i + 1 : i + 2] == '"':
                        i += 1
                    else:
                        quoted = False
                field_start = False
            elif char == '"' and field_start:
                quoted, opened = True, number
                field_start = False
            else:
                field_start = char in (delimiter, "\n", "\r")
            i += 1
    return opened if quoted else None


def _parse_jsonl(path: Path, text: str) -> Records:
    records: list[dict[str, Any]] = []
    rows: list[int] = []
    columns: dict[str, None] = {}
    # split on "\n" only: str.splitlines() also breaks at U+2028 etc., legal inside JSON strings
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        record = _loads(path, line, number)
        if not isinstance(record, dict):
            raise LongtailError(
                f"{path} line {number}: expected a JSON object like "
                f'{{"text": ..., "label": ...}}, got {type(record).__name__}'
            )
        columns.update(dict.fromkeys(record))
        records.append(record)
        rows.append(number)
    return list(columns), records, rows


def _parse_json_array(path: Path, text: str) -> Records:
    data = _loads(path, text)
    if not isinstance(data, list):
        raise LongtailError(f"{path}: expected a JSON array of objects; fix the file")
    columns: dict[str, None] = {}
    for number, record in enumerate(data, start=1):
        if not isinstance(record, dict):
            raise LongtailError(
                f"{path} record {number}: expected a JSON object, got {type(record).__name__}"
            )
        columns.update(dict.fromkeys(record))
    return list(columns), list(data), list(range(1, len(data) + 1))
