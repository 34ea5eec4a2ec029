"""``longtail.pipeline(model)``: a callable in the manner of ``transformers.pipeline``, returning
per text the decided labels with their calibrated scores.

    >>> classify = longtail.pipeline("runs/spam")                   # doctest: +SKIP
    >>> classify("WINNER! Claim your prize")                        # doctest: +SKIP
    {'label': 'spam', 'score': 0.97, 'scores': {'ham': 0.03, 'spam': 0.97}}
    >>> classify(["see you", "free cash"])                          # doctest: +SKIP
    [{'label': 'ham', ...}, {'label': 'spam', ...}]

Unlike ``pipeline("text-classification")``, the label is the model's *decision* — its tuned
thresholds (or, for multiclass, tuned class weights) applied to calibrated probabilities — not
the arg-max of uncalibrated scores; a multilabel model returns ``labels``, every label it
decides for. No remote code and no ``transformers`` pipeline registration is involved.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from longtail.errors import LongtailError


class ClassificationPipeline:
    """Texts in, decisions with calibrated scores out (see the module docstring)."""

    def __init__(self, classifier: Any) -> None:
        self.classifier = classifier

    def __call__(self, texts: str | Sequence[str], batch_size: int = 128) -> Any:
        single = isinstance(texts, str)
        rows = [texts] if single else list(texts)
        if any(not isinstance(text, str) for text in rows):
            raise LongtailError("pipeline input: pass a text or a list of texts")
        clf = self.classifier
        probs = clf.predict_proba(rows, batch_size=batch_size)
        decided = clf.decide(probs)
        names = clf.label_names
        out = []
        for prob, decision in zip(probs, decided, strict=True):
            scores = {name: round(float(p), 6) for name, p in zip(names, prob, strict=True)}
            if clf.task == "multilabel":
                out.append(
                    {
                        "labels": [n for n, d in zip(names, decision, strict=True) if d],
                        "scores": scores,
                    }
                )
            else:
                label = names[int(decision)]
                out.append({"label": label, "score": scores[label], "scores": scores})
        return out[0] if single else out


def pipeline(model: Any, **load: Any) -> ClassificationPipeline:
    """A :class:`ClassificationPipeline` over ``model``: a model directory or hub id (loaded
    with :meth:`~longtail.predictor.Classifier.from_pretrained` and ``load``'s keywords), a
    :class:`~longtail.predictor.Classifier`, or a fitted
    :class:`~longtail.estimator.LongtailClassifier`."""
    from longtail.predictor import Classifier

    if isinstance(model, str | Path):
        model = Classifier.from_pretrained(model, **{"log": lambda _line: None, **load})
    elif hasattr(model, "classifier_"):  # a fitted LongtailClassifier
        model = model.classifier_
    if not isinstance(model, Classifier):
        raise LongtailError(
            f"pipeline(model): expected a model directory, a hub id, a Classifier or a fitted "
            f"LongtailClassifier, got {type(model).__name__}"
        )
    return ClassificationPipeline(model)
