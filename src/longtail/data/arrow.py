"""Data larger than memory: Arrow tables (Hugging Face ``datasets``), memory-mapped end to end.

With ``--arrow`` (``data.arrow: true``) the training file is converted once to Arrow in the
``datasets`` cache, empty texts are filtered and the texts tokenised with ``Dataset.map`` — all
on disk and memory-mapped, reused by later runs on the same file. What stays in RAM is O(rows) of
small numbers: one label index (or a few label ids for multilabel, as CSR) and one length per row.
Batches fetch their token ids from the memory-mapped table.

Decisions:
- Labels are counted with Arrow compute, never materialised as Python objects.
- Multilabel labels are kept as CSR (``SparseMultiHot``), densified per batch: 5M rows × 485
  labels would be 9.7 GB dense.
- Without ``--validation-data`` the validation split is stratified (by class, or by a row's rarest
  label for multilabel) and capped at ``MAX_AUTO_VALIDATION_ROWS`` rows: validation runs every
  epoch, and 20k rows estimate thresholds well.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from longtail.data.labels import LabelSpace, normalize_label
from longtail.data.readers import is_missing_label
from longtail.errors import LongtailError

MAX_AUTO_VALIDATION_ROWS = 20_000
_BUILDERS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".tab": "csv",
    ".jsonl": "json",
    ".json": "json",
    ".parquet": "parquet",
}


def _builder(path: Path) -> tuple[str, dict[str, Any]]:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2"):
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix not in _BUILDERS:
        raise LongtailError(
            f"{path}: --arrow reads {', '.join(sorted(_BUILDERS))} (optionally .gz/.bz2) or a datasets directory"
        )
    return _BUILDERS[suffix], ({"delimiter": "\t"} if suffix in (".tsv", ".tab") else {})


def load_arrow_table(
    path: str | Path, *, text_column: str, label_column: str | None, cache_dir: str | None = None
):
    """The file as a memory-mapped ``datasets.Dataset`` holding the text (and label) column."""
    import datasets

    path = Path(path)
    if not path.exists():
        raise LongtailError(f"data file {path} does not exist")
    datasets.disable_progress_bars()
    try:
        if path.is_dir():
            table = datasets.load_from_disk(str(path))
            if isinstance(table, datasets.DatasetDict):
                raise LongtailError(f"{path} holds splits {', '.join(table)}; pass {path}/<split>")
        else:
            builder, options = _builder(path)
            table = datasets.load_dataset(
                builder, data_files=str(path), split="train", cache_dir=cache_dir, **options
            )
    except LongtailError:
        raise
    except Exception as exc:  # datasets/pyarrow raise many types for unreadable files
        raise LongtailError(
            f"{path}: cannot read it as a table ({' '.join(str(exc).split())[:200]})"
        ) from None
    wanted = [c for c in (text_column, label_column) if c]
    missing = [c for c in wanted if c not in table.column_names]
    if missing:
        raise LongtailError(
            f"{path}: no column {missing[0]!r}; available columns: {', '.join(table.column_names)}"
        )
    return table.select_columns(wanted)


def drop_empty_arrow(table, *, text_column: str, strict: bool, source: str):
    """Remove rows whose text is empty or whitespace; ``strict`` makes them an error."""
    keep = table.map(
        lambda batch: {
            "_keep": [isinstance(t, str) and bool(t.strip()) for t in batch[text_column]]
        },
        batched=True,
        batch_size=10_000,
        desc="check texts",
    )
    mask = np.asarray(keep.data.column("_keep").to_numpy(zero_copy_only=False), dtype=bool)
    dropped = int((~mask).sum())
    if dropped:
        first = (np.flatnonzero(~mask)[:5] + 1).tolist()
        if strict:
            raise LongtailError(
                f"{source}: {dropped} row(s) have empty text (records {first}); fix them or drop --strict"
            )
        warnings.warn(
            f"{source}: {dropped} row(s) have empty text (records {first}); dropped them",
            stacklevel=2,
        )
        table = table.select(np.flatnonzero(mask))
    if len(table) == 0:
        raise LongtailError(f"{source}: no rows with text")
    return table


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


def _label_values(table, label_column: str, delimiter: str | None, multilabel: bool):
    """The label column as an Arrow array of single labels (flattened for multilabel)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = table.data.column(label_column).combine_chunks()
    if multilabel and pa.types.is_list(column.type):
        return column, pc.list_flatten(column)
    if multilabel:
        split = pc.split_pattern(pc.cast(column, pa.string()), pattern=delimiter or ",")
        split = pc.list_flatten(split)
        return None, pc.utf8_trim_whitespace(split)
    return None, column


def fit_and_encode_arrow(
    table,
    *,
    label_column: str,
    task: str | None,
    label_delimiter: str | None,
    positive_label: Any,
    source: str,
) -> tuple[LabelSpace, np.ndarray | SparseMultiHot]:
    """Fit a :class:`LabelSpace` from Arrow value counts and encode every row, without Python rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = table.data.column(label_column).combine_chunks()
    if column.null_count:
        first = (np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[:5] + 1).tolist()
        raise LongtailError(
            f"{source}: {column.null_count} row(s) have no label (records {first}); fill them in"
        )
    multilabel = (
        task == "multilabel" or label_delimiter is not None or pa.types.is_list(column.type)
    )
    lists, values = _label_values(table, label_column, label_delimiter, multilabel)
    counted = pc.value_counts(values)
    raw_uniques = counted.field("values").to_pylist()
    raw_counts = counted.field("counts").to_numpy()
    if any(is_missing_label(v) for v in raw_uniques):
        raise LongtailError(
            f"{source}: some rows have an empty, null or NaN label (or a label such as 'NaN' "
            "or 'None', read as missing); fill them in"
        )
    names = [normalize_label(v) for v in raw_uniques]
    totals: dict[str, int] = {}
    for name, count in zip(names, raw_counts.tolist(), strict=True):
        totals[name] = totals.get(name, 0) + count
    space = LabelSpace.from_counts(
        totals,
        "multilabel" if multilabel else task,
        label_delimiter=(label_delimiter or ",") if multilabel else None,
        positive_label=positive_label,
        source=source,
    )
    index_of_name = {name: i for i, name in enumerate(space.names)}
    unique_to_class = np.array([index_of_name[n] for n in names], dtype=np.int64)
    positions = pc.index_in(values, value_set=pa.array(raw_uniques, type=values.type)).to_numpy(
        zero_copy_only=False
    )
    encoded = unique_to_class[positions.astype(np.int64)]
    if not multilabel:
        return space, encoded
    if lists is not None:
        lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
    else:
        split = pc.split_pattern(pc.cast(column, pa.string()), pattern=label_delimiter or ",")
        lengths = pc.list_value_length(split).to_numpy(zero_copy_only=False)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return space, SparseMultiHot(indptr, encoded, len(space.names))


class ArrowTokens(Sequence):
    """Token ids per row, read from a memory-mapped Arrow table (``input_ids`` + ``length``)."""

    def __init__(self, table, rows: np.ndarray | None = None) -> None:
        self.table = table
        self.rows = np.arange(len(table)) if rows is None else np.asarray(rows, dtype=np.int64)
        self.lengths = np.asarray(table.data.column("length").to_numpy(zero_copy_only=False))[
            self.rows
        ]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> list[int]:  # type: ignore[override]
        return self.table[int(self.rows[index])]["input_ids"]

    def materialise(self) -> list[list[int]]:
        """All rows as Python lists (for the bounded validation split)."""
        return [self.table[int(r)]["input_ids"] for r in self.rows]


def tokenize_arrow(table, tokenizer, *, text_column: str, max_length: int):
    """Add ``input_ids`` and ``length`` columns, computed once and cached by ``datasets``."""

    def encode(batch: dict[str, list]) -> dict[str, list]:
        ids = tokenizer(batch[text_column], truncation=True, max_length=max_length)["input_ids"]
        return {"input_ids": ids, "length": [len(row) for row in ids]}

    tokenized = table.map(
        encode, batched=True, batch_size=2_000, remove_columns=table.column_names, desc="tokenize"
    )
    return tokenized.with_format(None)
