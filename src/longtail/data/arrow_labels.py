"""Labels of an Arrow table (``--arrow``): counted, checked and encoded slice by slice.

The same rules as :meth:`longtail.data.LabelSpace.fit` and :meth:`~longtail.data.LabelSpace.encode`
(task detection, class order, missing labels, the checks of :mod:`longtail.data.label_checks`),
computed from the Arrow column without Python rows, so that millions of rows fit in memory.

Decisions:
- The column is read in slices of :data:`BATCH_ROWS` rows; what is kept is one small integer per
  label (the raw value's id, in order of first appearance) and a count per distinct value, never
  the labels as Python objects.
- A delimited multilabel cell skips blank pieces (``a|``, ``a||b``) as the in-memory path does; a
  cell that is blank as a whole is a missing label.
- A row's repeated label (``a|a``) is one label, as in memory: the targets and the rows-per-label
  counts of :func:`~longtail.data.label_checks.check_multilabel_counts` are deduplicated per row.
- Multilabel labels are kept as CSR (:class:`SparseMultiHot`), densified per batch: 5M rows × 485
  labels would be 9.7 GB dense.
- Validation files are encoded with the training label space (:func:`encode_arrow`), never
  fitted: a validation split may lack a class, or hold a label in every row.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from longtail.data.label_checks import (
    check_delimiter_not_empty,
    check_multilabel_counts,
    check_multilabel_task,
    check_not_ids,
    check_not_regression,
    preview,
    raise_unused_delimiter,
    warn_label_variants,
)
from longtail.data.labels import DEFAULT_DELIMITER, LabelSpace, normalize_label
from longtail.data.readers import is_missing_label
from longtail.errors import LongtailError
from longtail.tasks import TASKS

#: Rows per slice of the label column: a few tens of MB of Arrow strings at a time.
BATCH_ROWS = 500_000


@dataclass
class SparseMultiHot:
    """Multilabel targets as CSR: row ``i``'s labels are ``indices[indptr[i]:indptr[i + 1]]``."""

    indptr: np.ndarray
    indices: np.ndarray
    num_classes: int
    ndim: int = 2

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self), self.num_classes)

    def __getitem__(self, rows: Any) -> np.ndarray:
        """Dense float32 multi-hot rows for an index array, a list or a slice."""
        rows = (
            np.arange(len(self))[rows]
            if isinstance(rows, slice)
            else np.asarray(rows, dtype=np.int64)
        )
        out = np.zeros((len(rows), self.num_classes), dtype=np.float32)
        starts, stops = self.indptr[rows], self.indptr[rows + 1]
        row_of = np.repeat(np.arange(len(rows)), stops - starts)
        cols = (
            self.indices[
                np.concatenate([np.arange(a, b) for a, b in zip(starts, stops, strict=True)])
            ]
            if len(rows)
            else []
        )
        out[row_of, cols] = 1.0
        return out

    def take(self, rows: np.ndarray) -> SparseMultiHot:
        rows = np.asarray(rows, dtype=np.int64)
        lengths = self.indptr[rows + 1] - self.indptr[rows]
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        gather = (
            np.concatenate([np.arange(self.indptr[r], self.indptr[r + 1]) for r in rows])
            if len(rows)
            else np.zeros(0, np.int64)
        )
        return SparseMultiHot(indptr, self.indices[gather.astype(np.int64)], self.num_classes)

    def counts(self) -> np.ndarray:
        return np.bincount(self.indices, minlength=self.num_classes).astype(np.int64)

    def rarest_label_groups(self) -> np.ndarray:
        """Per row, its rarest positive label (ties: lower index); rows without labels: group C."""
        counts = self.counts()
        order = np.argsort(counts, kind="stable")
        rank = np.empty(self.num_classes, dtype=np.int64)
        rank[order] = np.arange(self.num_classes)
        ranks = rank[self.indices]
        best = np.full(len(self), self.num_classes, dtype=np.int64)
        nonempty = np.flatnonzero(np.diff(self.indptr) > 0)
        if len(nonempty):
            best[nonempty] = np.minimum.reduceat(ranks, self.indptr[nonempty])
        return np.append(order, self.num_classes)[best]


@dataclass
class _Scan:
    """One pass over a label column: the raw values and, per label, which value and which row.

    Attributes:
        raw: Distinct raw label values (pieces, for multilabel) in order of first appearance.
        value_ids: Per label, its index into ``raw``.
        rows: Per label, its row (0-based); ``None`` for single-label (label ``i`` is row ``i``).
        n_rows: Rows in the column.
        blank_rows: Rows whose whole label is blank (multilabel strings; missing labels).
        delimiter_used: Whether any delimited cell holds the delimiter.
    """

    raw: list[Any]
    value_ids: np.ndarray
    rows: np.ndarray | None
    n_rows: int
    blank_rows: list[int]
    delimiter_used: bool

    def counts(self) -> np.ndarray:
        return np.bincount(self.value_ids, minlength=len(self.raw))


def _slices(column) -> Iterator[tuple[int, Any]]:
    for start in range(0, len(column), BATCH_ROWS):
        yield start, column.slice(start, BATCH_ROWS).combine_chunks()


def _refuse_nulls(column, source: str) -> None:
    if not column.null_count:
        return
    first: list[int] = []
    for start, part in _slices(column):
        nulls = np.flatnonzero(part.is_null().to_numpy(zero_copy_only=False))
        first += (nulls[: 5 - len(first)] + start + 1).tolist()
        if len(first) == 5:
            break
    raise LongtailError(
        f"{source}: {column.null_count} row(s) have no label (records {first}); fill them in"
    )


def _scan(column, *, multilabel: bool, delimiter: str | None) -> _Scan:
    """Read the column slice by slice (see :class:`_Scan`); ``delimiter`` splits strings."""
    import pyarrow as pa
    import pyarrow.compute as pc

    lists = pa.types.is_list(column.type) or pa.types.is_large_list(column.type)
    ids: dict[Any, int] = {}
    value_ids, rows, blank_rows, used = [], [], [], False
    for start, part in _slices(column):
        parents = None
        if multilabel and lists:
            parents = pc.list_parent_indices(part)
            part = pc.list_flatten(part)
        elif multilabel:
            text = pc.cast(part, pa.string())
            used = used or bool(pc.any(pc.match_substring(text, delimiter)).as_py())
            blank = pc.equal(pc.utf8_trim_whitespace(text), "")
            blank_rows += (np.flatnonzero(blank.to_numpy(zero_copy_only=False)) + start).tolist()
            split = pc.split_pattern(text, pattern=delimiter)
            pieces = pc.utf8_trim_whitespace(pc.list_flatten(split))
            keep = pc.not_equal(pieces, "")  # blank pieces are formatting, not labels
            parents = pc.filter(pc.list_parent_indices(split), keep)
            part = pc.filter(pieces, keep)
        encoded = pc.dictionary_encode(part, null_encoding="encode")
        local = [ids.setdefault(v, len(ids)) for v in encoded.dictionary.to_pylist()]
        codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        value_ids.append(np.asarray(local, dtype=np.int64)[codes])
        if parents is not None:
            rows.append(parents.to_numpy(zero_copy_only=False).astype(np.int64) + start)
    return _Scan(
        raw=list(ids),
        value_ids=np.concatenate(value_ids) if value_ids else np.zeros(0, np.int64),
        rows=(np.concatenate(rows) if rows else np.zeros(0, np.int64)) if multilabel else None,
        n_rows=len(column),
        blank_rows=blank_rows,
        delimiter_used=used,
    )


def _refuse_missing(scan: _Scan, source: str) -> None:
    if scan.blank_rows or any(is_missing_label(v) for v in scan.raw):
        raise LongtailError(
            f"{source}: some rows have an empty, null or NaN label (or a label such as 'NaN' "
            "or 'None', read as missing); fill them in"
        )


def _refuse_nested(column, source: str) -> None:
    import pyarrow as pa

    value_type = column.type.value_type if pa.types.is_list(column.type) else column.type
    if pa.types.is_nested(value_type):
        kind = "an object" if pa.types.is_struct(value_type) else "a nested list"
        raise LongtailError(
            f"{source}: the labels are {kind}; give a string, a number, or "
            "(multilabel) a list of strings"
        )


def _targets(
    scan: _Scan, class_of_value: np.ndarray, num_classes: int
) -> np.ndarray | SparseMultiHot:
    """Class indices per row, or CSR targets with each row's labels once."""
    classes = class_of_value[scan.value_ids]
    if scan.rows is None:
        return classes
    pairs = np.unique(scan.rows * num_classes + classes)  # sorted by row, repeats dropped
    lengths = np.bincount(pairs // num_classes, minlength=scan.n_rows)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return SparseMultiHot(indptr, pairs % num_classes, num_classes)


def fit_and_encode_arrow(
    table,
    *,
    label_column: str,
    task: str | None,
    label_delimiter: str | None,
    positive_label: Any,
    source: str,
) -> tuple[LabelSpace, np.ndarray | SparseMultiHot]:
    """Fit a training file's :class:`LabelSpace` and encode every row, as ``LabelSpace.fit``.

    Raises:
        LongtailError: For every label column :meth:`LabelSpace.fit` refuses, with its message:
            missing labels, an empty or unused delimiter, a task that does not fit, a regression
            target, an id column, a multilabel label on in every row, one class.
    """
    import pyarrow as pa

    if task is not None and task not in TASKS:
        raise LongtailError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
    check_delimiter_not_empty(label_delimiter, source)
    column = table.data.column(label_column)
    _refuse_nested(column, source)
    _refuse_nulls(column, source)
    has_lists = pa.types.is_list(column.type) or pa.types.is_large_list(column.type)
    multilabel = has_lists or label_delimiter is not None or task == "multilabel"
    if multilabel:
        check_multilabel_task(task, has_lists, label_delimiter, source)
    delimiter = (label_delimiter or DEFAULT_DELIMITER) if multilabel else None
    scan = _scan(column, multilabel=multilabel, delimiter=delimiter)
    _refuse_missing(scan, source)
    if label_delimiter is not None and not has_lists and not scan.delimiter_used:
        raise_unused_delimiter([str(v).strip() for v in scan.raw], label_delimiter, source)
    names = [normalize_label(v) for v in scan.raw]
    totals: dict[str, int] = {}
    for name, count in zip(names, scan.counts().tolist(), strict=True):
        totals[name] = totals.get(name, 0) + count
    if not multilabel:
        check_not_regression(totals, source)
        check_not_ids(totals, scan.n_rows, source)
    # Multilabel: occurrences, not rows, but the same names, so the same space (order is by name)
    space = LabelSpace.from_counts(
        totals,
        "multilabel" if multilabel else task,
        label_delimiter=delimiter,
        positive_label=positive_label,
        source=source,
    )
    index = {name: i for i, name in enumerate(space.names)}
    y = _targets(scan, np.array([index[n] for n in names], dtype=np.int64), space.num_classes)
    if isinstance(y, SparseMultiHot):
        check_multilabel_counts(
            dict(zip(space.names, y.counts().tolist(), strict=True)), len(y), source
        )
    warn_label_variants(space.names, source)
    return space, y


def encode_arrow(
    table, space: LabelSpace, *, label_column: str, source: str
) -> np.ndarray | SparseMultiHot:
    """Encode a file's labels with a fitted label space (a validation file), as ``encode``.

    Raises:
        LongtailError: On missing labels, a list label for a single-label task, or a label the
            space does not know (naming the first record that holds it).
    """
    import pyarrow as pa

    column = table.data.column(label_column)
    multilabel = space.task == "multilabel"
    _refuse_nested(column, source)
    _refuse_nulls(column, source)
    if not multilabel and (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
        raise LongtailError(
            f"{source}: the labels are lists but the task is {space.task}; give one label per row"
        )
    scan = _scan(
        column, multilabel=multilabel, delimiter=space.label_delimiter or DEFAULT_DELIMITER
    )
    _refuse_missing(scan, source)
    names = [normalize_label(v) for v in scan.raw]
    known = {name: i for i, name in enumerate(space.names)}
    unknown = [i for i, name in enumerate(names) if name not in known]
    if unknown:
        where = int(np.flatnonzero(scan.value_ids == unknown[0])[0])
        record = (scan.rows[where] if scan.rows is not None else where) + 1
        raise LongtailError(
            f"{source} record {record}: unknown label {names[unknown[0]]!r}; known labels: "
            f"{preview(space.names)}; fix the label or retrain with it"
        )
    return _targets(scan, np.array([known[n] for n in names], dtype=np.int64), space.num_classes)
