"""``LongtailClassifier``: longtail's training as a scikit-learn estimator, for notebooks.

    >>> from longtail import LongtailClassifier
    >>> clf = LongtailClassifier(encoder="frozen").fit(texts, labels)        # doctest: +SKIP
    >>> clf.predict(["WINNER! claim your prize"]), clf.score(test_texts, test_labels)  # doctest: +SKIP

It runs exactly what ``longtail train`` runs (:func:`longtail.training.run.run_training`) on the
data it is given in memory (:mod:`longtail.data.memory`: never written to a CSV), so every
default, check and one-line error is the command's. Its parameters are the common settings by
name plus ``config`` for any other (``{"decision": {"objective": "mcc"}}`` or ``{"train.patience":
3}``), all stored as given, so ``sklearn.base.clone``, ``cross_val_score``, ``GridSearchCV`` and
``Pipeline`` work. The run directory is temporary unless ``output`` is given; ``save(dir)`` writes
a model directory that ``longtail predict`` and :class:`~longtail.predictor.Classifier` load.

Labels keep their type: fit on ``0`` / ``1`` and ``predict`` returns ``0`` / ``1`` (longtail names
classes by their text internally). Multilabel: ``y`` is a list of label lists, and ``predict``
returns an indicator matrix over ``classes_``, as scikit-learn's multilabel estimators do.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from longtail.config import build_config, set_path
from longtail.data.memory import registered_table
from longtail.errors import LongtailError
from longtail.logs import info, to_stdout
from longtail.options import option_keys

#: Estimator parameter → config key (``None`` leaves the config's default). The parameters are
#: ``longtail train`` options by name, so the keys come from :mod:`longtail.options`.
PARAMETER_KEYS = option_keys(
    "model",
    "encoder",
    "max_length",
    "loss",
    "sampler",
    "strategy",
    "epochs",
    "batch_size",
    "lr",
    "seed",
)


def _texts(X: Any, column: str, what: str) -> list[str]:
    """Texts from a list / tuple / numpy array / pandas Series, or a column of a DataFrame or
    ``datasets.Dataset``."""
    if hasattr(X, "column_names") or hasattr(X, "columns"):  # datasets.Dataset / DataFrame
        names = list(getattr(X, "column_names", None) or list(X.columns))
        if column not in names:
            raise LongtailError(
                f"{what} has no column {column!r}; available: {', '.join(map(str, names))}; "
                "pass text_column="
            )
        X = X[column]
    if isinstance(X, str):
        raise LongtailError(f"{what} is one string; pass a list of texts")
    values = X.tolist() if hasattr(X, "tolist") else list(X)
    return [v if isinstance(v, str) else ("" if v is None else str(v)) for v in values]


def _labels(y: Any, X: Any, column: str | None, what: str) -> list[Any]:
    if y is None:
        if column is None or not (hasattr(X, "column_names") or hasattr(X, "columns")):
            raise LongtailError(f"{what}: no labels; pass y (or label_column= with a table X)")
        y = X[column]
    values = y.tolist() if hasattr(y, "tolist") else list(y)
    return [list(v) if isinstance(v, tuple | set | np.ndarray) else v for v in values]


class LongtailClassifier(ClassifierMixin, BaseEstimator):
    """A class-imbalance-aware transformer text classifier with scikit-learn's interface.

    Args:
        model: encoder directory or hub name (default: all-MiniLM-L6-v2).
        encoder: ``finetune`` or ``frozen`` (embed once, train the head: minutes on a CPU).
        max_length, loss, sampler, strategy, epochs, batch_size, lr, seed: as the ``longtail
            train`` flags of the same names; ``None`` keeps longtail's default.
        config: any other settings, as nested sections or dotted keys.
        text_column, label_column: the columns to read when ``X`` is a DataFrame or a
            ``datasets.Dataset`` (``label_column`` when ``y`` is not given).
        output: keep the run directory here (default: a temporary one, removed after ``fit``).
        verbose: print the training log.
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        encoder: str | None = None,
        max_length: int | None = None,
        loss: str | dict[str, Any] | None = None,
        sampler: str | dict[str, Any] | None = None,
        strategy: str | dict[str, Any] | None = None,
        epochs: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        seed: int | None = None,
        config: dict[str, Any] | None = None,
        text_column: str = "text",
        label_column: str | None = None,
        output: str | None = None,
        verbose: bool = False,
    ) -> None:
        self.model = model
        self.encoder = encoder
        self.max_length = max_length
        self.loss = loss
        self.sampler = sampler
        self.strategy = strategy
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed
        self.config = config
        self.text_column = text_column
        self.label_column = label_column
        self.output = output
        self.verbose = verbose

    def experiment(self, train: str, validation: str | None, output: str):
        """The validated :class:`~longtail.config.ExperimentConfig` ``fit`` runs."""
        settings: dict[str, Any] = {}
        for key, value in dict(self.config or {}).items():  # a section, or a dotted key
            set_path(settings, key, value)
        for name, key in PARAMETER_KEYS.items():
            value = getattr(self, name)
            if value is not None:
                set_path(settings, key, value)
        set_path(settings, "data.train", train)
        set_path(settings, "data.validation", validation)
        set_path(settings, "output", output)
        return build_config(settings, source="LongtailClassifier")

    def fit(self, X: Any, y: Any = None, X_val: Any = None, y_val: Any = None):
        """Train on ``X`` / ``y`` (validation: ``X_val`` / ``y_val``, else a stratified split of
        the training data, as ``longtail train`` does); returns ``self``."""
        from longtail.predictor import Classifier
        from longtail.training.run import run_training

        texts = _texts(X, self.text_column, "X")
        labels = _labels(y, X, self.label_column, "y")
        self._values = {str(v): v for v in _flat(labels)}  # longtail's class names → y's values
        with contextlib.ExitStack() as stack:
            train = stack.enter_context(registered_table(texts, labels, what="X"))
            validation = None
            if X_val is not None:
                val_texts = _texts(X_val, self.text_column, "X_val")
                val_labels = _labels(y_val, X_val, self.label_column, "y_val")
                validation = stack.enter_context(
                    registered_table(val_texts, val_labels, what="X_val")
                )
            if self.output is None:
                folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="longtail-fit-"))
                output = str(Path(folder) / "run")
            else:
                output = str(self.output)
            config = self.experiment(train, validation, output)
            if self.verbose:  # else the lines go to the "longtail" logger only
                stack.enter_context(to_stdout())
            result = run_training(config, overwrite=True, log=info)
            classifier = Classifier.load(result.output, log=lambda _line: None)
            self._adopt(classifier, result.report)
        return self

    def _adopt(self, classifier: Any, report: dict[str, Any] | None) -> None:
        """Become the fitted estimator of ``classifier`` (its labels typed as ``y`` was)."""
        classifier.use_embedding_cache(log=lambda _line: None)
        self.classifier_ = classifier
        self.report_ = report
        self.task_ = classifier.task
        names = classifier.label_names
        saved = classifier.meta.get("label_values")
        values = getattr(self, "_values", None) or (
            dict(zip(names, saved, strict=True)) if saved and len(saved) == len(names) else {}
        )
        self._values = values
        self.classes_ = np.array([values.get(n, n) for n in names])

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        *,
        revision: str | None = None,
        cache_dir: str | Path | None = None,
        token: str | bool | None = None,
        runtime: str | None = None,
        **params: Any,
    ) -> LongtailClassifier:
        """A fitted estimator from a model directory or a hub repository holding one
        (:meth:`longtail.predictor.Classifier.from_pretrained`); ``params`` are the estimator's
        own (``text_column=`` for DataFrames, and the settings a later ``fit`` would use)."""
        from longtail.predictor import Classifier

        classifier = Classifier.from_pretrained(
            name_or_path, revision=revision, cache_dir=cache_dir, token=token, runtime=runtime,
            log=lambda _line: None,
        )  # fmt: skip
        estimator = cls(**params)
        estimator._adopt(classifier, None)
        return estimator

    def tune_decision(self, X: Any, y: Any = None, **decision: Any) -> LongtailClassifier:
        """Refit calibration and thresholds on labelled rows (weights untouched), e.g.
        ``tune_decision(X_val, y_val, objective="mcc")``; the metrics before and after are in
        ``decision_`` (in-sample: score other rows to judge it). Returns ``self``."""
        from longtail.data import read_table

        clf = self._fitted()
        texts = _texts(X, self.text_column, "X")
        labels = _labels(y, X, self.label_column, "y")
        with registered_table(texts, labels, what="X") as name:
            table = read_table(name)
        self.decision_ = clf.tune_decision(table, decision)
        return self

    def _fitted(self):
        if not hasattr(self, "classifier_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this LongtailClassifier is not fitted yet; call fit(X, y) first")
        return self.classifier_

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated probabilities ``(n, len(classes_))``."""
        return self._fitted().predict_proba(_texts(X, self.text_column, "X"))

    def decision_function(self, X: Any) -> np.ndarray:
        """Raw logits; for a binary task the positive class's margin ``(n,)``, as scikit-learn's
        binary classifiers return it."""
        logits = self._fitted().predict_logits(_texts(X, self.text_column, "X"))
        return logits[:, 1] - logits[:, 0] if self.task_ == "binary" else logits

    def predict(self, X: Any) -> np.ndarray:
        """Labels decided with the tuned thresholds: ``y``'s values, or for multilabel an
        indicator matrix over ``classes_``."""
        clf = self._fitted()
        decided = clf.decide(clf.predict_proba(_texts(X, self.text_column, "X")))
        if self.task_ == "multilabel":
            return np.asarray(decided, dtype=np.int64)
        return self.classes_[np.asarray(decided, dtype=np.int64)]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Macro-F1 of :meth:`predict` (the imbalanced-data default, not accuracy)."""
        from sklearn.metrics import f1_score
        from sklearn.preprocessing import MultiLabelBinarizer

        predicted = self.predict(X)
        truth = _labels(y, X, self.label_column, "y")
        if self.task_ == "multilabel":
            truth = MultiLabelBinarizer(classes=list(self.classes_)).fit_transform(truth)
        return float(
            f1_score(
                truth, predicted, average="macro", sample_weight=sample_weight, zero_division=0
            )
        )

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write the fitted model as a model directory (``longtail predict --model DIR``,
        :meth:`from_pretrained`) with its model card, ``README.md``; written beside the target
        and renamed into place."""
        from longtail.evaluation.model_card import MODEL_CARD, model_card
        from longtail.io_utils import atomic_write_text
        from longtail.models.io import save_model_dir

        clf = self._fitted()
        target = Path(directory)
        staging = target.with_name(f".{target.name}.saving")
        shutil.rmtree(staging, ignore_errors=True)
        meta = dict(clf.meta)
        values = [self._values.get(n, n) for n in clf.label_names]
        if all(isinstance(v, str | int | float | bool) for v in values):
            meta["label_values"] = [v.item() if hasattr(v, "item") else v for v in values]
        try:
            save_model_dir(staging, clf.model, clf.tokenizer, meta, lexical=clf.lexical)
            atomic_write_text(staging / MODEL_CARD, model_card(meta, self._card_report()))
            shutil.rmtree(target, ignore_errors=True)
            staging.replace(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    save = save_pretrained

    def _card_report(self) -> dict[str, Any]:
        """What the model card says was measured: the run's report, or a re-decision's."""
        report = dict(self.report_ or {"split": "not evaluated in this session"})
        if getattr(self, "decision_", None):
            report.update(
                metrics=self.decision_["after"],
                split="decision data (in-sample: the decision was refitted on it)",
            )
        return report

    def push_to_hub(
        self,
        repo_id: str,
        *,
        token: str | bool | None = None,
        private: bool | None = None,
        api: Any = None,
    ) -> str:
        """Upload the fitted model (and its card) to the hub repository ``repo_id``; returns the
        commit URL (:func:`longtail.models.hub_models.push_model_dir`)."""
        from longtail.models.hub_models import push_model_dir

        with tempfile.TemporaryDirectory(prefix="longtail-push-") as folder:
            directory = self.save_pretrained(Path(folder) / "model")
            return push_model_dir(directory, repo_id, token=token, private=private, api=api)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags


def _flat(labels: Sequence[Any]) -> list[Any]:
    out = []
    for value in labels:
        out.extend(value if isinstance(value, list) else [value])
    return out
