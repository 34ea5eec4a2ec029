"""From files to tokenised training and validation splits: in memory, or memory-mapped Arrow."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from longtail.config import DataConfig, LongDocumentConfig, ModelConfig
from longtail.data import LabelSpace, drop_empty_texts, read_table, stratified_split
from longtail.data.arrow import (
    MAX_AUTO_VALIDATION_ROWS,
    ArrowTexts,
    ArrowTokens,
    SparseMultiHot,
    drop_empty_arrow,
    encode_arrow,
    fit_and_encode_arrow,
    load_arrow_table,
    tokenize_arrow,
)
from longtail.data.cleaning import cap_document_texts
from longtail.data.tokenized import TokenizedSplit
from longtail.errors import LongtailError
from longtail.text.batching import tokenize
from longtail.text.chunking import ChunkSettings


@dataclass
class PreparedData:
    """Everything the run needs from the data, whatever the backend.

    ``sampler_labels`` / ``sampler_task`` are what imbalance samplers draw from: the labels
    themselves, or (Arrow multilabel) each row's rarest-label group as a single-label array, which
    is exactly the grouping the samplers would compute from a dense matrix.
    """

    space: LabelSpace
    train: TokenizedSplit
    validation: TokenizedSplit
    counts: np.ndarray
    sampler_labels: Any
    sampler_task: str
    validation_source: str
    documents: bool = False
    train_texts: list[str] | None = None
    validation_texts: list[str] | None = None
    notice: str | None = None
    encode: Any = None  # texts -> model rows (token ids or chunks), exactly as the splits were made
    #: ``--arrow``: the (training, validation) splits' texts, left on disk and read on demand
    #: (the anchor reads a sample); ``train_texts`` / ``validation_texts`` stay ``None`` there
    arrow_texts: tuple[ArrowTexts, ArrowTexts] | None = None

    def texts(self) -> tuple[Sequence[str] | None, Sequence[str] | None]:
        """The (training, validation) texts as read: in memory, or left on disk under ``--arrow``."""
        return self.arrow_texts or (self.train_texts, self.validation_texts)


#: Features computed for a table rather than read from its columns (a cascade's first-stage
#: probabilities): ``table → (len(table), k)``, joined after the file's own extra columns.
AddedFeatures = Callable[[Any], np.ndarray]


def read_labelled(path: str, data: DataConfig, added: AddedFeatures | None = None):
    """A labelled file with the configured columns (and extra features), empty texts handled;
    ``added`` appends computed feature columns to the rows that remain."""
    table = read_table(
        path,
        text_column=data.text_column,
        label_column=data.label_column,
        extra_columns=data.extra_features,
    )
    return join_added(drop_empty_texts(table, strict=data.strict), added)


def join_added(table: Any, added: AddedFeatures | None) -> Any:
    """``table`` with ``added``'s columns after its own extra features (``None``: as it is)."""
    if added is not None:
        columns = np.asarray(added(table), dtype=np.float32).reshape(len(table.texts), -1)
        table.extra = columns if table.extra is None else np.hstack([table.extra, columns])
    return table


def fit_labels(table: Any, data: DataConfig) -> tuple[LabelSpace, np.ndarray]:
    """The label space of a training table (task, class order) and its encoded labels."""
    space = LabelSpace.fit(
        table.labels,
        task=None if data.task == "auto" else data.task,
        label_delimiter=data.label_delimiter,
        positive_label=data.positive_label,
        source=table.source,
        row_numbers=table.row_numbers,
    )
    return space, space.encode(table.labels, source=table.source, row_numbers=table.row_numbers)


AUTO_LONG_FRACTION = 0.05


def texts_over_window(tokenizer: Any, texts: list[str], window: int) -> int:
    """How many texts have more tokens than ``window`` (exact).

    A token covers at least one character, so only texts with at least ``window - 2`` characters
    can exceed the window; only those are tokenised.
    """
    candidates = [t for t in texts if len(t) >= window - 2]
    over = 0
    for start in range(0, len(candidates), 256):
        batch = candidates[start : start + 256]
        ids = tokenizer(batch, add_special_tokens=True, truncation=False, verbose=False)[
            "input_ids"
        ]
        over += sum(len(row) > window for row in ids)
    return over


def enforce_char_cap(table: Any, long_documents: LongDocumentConfig) -> Any:
    """Refuse (or cut, with a warning) documents above ``long_documents.max_chars``.

    Checked on the table as read, so the message names the file and its row numbers; a 2M-char
    cap keeps one runaway document from exhausting memory during tokenisation.
    """
    ld = long_documents
    table.texts = cap_document_texts(
        table.texts, ld.max_chars, ld.on_too_long, source=table.source,
        row_numbers=table.row_numbers,
    )  # fmt: skip
    return table


def frozen_documents(model: ModelConfig, long_documents: LongDocumentConfig) -> bool:
    """Whether long documents take the frozen chunk-embedding path (``long_documents.mode=frozen``,
    or ``model.encoder=frozen``, which freezes the encoder of a document model too)."""
    return long_documents.mode == "frozen" or model.encoder == "frozen"


def chunk_settings(ld: LongDocumentConfig, window: int, *, frozen: bool) -> ChunkSettings:
    """How this run cuts long documents, resolved once from the ``long_documents`` section and
    the encoder's ``window`` (:class:`~longtail.text.chunking.ChunkSettings`). The chunk budget
    (``max_chunks``) bounds what is *encoded* on the ``frozen`` path only (see
    :func:`frozen_documents`), spread evenly
    (:func:`~longtail.models.hierarchical.spread_chunk_indices`); end to end, ``max_chunks``
    samples chunks per training step instead and every chunk is kept."""
    return ChunkSettings.resolve(
        window=window, chunk_length=ld.chunk_length, stride=ld.stride, max_chars=ld.max_chars,
        on_too_long=ld.on_too_long, max_chunks_encoded=ld.max_chunks if frozen else None,
    )  # fmt: skip


def _encoder_input(tokenizer: Any, max_length: int, chunking: ChunkSettings | None):
    """Texts → token ids (short texts, truncated) or, with ``chunking``, chunks of token ids
    (long documents)."""
    if chunking is None:
        return lambda texts: tokenize(tokenizer, texts, max_length)
    return lambda texts: chunking.chunks(tokenizer, texts)


def prepare_in_memory(
    data: DataConfig,
    long_documents: LongDocumentConfig,
    tokenizer: Any,
    max_length: int,
    window: int | None = None,
    added: AddedFeatures | None = None,
    *,
    seed: int,
    frozen_chunks: bool,
) -> PreparedData:
    """The training file (and validation file, else a stratified split of ``seed``) read, labelled
    and tokenised; texts past the encoder ``window`` make a document model (``long_documents``),
    whose chunk budget bounds what is encoded when ``frozen_chunks`` (:func:`chunk_settings`)."""
    table = read_labelled(data.train, data)
    enabled = long_documents.enabled
    window = window or max_length
    over = texts_over_window(tokenizer, table.texts, window) if enabled == "auto" else 0
    documents = enabled is True or over >= AUTO_LONG_FRACTION * len(table.texts) > 0
    notice = None
    if enabled == "auto" and over:
        share = f"{over} of {len(table.texts)} texts ({over / len(table.texts):.1%}) exceed the encoder window of {window} tokens"
        notice = (
            f"long documents: {share}, so a hierarchical model over chunks is trained "
            "(--no-long-documents truncates instead)"
            if documents
            else f"{share}: they are truncated (--long-documents models them whole)"
        )
    if (added is not None or data.extra_features) and not documents:  # before any fold trains
        raise LongtailError(
            "extra features (--extra-features, --extra-features-from) are joined to a document "
            "embedding: add --long-documents (long_documents.enabled=true)"
        )
    if documents:
        table = enforce_char_cap(table, long_documents)
    table = join_added(table, added)
    space, y_all = fit_labels(table, data)
    if data.validation:
        val_table = read_labelled(data.validation, data, added)
        if documents:
            val_table = enforce_char_cap(val_table, long_documents)
        train_texts, y_train, val_texts = table.texts, y_all, val_table.texts
        y_val = space.encode(
            val_table.labels, source=val_table.source, row_numbers=val_table.row_numbers
        )
        extra_train, extra_val = table.extra, val_table.extra
        source = "validation file"
    else:
        train_idx, val_idx = stratified_split(
            y_all, space.task, val_fraction=data.val_fraction, seed=seed,
            names=space.names, source=table.source,
        )  # fmt: skip
        train_texts = [table.texts[i] for i in train_idx]
        val_texts = [table.texts[i] for i in val_idx]
        y_train, y_val = y_all[train_idx], y_all[val_idx]
        extra_train = None if table.extra is None else table.extra[train_idx]
        extra_val = None if table.extra is None else table.extra[val_idx]
        source = "stratified split of the training file"
    chunking = chunk_settings(long_documents, window, frozen=frozen_chunks) if documents else None
    encode = _encoder_input(tokenizer, max_length, chunking)
    return PreparedData(
        space=space,
        train=TokenizedSplit(encode(train_texts), y_train, extra_train),
        validation=TokenizedSplit(encode(val_texts), y_val, extra_val),
        counts=space.counts(y_train),
        sampler_labels=y_train,
        sampler_task=space.task,
        validation_source=source,
        documents=documents,
        train_texts=train_texts,
        validation_texts=val_texts,
        notice=notice,
        encode=encode,
    )


def _arrow_split(
    y: np.ndarray | SparseMultiHot, space: LabelSpace, source: str, val_fraction: float, seed: int
):
    """Stratified train/validation rows, the validation part capped for per-epoch evaluation."""
    groups = y.rarest_label_groups() if isinstance(y, SparseMultiHot) else np.asarray(y).copy()
    sizes = np.bincount(groups)
    lonely = sizes[groups] < 2  # a group of one row cannot be split: pool such rows together
    if lonely.any():
        groups[lonely] = sizes.size
        if lonely.sum() < 2:
            groups[lonely] = int(np.argmax(sizes))
    n_val = min(int(np.ceil(len(groups) * val_fraction)), MAX_AUTO_VALIDATION_ROWS)
    fraction = n_val / len(groups)
    _, val_idx = stratified_split(
        groups, "multiclass" if space.task != "binary" else "binary", val_fraction=fraction,
        seed=seed, source=source,
    )  # fmt: skip
    mask = np.ones(len(groups), dtype=bool)
    mask[val_idx] = False
    return np.flatnonzero(mask), np.sort(val_idx)


def _take(y: np.ndarray | SparseMultiHot, rows: np.ndarray):
    return y.take(rows) if isinstance(y, SparseMultiHot) else y[rows]


def _dense(y: np.ndarray | SparseMultiHot) -> np.ndarray:
    return y[np.arange(len(y))] if isinstance(y, SparseMultiHot) else y


def prepare_arrow(
    data: DataConfig,
    long_documents: LongDocumentConfig,
    tokenizer: Any,
    max_length: int,
    *,
    seed: int,
) -> PreparedData:
    """``--arrow``: the files converted to Arrow, tokenised once and memory-mapped; the
    validation split (when no file is given) is drawn with ``seed`` and capped."""
    if long_documents.enabled is True or data.extra_features or data.extra_features_from:
        raise LongtailError(
            "--arrow does not combine with long documents or extra features yet; drop --arrow "
            "(collections of long documents rarely run to millions of rows)"
        )
    cache = data.arrow_cache_dir

    def load(path: str):
        table = load_arrow_table(
            path, text_column=data.text_column, label_column=data.label_column, cache_dir=cache
        )
        table = drop_empty_arrow(
            table, text_column=data.text_column, strict=data.strict, source=path
        )
        return table

    train_table = load(data.train)
    space, y_all = fit_and_encode_arrow(
        train_table, label_column=data.label_column, task=None if data.task == "auto" else data.task,
        label_delimiter=data.label_delimiter, positive_label=data.positive_label, source=data.train,
    )  # fmt: skip
    train_tokens = tokenize_arrow(
        train_table, tokenizer, text_column=data.text_column, max_length=max_length
    )
    if data.validation:
        val_table = load(data.validation)
        y_val = _dense(
            encode_arrow(val_table, space, label_column=data.label_column, source=data.validation)
        )
        val_ids = ArrowTokens(
            tokenize_arrow(
                val_table, tokenizer, text_column=data.text_column, max_length=max_length
            )
        )
        train_ids, y_train, source = ArrowTokens(train_tokens), y_all, "validation file"
        texts = (ArrowTexts(train_table, data.text_column), ArrowTexts(val_table, data.text_column))
    else:
        train_rows, val_rows = _arrow_split(y_all, space, data.train, data.val_fraction, seed)
        train_ids, y_train = ArrowTokens(train_tokens, train_rows), _take(y_all, train_rows)
        val_ids, y_val = ArrowTokens(train_tokens, val_rows), _dense(_take(y_all, val_rows))
        source = f"stratified split of the training file, at most {MAX_AUTO_VALIDATION_ROWS} rows"
        texts = (
            ArrowTexts(train_table, data.text_column, train_rows),
            ArrowTexts(train_table, data.text_column, val_rows),
        )
    sparse = isinstance(y_train, SparseMultiHot)
    return PreparedData(
        space=space,
        train=TokenizedSplit(train_ids, y_train),
        validation=TokenizedSplit(val_ids.materialise(), y_val),
        counts=y_train.counts() if sparse else space.counts(y_train),
        sampler_labels=y_train.rarest_label_groups() if sparse else y_train,
        sampler_task="multiclass" if sparse else space.task,
        validation_source=source + " (Arrow, memory-mapped)",
        arrow_texts=texts,
    )


def prepare_data(
    data: DataConfig,
    long_documents: LongDocumentConfig,
    tokenizer: Any,
    max_length: int,
    window: int | None = None,
    added: AddedFeatures | None = None,
    *,
    seed: int,
    frozen_chunks: bool = False,
) -> PreparedData:
    """The ``data`` section's files, ready to train on. ``window``: the encoder's own token
    limit, against which long documents are detected; ``added``: computed feature columns for
    every labelled table read (see :data:`AddedFeatures`); ``seed``: the validation split's;
    ``frozen_chunks``: long documents take the frozen path (:func:`frozen_documents`)."""
    if data.arrow:
        return prepare_arrow(data, long_documents, tokenizer, max_length, seed=seed)
    return prepare_in_memory(
        data, long_documents, tokenizer, max_length, window, added, seed=seed,
        frozen_chunks=frozen_chunks,
    )  # fmt: skip
