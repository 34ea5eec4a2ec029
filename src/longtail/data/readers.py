"""Read labelled text tables from CSV, TSV, JSON Lines, Parquet or a saved Hugging Face dataset.

The text formats are parsed by :mod:`longtail.data.text_files`; Parquet and saved datasets by
:mod:`longtail.data.columnar`.
Every problem with the file is a one-line :class:`~longtail.errors.LongtailError` naming the
file, the row or column, and the fix.

Row numbers (``TextTable.row_numbers``) are what a user finds in an editor: for CSV/TSV the line
on which the record starts (the header is line 1, so the first data row is row 2, as in a
spreadsheet); for JSON Lines the line number; for a JSON array, Parquet and Hugging Face
datasets the 1-based record index. ``.gz`` and ``.bz2`` compressed text files are read too.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from longtail.data.columnar import Records, is_saved_dataset, read_parquet, read_saved_dataset
from longtail.data.memory import is_memory, memory_records
from longtail.data.text_files import TEXT_SUFFIXES, quoted_names, read_text_records
from longtail.errors import LongtailError

SUPPORTED_FORMATS = (
    ".csv, .tsv/.tab, .jsonl/.json (optionally .gz or .bz2), .parquet, "
    "or a Hugging Face dataset directory saved with save_to_disk"
)
_FIRST_ROWS = 5


@dataclass
class TextTable:
    """Texts with their raw labels and where each row came from.

    Attributes:
        texts: One string per row.
        labels: Raw label values (strings, numbers, lists, ...) one per row, or ``None``.
        row_numbers: 1-based row numbers as the user sees them (see the module docstring).
        source: The file or directory the rows came from.
        columns: All column names the source had.
        dropped_rows: Row numbers removed by cleaning steps so far.
        extra: Numeric feature columns requested with ``extra_columns``, ``float32 (n, k)``.
    """

    texts: list[str]
    labels: list[Any] | None
    row_numbers: list[int]
    source: str
    columns: list[str] = field(default_factory=list)
    dropped_rows: list[int] = field(default_factory=list)
    extra: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int]) -> TextTable:
        """Return a new table holding the rows at ``indices`` (positions, not row numbers)."""
        idx = [int(i) for i in indices]
        return TextTable(
            texts=[self.texts[i] for i in idx],
            labels=None if self.labels is None else [self.labels[i] for i in idx],
            row_numbers=[self.row_numbers[i] for i in idx],
            source=self.source,
            columns=list(self.columns),
            dropped_rows=list(self.dropped_rows),
            extra=None if self.extra is None else self.extra[idx],
        )


#: Label cells that spell "no value": pandas' default ``na_values`` for ``read_csv`` (what a file
#: written by ``DataFrame.to_csv``, R, Excel or ``str(None)`` holds where a label is missing),
#: matched case-sensitively after stripping, as pandas does. So ``None``, ``NaN``, ``N/A`` and
#: ``null`` are missing labels in every format, while ``none``, ``na`` or ``Null`` stay class names:
#: a real class called "None" is renamed to ``none`` to keep it. Texts are not affected: a text
#: reading "N/A" is still a text.
MISSING_LABEL_STRINGS = frozenset(
    {
        "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
        "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
    }
)  # fmt: skip


def is_missing(value: Any) -> bool:
    """True for ``None``, NaN and blank strings: a row without a value."""
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return math.isnan(float(value))
    if isinstance(value, str):
        return not value.strip()
    return False


def is_missing_label(value: Any) -> bool:
    """:func:`is_missing`, or a string in :data:`MISSING_LABEL_STRINGS` (``"NaN"``, ``"None"``)."""
    return is_missing(value) or (isinstance(value, str) and value.strip() in MISSING_LABEL_STRINGS)


def missing_label_message(
    source: str | os.PathLike[str], values: Sequence[Any], rows: Sequence[int], column: str | None
) -> str:
    """The one-line error for labels that are missing: ``values`` (one per row in ``rows``)."""
    where = f"no value in label column {column!r}" if column else "no label"
    spelled = sorted({v.strip() for v in values if isinstance(v, str) and v.strip()})
    read_as = (
        f"; {quoted_names(spelled)} {'is' if len(spelled) == 1 else 'are'} read as missing, "
        "like an empty cell (a class really named so: rename it, e.g. to 'none')"
        if spelled
        else ""
    )
    return (
        f"{source}: {len(rows)} row(s) have {where} (rows {format_rows(rows)}){read_as}; "
        "fill in the labels or remove those rows"
    )


def format_rows(rows: Sequence[int], limit: int = _FIRST_ROWS) -> str:
    """``"3, 7, 9"`` or ``"3, 7, 9, ... (12 in all)"`` for error messages."""
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown if len(rows) <= limit else f"{shown}, ... ({len(rows)} in all)"


def require_path(path: str | os.PathLike[str], flag: str | None = None) -> Path:
    """``path`` if it exists; else one line naming it (and the ``flag`` that gave it).

    Raises:
        LongtailError: the path does not exist or cannot be a path (too long, a NUL byte, ...).
    """
    path = Path(path)
    given = f" ({flag})" if flag else ""
    try:
        exists = path.exists()
    except (OSError, ValueError) as exc:
        raise LongtailError(f"{path}: not a usable path ({exc}); check the path{given}") from exc
    if not exists:
        raise LongtailError(f"{path}: no such file or directory; check the path{given}")
    return path


def read_table(
    path: str | os.PathLike[str],
    text_column: str = "text",
    label_column: str | None = "label",
    require_labels: bool = True,
    extra_columns: Sequence[str] = (),
) -> TextTable:
    """Read texts and labels from a file or a saved Hugging Face dataset directory.

    Args:
        path: A ``.csv``, ``.tsv``, ``.jsonl``/``.json`` (optionally ``.gz``/``.bz2``),
            ``.parquet`` file, or a directory written by ``datasets.Dataset.save_to_disk``.
        text_column: Column holding the text.
        label_column: Column holding the labels; ``None`` reads texts only.
        require_labels: If true, a missing label column or an empty label is an error; if
            false, a missing label column gives ``labels=None``.

    Returns:
        The :class:`TextTable`. Missing texts become ``""`` (see ``drop_empty_texts``).

    Raises:
        LongtailError: For a missing file, unknown format, bad encoding, malformed rows,
            unknown columns, a text column that is the label column, no rows, or (with
            ``require_labels``) missing labels (see :data:`MISSING_LABEL_STRINGS`).
    """
    path = Path(path)
    if label_column is not None and label_column == text_column:
        raise LongtailError(
            f"{path}: the text column and the label column are both {text_column!r}, so the "
            "model would be shown its own labels; pass the text column (--text-column) and the "
            "label column (--label-column) by their different names"
        )
    if is_memory(path):  # a notebook's data (longtail.data.memory): checked like a file's
        columns, records, row_numbers = memory_records(str(path))
    else:
        require_path(path)
        try:
            columns, records, row_numbers = _read_records(path)
        except OSError as exc:  # permissions, a special file, ...
            raise LongtailError(
                f"{path}: cannot read ({exc.strerror or exc}); check the file"
            ) from exc
    if not records:
        raise LongtailError(f"{path} has no data rows; add one row per example")
    if text_column not in columns:
        raise LongtailError(
            f"{path} has no column {text_column!r}; available columns: {quoted_names(columns)}; "
            "pass the text column name (--text-column)"
        )
    labels: list[Any] | None = None
    if label_column is not None and label_column in columns:
        labels = [rec.get(label_column) for rec in records]
    elif label_column is not None and require_labels:
        raise LongtailError(
            f"{path} has no label column {label_column!r}; available columns: {quoted_names(columns)}; "
            "pass the label column name (--label-column)"
        )
    if require_labels and labels is not None:
        missing = [i for i, value in enumerate(labels) if is_missing_label(value)]
        if missing:
            raise LongtailError(
                missing_label_message(
                    path, [labels[i] for i in missing], [row_numbers[i] for i in missing],
                    label_column,
                )
            )  # fmt: skip
    texts = [
        _as_text(rec.get(text_column), path, row, text_column)
        for rec, row in zip(records, row_numbers, strict=True)
    ]
    extra = (
        _numeric_columns(path, records, row_numbers, columns, extra_columns)
        if extra_columns
        else None
    )
    return TextTable(texts, labels, row_numbers, str(path), list(columns), extra=extra)


def _numeric_columns(
    path: Path,
    records: Sequence[dict[str, Any]],
    row_numbers: Sequence[int],
    columns: Sequence[str],
    wanted: Sequence[str],
) -> np.ndarray:
    """Extra numeric features (e.g. another model's probability), one float per row and column."""
    out = np.zeros((len(records), len(wanted)), dtype=np.float32)
    for j, name in enumerate(wanted):
        if name not in columns:
            raise LongtailError(
                f"{path} has no extra feature column {name!r}; available columns: {quoted_names(columns)}"
            )
        for i, (rec, row) in enumerate(zip(records, row_numbers, strict=True)):
            value = rec.get(name)
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = math.nan
            if not math.isfinite(number):
                raise LongtailError(
                    f"{path}: row {row}: extra feature {name!r} must be a finite number, got {value!r}"
                )
            out[i, j] = number
    return out


def _as_text(value: Any, path: Path, row: int, column: str) -> str:
    """One cell of the text column as a string: missing → ``""``, numbers → their digits."""
    if is_missing(value):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (list, tuple, dict)):
        kind = "an object" if isinstance(value, dict) else "a list"
        raise LongtailError(
            f"{path} row {row}: text column {column!r} holds {kind}, not a string; "
            "give one string per row or pick another --text-column"
        )
    return str(value)


def _read_records(path: Path) -> Records:
    if path.is_dir():
        if not is_saved_dataset(path):
            raise LongtailError(
                f"{path} is a directory but not a Hugging Face dataset saved with save_to_disk; "
                f"supported: {SUPPORTED_FORMATS}"
            )
        return read_saved_dataset(path)
    suffixes = [s.lower() for s in path.suffixes]
    compression = suffixes.pop() if suffixes and suffixes[-1] in (".gz", ".bz2") else None
    suffix = suffixes[-1] if suffixes else ""
    if suffix == ".parquet" and compression is None:
        return read_parquet(path)
    if suffix not in TEXT_SUFFIXES:
        raise LongtailError(
            f"{path}: unknown file format {''.join(path.suffixes) or '(no extension)'!r}; "
            f"supported: {SUPPORTED_FORMATS}"
        )
    return read_text_records(path, suffix, compression)
