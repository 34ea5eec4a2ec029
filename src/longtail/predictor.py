"""A trained classifier loaded from its model directory: calibrated probabilities and decisions.

Example:
    >>> clf = Classifier.load("runs/spam")                          # doctest: +SKIP
    >>> clf.predict_proba(["WINNER! Claim your prize now"])         # doctest: +SKIP
    array([[0.03, 0.97]], dtype=float32)
    >>> clf.predict(["see you at lunch"])                            # doctest: +SKIP
    ['ham']
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from longtail.data import LabelSpace, TextTable
from longtail.decision import apply_thresholds, probabilities
from longtail.evaluation import evaluate_predictions
from longtail.models import load_model_dir
from longtail.models.classifier import TextClassifier
from longtail.training.batching import tokenize
from longtail.training.loop import predict_logits


def best_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class Classifier:
    """Model + tokenizer + the decisions tuned at training time (temperature, thresholds)."""

    def __init__(
        self,
        model: TextClassifier,
        tokenizer: Any,
        meta: dict[str, Any],
        device: torch.device | None = None,
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.meta = meta
        self.labels = LabelSpace.from_dict(meta["labels"])
        self.task: str = meta["task"]
        self.thresholds = np.asarray(meta["thresholds"], dtype=np.float64)
        self.temperature = float(meta.get("temperature", 1.0))
        self.max_length = int(meta["max_length"])
        self.device = device or best_device()
        self.model.to(self.device).eval()

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device | None = None) -> Classifier:
        """Load a model directory written by ``longtail train`` (safetensors only, hashes verified)."""
        model, tokenizer, meta = load_model_dir(path)
        return cls(model, tokenizer, meta, torch.device(device) if device else None)

    @property
    def label_names(self) -> list[str]:
        return list(self.labels.names)

    def predict_logits(
        self, texts: Sequence[str], batch_size: int = 128, progress: Any = None
    ) -> np.ndarray:
        ids = tokenize(self.tokenizer, list(texts), self.max_length)
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        return predict_logits(
            self.model,
            ids,
            batch_size=batch_size,
            pad_id=pad_id,
            device=self.device,
            progress=progress,
        )

    def predict_proba(
        self, texts: Sequence[str], batch_size: int = 128, progress: Any = None
    ) -> np.ndarray:
        """Calibrated probabilities, shape ``(n, C)`` (binary: ``[P(negative), P(positive)]``)."""
        logits = self.predict_logits(texts, batch_size=batch_size, progress=progress)
        return probabilities(logits, self.task, temperature=self.temperature)

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """Apply the tuned thresholds: class indices, or a multi-hot matrix for multilabel."""
        return apply_thresholds(self.task, probs, self.thresholds)

    def predict(self, texts: Sequence[str], batch_size: int = 128) -> list:
        """Label names per text (a list of names per text for multilabel)."""
        return self.labels.decode(self.decide(self.predict_proba(texts, batch_size=batch_size)))

    def evaluate_table(self, table: TextTable, batch_size: int = 128) -> dict[str, Any]:
        """Every metric of ``longtail.evaluation`` on a labelled table, using the tuned decisions."""
        y_true = self.labels.encode(
            table.labels, source=table.source, row_numbers=table.row_numbers
        )
        probs = self.predict_proba(table.texts, batch_size=batch_size)
        return evaluate_predictions(self.task, y_true, probs, self.decide(probs), self.label_names)
