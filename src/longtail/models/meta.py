"""The schema of ``longtail.json``: what the loaders read from a model directory, validated once.

:func:`validate_meta` checks a parsed ``longtail.json`` before anything is built from it, so a
file that was hand-edited, truncated or written by another longtail fails with one line naming
the file, the field and the fix instead of an ``AttributeError`` deep inside prediction.

What is checked: every field that :func:`~longtail.models.io.load_model_dir`,
:class:`~longtail.predictor.Classifier`, ``longtail evaluate`` and ``longtail export`` read
(types, ranges, and the fields that must agree: the label space and the task, the thresholds and
the labels, the head's size and the labels, the architecture and the long-document settings).

What is not: the fields that only describe how the model was trained (``config``, most of
``training``) are kept as written. Unknown keys, at the top level and inside each section, are
**allowed and kept**: a newer longtail of the same ``format_version`` may add an informational
field, and an older longtail must still load that directory. A change that older versions cannot
read raises ``format_version`` instead, which :func:`check_format_version` refuses by name.
"""

from __future__ import annotations

import math
import re
from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from longtail import __version__
from longtail.errors import LongtailError

#: The newest ``format_version`` this longtail reads and writes. Version 2 added what a version-1
#: reader would silently ignore and so predict wrongly with: isotonic calibration, post-hoc logit
#: adjustment, an MLP head. A model directory is written with the *lowest* version that describes
#: it (:func:`format_version_for`), so a plain model stays readable by older longtails.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)


def format_version_for(meta: dict[str, Any], architecture: dict[str, Any]) -> int:
    """The lowest ``format_version`` whose readers apply everything this model needs."""
    needs_v2 = (
        meta.get("calibration") == "isotonic"
        or meta.get("logit_adjust") is not None
        or architecture.get("head_hidden") is not None
        or (meta.get("long_documents") or {}).get("max_chunks_encoded") is not None
    )
    return 2 if needs_v2 else 1


_HEX64 = re.compile(r"[0-9a-f]{64}")


class _Part(BaseModel):
    # strict: a JSON string "0.5" where a number belongs is an error, not silently converted;
    # extra keys kept (see the module docstring)
    model_config = ConfigDict(strict=True, extra="allow")


class LabelsMeta(_Part):
    task: Literal["binary", "multiclass", "multilabel"]
    names: list[str] = Field(min_length=2)
    label_delimiter: str | None = None

    @model_validator(mode="after")
    def _unique(self) -> LabelsMeta:
        repeated = sorted({n for n in self.names if self.names.count(n) > 1})
        if repeated:
            raise ValueError(f"label names must be unique; repeated: {', '.join(repeated)}")
        if self.task == "binary" and len(self.names) != 2:
            raise ValueError(f"a binary task has exactly 2 label names, got {len(self.names)}")
        return self


class DocumentsMeta(_Part):
    """How training cut long documents (``long_documents``), which prediction must repeat."""

    aggregator: str | dict[str, Any] = "attention"
    mode: Literal["end_to_end", "frozen"] = "end_to_end"
    chunk_length: int = Field(ge=1)
    stride: int = Field(ge=0)
    max_chars: int = Field(ge=1)
    on_too_long: Literal["error", "truncate"] = "error"
    #: frozen mode with long_documents.max_chunks: the chunks of each document that were encoded
    #: (at most this many, spread evenly), the same at prediction
    max_chunks_encoded: int | None = Field(None, ge=1)


class CascadeMeta(_Part):
    """A second stage's first stage (:mod:`longtail.training.cascade`): its directory, the
    feature names it gives (the last of ``extra_features``) and the probability columns."""

    model: str
    features: list[str] = Field(min_length=1)
    columns: list[int] = Field(min_length=1)
    folds: int = Field(ge=2)


class ArchitectureMeta(_Part):
    kind: Literal["text", "hierarchical"] = "text"
    num_logits: int = Field(ge=1)
    pooling: Literal["mean", "cls"] = "mean"
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    aggregator: str | dict[str, Any] | None = None
    num_extra_features: int = Field(0, ge=0)
    chunk_batch_size: int = Field(16, ge=1)
    head_hidden: int | None = Field(None, ge=1)  # the hidden width of an MLP head (text models)

    @model_validator(mode="after")
    def _hierarchical_has_aggregator(self) -> ArchitectureMeta:
        if self.kind == "hierarchical" and self.aggregator is None:
            raise ValueError("a hierarchical model needs its aggregator")
        return self


class IsotonicMeta(_Part):
    """Isotonic calibration maps (``decision.calibrate: isotonic``): breakpoints per column."""

    x: list[list[float]]
    y: list[list[float]]
    uncalibrated: list[int] = Field(default_factory=list)

    @model_validator(mode="after")
    def _monotone(self) -> IsotonicMeta:
        if len(self.x) != len(self.y):
            raise ValueError(f"isotonic.x holds {len(self.x)} maps but isotonic.y {len(self.y)}")
        for j, (x, y) in enumerate(zip(self.x, self.y, strict=True)):
            if not x or len(x) != len(y):
                raise ValueError(f"isotonic map {j} needs as many x as y breakpoints, at least 1")
            values = [*x, *y]
            if not all(math.isfinite(v) for v in values) or any(v < 0 or v > 1 for v in values):
                raise ValueError(f"isotonic map {j} holds values outside [0, 1]")
            if any(b < a for a, b in zip(x, x[1:], strict=False)) or any(
                b < a for a, b in zip(y, y[1:], strict=False)
            ):
                raise ValueError(f"isotonic map {j} is not non-decreasing")
        return self


class LogitAdjustMeta(_Part):
    """Post-hoc logit adjustment (``decision.logit_adjust``): ``logits - tau * offsets``."""

    tau: float = Field(ge=0.0, allow_inf_nan=False)
    offsets: list[float]
    tuned: bool = False
    #: a prior shift (``decision.target_priors``): the class shares the offsets move towards
    target_priors: list[float] | None = None

    @model_validator(mode="after")
    def _finite(self) -> LogitAdjustMeta:
        if not all(math.isfinite(v) for v in self.offsets):
            raise ValueError("logit_adjust.offsets must be finite numbers")
        target = self.target_priors
        if target is not None and (
            len(target) != len(self.offsets) or not all(0 < p <= 1 for p in target)
        ):
            raise ValueError("logit_adjust.target_priors must hold one share in (0, 1] per offset")
        return self


class TrainingMeta(_Part):
    """How the model was trained: informational, except ``still_improving`` for the report."""

    still_improving: dict[str, Any] | None = None


class ModelMeta(_Part):
    """A parsed ``longtail.json`` (format 1 or 2; see :data:`FORMAT_VERSION`)."""

    format_version: int
    longtail_version: str | None = None
    task: Literal["binary", "multiclass", "multilabel"]
    labels: LabelsMeta
    thresholds: list[float]
    temperature: float = Field(1.0, gt=0.0, allow_inf_nan=False)
    # older files lack the next three: temperature scaling, no isotonic maps, no adjustment
    calibration: Literal["temperature", "isotonic", "none"] = "temperature"
    isotonic: IsotonicMeta | None = None
    logit_adjust: LogitAdjustMeta | None = None
    max_length: int = Field(ge=1)
    long_documents: DocumentsMeta | None = None
    extra_features: list[str] = Field(default_factory=list)
    cascade: CascadeMeta | None = None
    text_column: str = "text"
    label_column: str = "label"
    base_model: str | None = None
    trust_remote_code: bool = False
    threshold_objective: str | None = None
    threshold_fallback: list[str] | None = None
    threshold_untuned: list[str] | None = None
    threshold_check: dict[str, Any] | None = None
    training: TrainingMeta = Field(default_factory=TrainingMeta)
    architecture: ArchitectureMeta
    files: dict[str, str]

    @model_validator(mode="after")
    def _consistent(self) -> ModelMeta:
        names = self.labels.names
        if self.labels.task != self.task:
            raise ValueError(f"labels.task {self.labels.task!r} differs from task {self.task!r}")
        expected = 1 if self.task == "binary" else len(names)
        if len(self.thresholds) != expected:
            raise ValueError(
                f"thresholds holds {len(self.thresholds)} value(s); a {self.task} model with "
                f"{len(names)} labels has {expected}"
            )
        if not all(math.isfinite(t) for t in self.thresholds):
            raise ValueError("thresholds must be finite numbers")
        if self.task == "multiclass" and any(t <= 0 for t in self.thresholds):
            raise ValueError("multiclass thresholds are decision weights and must all be > 0")
        columns = 1 if self.task == "binary" else len(names)
        if self.calibration == "isotonic" and self.isotonic is None:
            raise ValueError("calibration is 'isotonic' but the isotonic maps are missing")
        if self.isotonic is not None and len(self.isotonic.x) != columns:
            raise ValueError(
                f"isotonic holds {len(self.isotonic.x)} map(s); a {self.task} model with "
                f"{len(names)} labels has {columns}"
            )
        if self.logit_adjust is not None and len(self.logit_adjust.offsets) != len(names):
            raise ValueError(
                f"logit_adjust.offsets holds {len(self.logit_adjust.offsets)} value(s) for "
                f"{len(names)} labels"
            )
        if self.architecture.num_logits != len(names):
            raise ValueError(
                f"architecture.num_logits is {self.architecture.num_logits} but there are "
                f"{len(names)} labels"
            )
        hierarchical = self.architecture.kind == "hierarchical"
        if hierarchical != (self.long_documents is not None):
            raise ValueError(
                "architecture.kind and long_documents disagree: a hierarchical model has "
                "long_documents settings and a text model has none"
            )
        if len(self.extra_features) != self.architecture.num_extra_features:
            raise ValueError(
                f"extra_features names {len(self.extra_features)} feature(s) but the model "
                f"takes {self.architecture.num_extra_features}"
            )
        cascade = self.cascade
        if cascade is not None and (
            len(cascade.columns) != len(cascade.features)
            or self.extra_features[len(self.extra_features) - len(cascade.features) :]
            != cascade.features
        ):
            raise ValueError(
                "cascade.features must be the last of extra_features, one probability column each"
            )
        for relative, digest in self.files.items():
            path = PurePosixPath(relative)
            if path.is_absolute() or ".." in path.parts or "\\" in relative:
                raise ValueError(f"files: {relative!r} is not a path inside the model directory")
            if not _HEX64.fullmatch(digest):
                raise ValueError(f"files: the hash of {relative!r} is not a SHA-256 hex digest")
        return self


def check_format_version(raw: dict[str, Any], source: str) -> None:
    """Refuse a ``format_version`` this longtail cannot read, saying which longtail wrote it."""
    version = raw.get("format_version")
    if version in READABLE_VERSIONS and type(version) is int:
        return
    writer = raw.get("longtail_version")
    written = (
        f"written by longtail {writer}"
        if isinstance(writer, str)
        else "written by another longtail"
    )
    if type(version) is int and version > FORMAT_VERSION:
        raise LongtailError(
            f"{source} has format_version {version}, {written}; this is longtail {__version__}, "
            f"which reads format_version {_readable()}: upgrade longtail (pip install -U longtail)"
        )
    if "format_version" not in raw:
        raise LongtailError(
            f"{source} has no format_version, so it was not written by `longtail train`; "
            "retrain the model or copy the model directory again"
        )
    raise LongtailError(
        f"{source} has format_version {version!r} ({written}); this is longtail {__version__}, "
        f"which reads format_version {_readable()}: retrain the model with this version"
    )


def _readable() -> str:
    return " or ".join(str(v) for v in READABLE_VERSIONS)


def validate_meta(raw: Any, source: str) -> dict[str, Any]:
    """``raw`` (a parsed ``longtail.json``) checked against :class:`ModelMeta`, defaults filled.

    Raises:
        LongtailError: one line naming ``source``, the first bad field and the fix.
    """
    if not isinstance(raw, dict):
        raise LongtailError(
            f"{source} must hold a JSON object (task, labels, thresholds, ...), got "
            f"{_kind(raw)}; retrain the model or copy the model directory again"
        )
    check_format_version(raw, source)
    try:
        return ModelMeta.model_validate(raw).model_dump()
    except ValidationError as exc:
        raise _describe(exc, source) from None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def _describe(error: ValidationError, source: str) -> LongtailError:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    message = re.sub(r" or instance of \w+", "", first["msg"].removeprefix("Value error, "))
    where = f"field {field!r}: " if field else ""
    if first["type"] == "missing":
        message = "is missing"
    elif first["type"] != "value_error":  # a cross-field rule's message says what it found
        message = f"{message} (got {_short(first.get('input'))})"
    fix = "fix that field" if field else "fix the file"
    return LongtailError(f"{source}: {where}{message}; {fix} or retrain the model")


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."
