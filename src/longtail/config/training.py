"""The sections that say how a run trains and decides: ``train``, ``decision`` and ``augment``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from longtail.config.base import _Section, is_off
from longtail.defaults import default_fbr


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
    #: With the check: keep the tuned thresholds / weights only if their cross-fitted gain over
    #: the default decision is positive in at least this share of bootstrap resamples of the
    #: validation rows (default 0.9, chosen by the frozen grid: docs/benchmarks.md, "The tuned
    #: decision's confidence"); ``None``: any gain on the rows as they are (before 2026-12-07).
    tuning_confidence: float | None = Field(
        0.9,
        ge=0.5,
        lt=1.0,
        description="with the tuning check: keep tuned thresholds only if their cross-fitted gain "
        "is positive in at least this share of bootstrap resamples of validation (default 0.9; "
        "null: any gain)",
    )

    #: The class priors where the model will be used, when they are not training's (label
    #: shift: a balanced test set after a skewed training sample, or a case-control sample of a
    #: rare class). The probabilities are corrected from the training priors to these (Saerens,
    #: Latinne & Decaestecker 2002) and the decision is argmax / 0.5 of the corrected
    #: probabilities, the Bayes decision for accuracy under them (``balanced``: for the balanced
    #: error, Menon et al. 2021's logit adjustment at tau = 1). ``tune_thresholds`` is then
    #: switched off: validation holds the training priors, and thresholds tuned on it would tune
    #: the correction away. Binary and multiclass tasks only.
    target_priors: Literal["balanced"] | dict[str, float] | None = Field(
        None,
        description="the class priors where the model is used, if not training's: balanced or "
        "LABEL=SHARE,... (binary and multiclass; probabilities are corrected to them and "
        "thresholds are not tuned)",
    )

    @field_validator("target_priors", mode="before")
    @classmethod
    def _priors(cls, value: Any) -> Any:
        """``balanced``, a mapping, or ``LABEL=SHARE,...`` as a flag gives it; shares > 0, any
        scale (they are normalised)."""
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "")):
            return None
        if isinstance(value, str) and value.strip() != "balanced":
            pairs = [part.rpartition("=") for part in value.split(",") if part.strip()]
            if not pairs or any(not sep or not label.strip() for label, sep, _ in pairs):
                raise ValueError("must be balanced or LABEL=SHARE,... (e.g. neg=0.5,pos=0.5)")
            try:
                value = {label.strip(): float(share) for label, _, share in pairs}
            except ValueError:
                raise ValueError("each share of LABEL=SHARE must be a number") from None
        if isinstance(value, str):
            return value.strip()
        if isinstance(value, dict):
            bad = [
                k
                for k, v in value.items()
                if not (isinstance(v, (int, float)) and 0 < v < float("inf"))
            ]
            if bad:
                raise ValueError(f"each share must be a finite number > 0 (not for {bad[:5]})")
            if not value:
                raise ValueError("give at least one LABEL=SHARE, or balanced")
        return value

    @model_validator(mode="after")
    def _priors_decide_untuned(self) -> DecisionConfig:
        if self.target_priors is None:
            return self
        if self.logit_adjust != "none":
            raise ValueError(
                "target_priors and logit_adjust both move the decision off the training priors: "
                "set one of them (target_priors: balanced is logit_adjust 1 with untuned thresholds)"
            )
        if self.calibrate == "isotonic":
            raise ValueError(
                "target_priors needs calibrate temperature or none: isotonic maps are fitted to "
                "the validation's class frequencies (the training priors) and would undo the shift"
            )
        if self.tune_thresholds:  # validated assignment: runs this validator once more
            self.tune_thresholds = False
        return self

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
