"""A trained classifier loaded from its model directory: calibrated probabilities and decisions.

Example:
    >>> clf = Classifier.load("runs/spam")                          # doctest: +SKIP
    >>> clf.predict_proba(["WINNER! Claim your prize now"])         # doctest: +SKIP
    array([[0.03, 0.97]], dtype=float32)
    >>> clf.predict(["see you at lunch"])                            # doctest: +SKIP
    ['ham']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from longtail.cache.onnx_graphs import attach_runtime
from longtail.cache.saved_models import trained_cache_root, trained_runtime
from longtail.data import LabelSpace, TextTable, drop_empty_texts, read_table
from longtail.decision import apply_thresholds
from longtail.decision.probability_map import ProbabilityMap
from longtail.errors import LongtailError
from longtail.evaluation import evaluate_predictions
from longtail.logs import info
from longtail.models import load_model_dir
from longtail.models.classifier import TextClassifier
from longtail.models.inference import predict_logits
from longtail.models.io import load_lexical
from longtail.models.lexical import LexicalModel, fuse_logits, fused_weight
from longtail.models.onnx_runtime import check_runtime
from longtail.text.batching import cpu_batch_tokens, tokenize
from longtail.text.chunking import ChunkSettings


def best_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class Classifier:
    """Model + tokenizer + the decisions tuned at training time: the logit adjustment, the
    calibration (temperature or isotonic maps) and the thresholds, applied in that order
    (:mod:`longtail.decision.probability_map`).

    Prediction sorts rows by length and batches them longest first; ``max_batch_tokens`` (1024 on
    CPU, unset elsewhere) caps rows x padded width per batch, so long texts come in smaller batches.
    Set it to ``None`` to batch by ``batch_size`` alone.

    ``runtime`` runs the encoder under PyTorch (``"torch"``) or ONNX Runtime on the CPU
    (``"onnx"``, ``"onnx-int8"``: :mod:`longtail.models.onnx_runtime`); default: the runtime a
    frozen encoder was trained under, else ``"torch"``.
    """

    def __init__(
        self,
        model: TextClassifier,
        tokenizer: Any,
        meta: dict[str, Any],
        device: torch.device | None = None,
        runtime: str | None = None,
        log: Callable[[str], None] = info,
        lexical: LexicalModel | None = None,
    ):
        self.model = model
        #: the fused TF-IDF branch and its weight (:mod:`longtail.models.lexical`), if any
        self.lexical = lexical
        self.lexical_weight = fused_weight(meta)
        if self.lexical_weight and lexical is None:
            raise LongtailError(
                "this model fuses a lexical branch (longtail.json: lexical); load it with "
                "Classifier.load, which reads the branch from the model directory"
            )
        self.tokenizer = tokenizer
        self.meta = meta
        self.labels = LabelSpace.from_dict(meta["labels"])
        self.task: str = meta["task"]
        self.thresholds = np.asarray(meta["thresholds"], dtype=np.float64)
        self.temperature = float(meta.get("temperature", 1.0))
        self.probability_map = ProbabilityMap.from_meta(meta)
        self.max_length = int(meta["max_length"])
        #: how a long-document model cuts its texts, as training did (``None``: short texts)
        self.chunks: ChunkSettings | None = (
            ChunkSettings.from_json(meta["long_documents"]) if meta.get("long_documents") else None
        )
        self.extra_features: list[str] = list(meta.get("extra_features") or [])
        #: a cascade's first stage (:mod:`longtail.training.cascade`): its probabilities are the
        #: last extra features, computed here; the others are read from the data
        self.cascade: dict[str, Any] | None = meta.get("cascade")
        self._first_stage: Classifier | None = None
        cascade_count = len(self.cascade["features"]) if self.cascade else 0
        self.file_features: list[str] = self.extra_features[
            : len(self.extra_features) - cascade_count
        ]
        self.log: Callable[[str], None] = log
        self.runtime = check_runtime(runtime or trained_runtime(meta))
        if self.runtime != "torch":  # onnxruntime runs on the CPU; the head follows it there
            device = torch.device("cpu")
            attach_runtime(model, self.runtime, cache_dir=trained_cache_root(meta, None), log=log)
        self.device = device or best_device()
        self.max_batch_tokens: int | None = cpu_batch_tokens(self.device)
        self.model.to(self.device).eval()
        #: frozen long-document models: where chunk embeddings are read and written (see
        #: :meth:`use_embedding_cache`); ``None`` encodes every chunk
        self.embedding_cache: Any = None

    @classmethod
    def load(
        cls,
        path: str | Path,
        device: str | torch.device | None = None,
        runtime: str | None = None,
        log: Callable[[str], None] = info,
    ) -> Classifier:
        """Load a model directory written by ``longtail train`` (safetensors only, hashes
        verified); ``runtime`` as in the class docstring."""
        model, tokenizer, meta = load_model_dir(path)
        device = torch.device(device) if device else None
        lexical = load_lexical(path, meta)
        return cls(model, tokenizer, meta, device, runtime=runtime, log=log, lexical=lexical)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        *,
        revision: str | None = None,
        cache_dir: str | Path | None = None,
        token: str | bool | None = None,
        device: str | torch.device | None = None,
        runtime: str | None = None,
        log: Callable[[str], None] = info,
    ) -> Classifier:
        """:meth:`load` a model directory, or a hub repository holding one (fetched through
        ``huggingface_hub``'s cache; ``revision``, ``cache_dir``, ``HF_HUB_OFFLINE`` honoured;
        :mod:`longtail.models.hub_models`)."""
        from longtail.models.hub_models import resolve_model_dir

        local = resolve_model_dir(name_or_path, revision=revision, cache_dir=cache_dir, token=token)
        return cls.load(local, device=device, runtime=runtime, log=log)

    def use_embedding_cache(
        self, cache_dir: str | Path | None = None, log: Callable[[str], None] = info
    ) -> Any:
        """Read chunk embeddings from the cache training filled, and add what is encoded here.

        Only frozen long-document models embed chunks once and cache them; for them this turns
        on the cache under the key training used, in ``cache_dir``, else the directory the model
        was trained with, else the default (:mod:`longtail.cache.saved_models`). A directory that
        cannot be written is read all the same, and one ``log`` line says so. Returns the cache,
        or ``None`` for a model that does not use one.
        """
        from longtail.cache.saved_models import saved_model_cache

        self.log = log
        self.embedding_cache = saved_model_cache(
            self.meta, self.model, cache_dir, runtime=self.runtime, log=log
        )
        return self.embedding_cache

    @property
    def label_names(self) -> list[str]:
        return list(self.labels.names)

    def first_stage_features(self, texts: Sequence[str]) -> np.ndarray:
        """The cascade's first-stage probabilities of ``texts``, ``(n, len(cascade features))``."""
        assert self.cascade is not None
        if self._first_stage is None:
            path = Path(self.cascade["model"])
            if not (path / "longtail.json").is_file():
                raise LongtailError(
                    f"this model's extra features {', '.join(self.cascade['features'])} come from "
                    f"the first-stage model {path}, which is not there; put it back at that path "
                    "or retrain with --extra-features-from pointing at it"
                )
            self._first_stage = Classifier.load(path, log=self.log)  # as training scored with it
            self._first_stage.use_embedding_cache(log=self.log)
        return self._first_stage.predict_proba(list(texts))[:, self.cascade["columns"]]

    def _check_extra(self, texts: Sequence[str], extra: Any) -> np.ndarray | None:
        if not self.extra_features:
            return None
        if self.cascade is not None:
            given = None if extra is None else np.asarray(extra, dtype=np.float32)
            given = None if given is None else given.reshape(len(texts), -1)
            if given is None or given.shape[1] != len(self.extra_features):  # not joined yet
                if given is None and self.file_features:
                    raise LongtailError(
                        f"this model also needs the extra features {', '.join(self.file_features)}"
                        " (a column each in the data file, or extra=array of shape (n, k) in Python)"
                    )
                parts = [] if given is None else [given]
                extra = np.hstack([*parts, self.first_stage_features(texts)])
        if extra is None:
            raise LongtailError(
                f"this model also needs the extra features {', '.join(self.extra_features)} "
                "(a column each in the data file, or extra=array of shape (n, k) in Python)"
            )
        extra = np.asarray(extra, dtype=np.float32).reshape(len(texts), -1)
        if extra.shape[1] != len(self.extra_features):
            raise LongtailError(
                f"expected {len(self.extra_features)} extra features ({', '.join(self.extra_features)}), "
                f"got {extra.shape[1]}"
            )
        return extra

    def _document_logits(self, texts: Sequence[str], extra: Any, progress: Any) -> np.ndarray:
        from longtail.data.tokenized import TokenizedSplit
        from longtail.models.batchers import DocumentBatcher
        from longtail.models.documents import DOCS_PER_BATCH, encode_documents

        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        features = self._check_extra(texts, extra)
        if self.embedding_cache is not None:
            return self._cached_document_logits(texts, features, pad_id, progress)
        docs = encode_documents(self.tokenizer, texts, self.chunks)
        split = TokenizedSplit(docs, None, features)
        logits = predict_logits(
            self.model, split, batch_size=DOCS_PER_BATCH, batcher=DocumentBatcher(pad_id),
            device=self.device, progress=progress,
        )  # fmt: skip
        return logits if len(docs) else np.zeros((0, self.model.head.out_features), np.float32)

    def _cached_document_logits(
        self, texts: Sequence[str], features: Any, pad_id: int, progress: Any
    ) -> np.ndarray:
        """Frozen long documents as training scored its test file: each document's chunk
        embeddings from the cache (else encoded, then cached), then aggregator and head."""
        from longtail.data.tokenized import TokenizedSplit
        from longtail.models.batchers import EmbeddingBatcher
        from longtail.models.documents import (
            DOCS_PER_BATCH,
            FrozenEncoderModel,
            all_document_chunks,
            cut_documents,
            embed_documents,
        )

        if not len(texts):
            return np.zeros((0, self.model.head.out_features), np.float32)
        texts = cut_documents(texts, self.chunks)  # the cache key training used
        vectors = embed_documents(
            self.model, all_document_chunks(self.tokenizer, texts, self.chunks), texts,
            cache=self.embedding_cache, pad_id=pad_id, device=self.device,
            max_chunks=self.chunks.max_chunks_encoded, log=self.log,
        )  # fmt: skip
        return predict_logits(
            FrozenEncoderModel(self.model), TokenizedSplit(vectors, None, features),
            batch_size=DOCS_PER_BATCH, batcher=EmbeddingBatcher(None, 0), device=self.device,
            progress=progress,
        )  # fmt: skip

    def explain(
        self, texts: Sequence[str], top_k: int = 3, extra: Any = None
    ) -> list[list[dict[str, Any]]]:
        """For long-document models: the ``top_k`` chunks that weigh most in each prediction."""
        from longtail.models.documents import document_chunks, explain_documents

        if self.chunks is None:
            raise LongtailError(
                "--explain works with long-document models (long_documents in training)"
            )
        docs, positions = document_chunks(self.tokenizer, texts, self.chunks)
        return explain_documents(
            self.model, self.tokenizer, docs, extra=self._check_extra(texts, extra), top_k=top_k,
            device=self.device, positions=positions,
        )  # fmt: skip

    def predict_logits(
        self, texts: Sequence[str], batch_size: int = 128, progress: Any = None, extra: Any = None
    ) -> np.ndarray:
        """Raw logits ``(n, C)`` in input order; batches of similar length (see ``max_batch_tokens``).

        Long-document models chunk each text as in training; ``extra`` carries the numeric
        features such a model was trained with (``(n, k)``, in ``extra_features`` order).
        """
        if self.chunks is not None:
            return self.fuse(texts, self._document_logits(texts, extra, progress))
        ids = tokenize(self.tokenizer, list(texts), self.max_length)
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        if not ids:  # no texts: (0, C), so probabilities and decisions work on it too
            return np.zeros((0, self.model.head.out_features), dtype=np.float32)
        return self.fuse(texts, predict_logits(
            self.model, ids, batch_size=batch_size, pad_id=pad_id, device=self.device,
            progress=progress, max_batch_tokens=self.max_batch_tokens,
        ))  # fmt: skip

    def fuse(self, texts: Sequence[str], logits: np.ndarray) -> np.ndarray:
        """The transformer's ``logits`` of ``texts`` fused with the model's TF-IDF branch
        (:func:`longtail.models.lexical.fuse_logits`); unchanged for a model without one."""
        if not self.lexical_weight or self.lexical is None:
            return logits
        return fuse_logits(self.task, logits, self.lexical.logits(texts), self.lexical_weight)

    def predict_proba(
        self, texts: Sequence[str], batch_size: int = 128, progress: Any = None, extra: Any = None
    ) -> np.ndarray:
        """Calibrated probabilities, shape ``(n, C)`` (binary: ``[P(negative), P(positive)]``),
        after the logit adjustment the model was saved with, if any."""
        logits = self.predict_logits(texts, batch_size=batch_size, progress=progress, extra=extra)
        return self.probability_map(logits)

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """Apply the tuned thresholds: class indices, or a multi-hot matrix for multilabel."""
        return apply_thresholds(self.task, probs, self.thresholds)

    def predict(self, texts: Sequence[str], batch_size: int = 128, extra: Any = None) -> list:
        """Label names per text (a list of names per text for multilabel)."""
        probs = self.predict_proba(texts, batch_size=batch_size, extra=extra)
        return self.labels.decode(self.decide(probs))

    def read_labelled(
        self, path: str | Path, text_column: str | None = None, label_column: str | None = None
    ) -> TextTable:
        """A labelled file as this model reads it: its text and label columns unless named, the
        feature columns it was trained with, rows with empty text dropped (with a warning)."""
        table = read_table(
            path,
            text_column=text_column or self.meta.get("text_column", "text"),
            label_column=label_column or self.meta.get("label_column", "label"),
            extra_columns=self.file_features,
        )
        return drop_empty_texts(table, strict=False)

    def table_logits(
        self, table: TextTable, batch_size: int = 128
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(encoded labels, raw logits)`` of a labelled table (unknown labels are an error)."""
        y_true = self.labels.encode(
            table.labels, source=table.source, row_numbers=table.row_numbers
        )
        return y_true, self.predict_logits(table.texts, batch_size=batch_size, extra=table.extra)

    def evaluate_table(self, table: TextTable, batch_size: int = 128) -> dict[str, Any]:
        """Every metric of ``longtail.evaluation`` on a labelled table, using the tuned decisions."""
        y_true, logits = self.table_logits(table, batch_size=batch_size)
        return self.evaluate_probs(y_true, self.probability_map(logits))

    def tune_decision(self, table: TextTable, overrides: dict[str, Any] | None = None) -> dict:
        """Refit the decision (logit adjustment, calibration, thresholds) on a labelled table,
        in place; the weights are untouched (:mod:`longtail.decide`).

        ``overrides`` change the model's own ``decision.*`` settings (``{"objective": "mcc"}``).
        Returns ``{"before", "after"}`` (every metric of ``table`` under the old and the new
        decision) and ``"decision"`` (the settings used).
        """
        from longtail.config import build_config
        from longtail.decision.fit import fit_decision

        saved = dict((self.meta.get("config") or {}).get("decision") or {})
        settings = build_config(
            {"decision": {**saved, **(overrides or {})}}, source="decision"
        ).decision
        y_true, logits = self.table_logits(table)
        before = self.evaluate_probs(y_true, self.probability_map(logits))
        training = self.meta.get("training") or {}
        counts = training.get("train_class_counts")
        counts = None if counts is None else np.asarray([counts[n] for n in self.labels.names])
        priors = training.get("model_priors")  # older models: the training counts' shares
        fitted = fit_decision(
            self.task, logits, y_true, self.labels.names, settings, counts,
            int(counts.sum()) if counts is not None else None,
            model_priors=np.asarray([priors[n] for n in self.labels.names]) if priors else None,
        )  # fmt: skip
        mapping = fitted.mapping or ProbabilityMap(self.task, fitted.temperature)
        self.probability_map, self.temperature = mapping, float(fitted.temperature)
        self.thresholds = np.asarray(fitted.thresholds, dtype=np.float64)
        self.meta = {
            **self.meta,
            **mapping.meta_fields(),
            "thresholds": self.thresholds.tolist(),
            "threshold_objective": settings.tuned_for(),
            "threshold_fallback": fitted.fallback,
            "threshold_untuned": fitted.untuned,
            "threshold_check": fitted.check,
        }
        after = self.evaluate_probs(y_true, self.probability_map(logits))
        return {"before": before, "after": after, "decision": settings.model_dump(mode="json")}

    def decision_meta(self) -> dict[str, Any]:
        """The ``longtail.json`` fields of the current decision."""
        keys = ("temperature", "calibration", "isotonic", "logit_adjust", "thresholds",
                "threshold_objective", "threshold_fallback", "threshold_untuned", "threshold_check")  # fmt: skip
        return {key: self.meta.get(key) for key in keys}

    def evaluate_probs(self, y_true: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
        """Every metric of calibrated probabilities, decided with the tuned thresholds."""
        return evaluate_predictions(self.task, y_true, probs, self.decide(probs), self.label_names)
