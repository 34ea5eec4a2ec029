"""Data larger than memory: Arrow tables (Hugging Face ``datasets``), memory-mapped end to end.

With ``--arrow`` (``data.arrow: true``) the training file is converted once to Arrow in the
``datasets`` cache, empty texts are filtered and the texts tokenised with ``Dataset.map`` — all
on disk and memory-mapped, reused by later runs on the same file. What stays in RAM is O(rows) of
small numbers: one label index (or a few label ids for multilabel, as CSR) and one length per row.
Batches fetch their token ids from the memory-mapped table.

Decisions:
- Labels are counted and checked with Arrow compute, slice by slice, never materialised as Python
  objects (:mod:`longtail.data.arrow_labels`); the training file is checked as
  :meth:`~longtail.data.LabelSpace.fit` checks it, a validation file is only encoded.
- CSV/TSV label cells are read as the text they hold, as the in-memory reader does: pandas would
  make ``1.0`` and ``1`` one float and ``NaN`` a null, hiding labels written two ways.
- Multilabel labels are kept as CSR (``SparseMultiHot``), densified per batch: 5M rows × 485
  labels would be 9.7 GB dense.
- Without ``--validation-data`` the validation split is stratified (by class, or by a row's rarest
  label for multilabel) and capped at ``MAX_AUTO_VALIDATION_ROWS`` rows: validation runs every
  epoch, and 20k rows estimate thresholds well.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from longtail.data.arrow_labels import (  # re-exported: the Arrow path's one import
    SparseMultiHot,
    encode_arrow,
    fit_and_encode_arrow,
)
from longtail.errors import LongtailError

__all__ = [
    "MAX_AUTO_VALIDATION_ROWS",
    "ArrowTexts",
    "ArrowTokens",
    "SparseMultiHot",
    "drop_empty_arrow",
    "encode_arrow",
    "fit_and_encode_arrow",
    "load_arrow_table",
    "tokenize_arrow",
]

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
            if builder == "csv" and label_column:
                # label cells as written ("1.0", "NaN"), as the in-memory reader reads them
                options |= {"converters": {label_column: str}, "keep_default_na": False}
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
        """All rows as Python lists (for the bounded validation split). ``datasets`` gathers
        them chunk by chunk; a plain Arrow ``take`` on the chunked column would first copy the
        whole column into memory (600 MB at 1M rows)."""
        return self.table.select(self.rows)[:]["input_ids"]


class ArrowTexts(Sequence):
    """The texts of some rows of a memory-mapped Arrow table, read only when asked for: what
    needs raw text under ``--arrow`` (the TF-IDF anchor's sample) reads those rows, not the file."""

    def __init__(self, table, column: str, rows: np.ndarray | None = None) -> None:
        self.table = table
        self.column = column
        self.rows = np.arange(len(table)) if rows is None else np.asarray(rows, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> str:  # type: ignore[override]
        return self.table[int(self.rows[index])][self.column]

    def take(self, positions: Sequence[int] | np.ndarray | None = None) -> list[str]:
        """The texts at ``positions`` (indices into these rows; all of them when ``None``), in
        that order, gathered chunk by chunk as :meth:`ArrowTokens.materialise` does."""
        rows = self.rows if positions is None else self.rows[np.asarray(positions, np.int64)]
        return list(self.table.select(rows)[:][self.column])


def tokenize_arrow(table, tokenizer, *, text_column: str, max_length: int):
    """Add ``input_ids`` (int32 lists) and ``length`` columns, computed once and cached by
    ``datasets``.

    Batches travel as Arrow tables both ways: the texts are read out of a batch's column, the
    ids go back as one list array built by pyarrow (int32: vocabularies are far below 2**31;
    half the bytes of the int64 that Python ints would infer), so no row becomes a Python dict.
    The tokenizer call itself is :func:`~longtail.text.batching.token_ids_encoder`.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from longtail.text.batching import token_ids_encoder

    encode_ids = token_ids_encoder(tokenizer, max_length)

    def encode(batch):
        ids = pa.array(encode_ids(batch.column(text_column).to_pylist()), pa.list_(pa.int32()))
        return pa.table({"input_ids": ids, "length": pc.list_value_length(ids)})

    tokenized = table.with_format("arrow").map(
        encode, batched=True, batch_size=10_000, remove_columns=table.column_names,
        num_proc=processes if (processes := tokenizing_processes(len(table))) > 1 else None,
        desc="tokenize",
    )  # fmt: skip
    return tokenized.with_format(None)


#: Rows a tokenising process must have to be worth starting (it costs about a second).
ROWS_PER_PROCESS = 100_000


def tokenizing_processes(rows: int) -> int:
    """Processes for :func:`tokenize_arrow`: one per core this process may run on, fewer for
    small tables (``datasets`` starts a pool for any ``num_proc``, even 1: one process means
    none). Processes, not the tokenizer's own threads: ``longtail`` runs with
    ``TOKENIZERS_PARALLELISM=false`` (the Rust thread pool does not survive a fork)."""
    return max(1, min(usable_cores(), rows // ROWS_PER_PROCESS))


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cores or 1
