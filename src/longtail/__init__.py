"""longtail: transformer text classifiers for class-imbalanced data.

Public API::

    import longtail
    clf = longtail.train("train.csv", output="runs/x", test_data="test.csv")
    clf = longtail.Classifier.load("runs/x")
    clf.predict_proba(["some text"]), clf.predict(["some text"])
    est = longtail.LongtailClassifier(encoder="frozen").fit(texts, labels)   # scikit-learn style

Heavy modules (torch, transformers) load on first use, so ``longtail --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = [
    "Classifier",
    "ExperimentConfig",
    "LongtailClassifier",
    "LongtailError",
    "__version__",
    "pipeline",
    "train",
]


def __getattr__(name: str) -> Any:
    if name == "train":
        from longtail.api import train

        return train
    if name == "Classifier":
        from longtail.predictor import Classifier

        return Classifier
    if name == "pipeline":
        from longtail.pipelines import pipeline

        return pipeline
    if name == "LongtailClassifier":
        from longtail.estimator import LongtailClassifier

        return LongtailClassifier
    if name == "ExperimentConfig":
        from longtail.config import ExperimentConfig

        return ExperimentConfig
    if name == "LongtailError":
        from longtail.errors import LongtailError

        return LongtailError
    raise AttributeError(f"module 'longtail' has no attribute {name!r}")
