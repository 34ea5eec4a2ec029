"""The anchor: TF-IDF + logistic regression fitted on the run's own training rows and scored on
the same validation and test rows as the model, so every report says what the obvious baseline
does on the user's data.

On the repository's own benchmarks this baseline beats a fine-tuned or frozen transformer on
several setups (docs/benchmarks.md); a user who has not run it cannot know whether longtail's
model is worth its cost. The anchor is the one practitioners fit first (Joachims 1998; the
"strong baseline" of Wang & Manning 2012): word 1-2 grams that occur in at least two training
documents, sublinear term frequency, L2-normalised rows, and logistic regression with
``class_weight="balanced"`` (one-vs-rest per label for multilabel). It decides by argmax (0.5 per
label): no calibration, no tuned thresholds, so a model that beats it owes nothing to a decision
fitted on the rows it is scored on.

It reads the text column only (no extra feature columns), keeps the most frequent n-grams
(:data:`longtail.models.lexical.MAX_FEATURES`, fewer with many labels), and fits on at most
:data:`MAX_ANCHOR_ROWS` training rows, fewer where there are many labels
(:data:`MAX_ROWS_X_LABELS`; a seeded sample, stated in the report), so it costs seconds to a few
minutes where training costs hours. A sample can miss a rare label's few
documents; the anchor then never predicts that label.

References:
    Joachims (1998). Text Categorization with Support Vector Machines: Learning with Many
    Relevant Features. ECML.
    Wang, Manning (2012). Baselines and Bigrams: Simple, Good Sentiment and Topic
    Classification. ACL.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from longtail.evaluation.markdown import format_value
from longtail.evaluation.metrics import evaluate_predictions

if TYPE_CHECKING:  # longtail.models imports torch; `compare --dry-run` reads this module without
    from longtail.models.lexical import LexicalModel

#: The anchor's name in logs and reports.
ANCHOR_NAME = "TF-IDF + logistic regression (balanced)"
#: The most training rows the anchor fits on; a seeded sample beyond.
MAX_ANCHOR_ROWS = 100_000
#: The most training rows × labels (classes) it fits on: the fit's cost grows with both (one
#: regression per label for multilabel, a softmax over every class otherwise), so 485 labels
#: get about 8,000 rows and 20 classes the full 100,000.
MAX_ROWS_X_LABELS = 4_000_000
#: The anchor's metrics a report keeps, per split (beside its per-class F1).
KEPT = (
    "f1_macro", "f1_micro", "f1_weighted", "mcc", "pr_auc_macro", "roc_auc_macro",
    "balanced_accuracy", "accuracy", "micro_f1_without_majority", "positive_f1",
    "positive_pr_auc", "num_examples",
)  # fmt: skip
#: What the anchor and the model are compared on first, by task: macro-F1, then MCC (micro-F1
#: for multilabel), then macro PR-AUC (ranking, before any decision).
COMPARED = {
    "binary": ("f1_macro", "mcc", "pr_auc_macro"),
    "multiclass": ("f1_macro", "mcc", "pr_auc_macro"),
    "multilabel": ("f1_macro", "f1_micro", "pr_auc_macro"),
}


def fit_anchor(
    task: str,
    names: Sequence[str],
    train_texts: Sequence[str],
    y_train: np.ndarray,
    *,
    seed: int = 0,
    max_rows: int = MAX_ANCHOR_ROWS,
) -> tuple[LexicalModel | None, dict[str, Any]]:
    """Fit the anchor's model on ``train_texts`` (a seeded sample of at most ``max_rows``, fewer
    with many labels: :data:`MAX_ROWS_X_LABELS` / the number of labels).

    Returns ``(model, about)``: the fitted :class:`~longtail.models.lexical.LexicalModel` (also
    the lexical branch a model may fuse, :mod:`longtail.training.lexical`) and ``{"name",
    "train_rows", "sampled", "seconds"}``; or ``(None, {"name", "skipped": why})`` where the
    texts hold no word to count.
    """
    from longtail.models.lexical import LexicalModel, gather_texts

    started = time.perf_counter()
    rows = np.arange(len(train_texts))
    max_rows = min(max_rows, max(1_000, MAX_ROWS_X_LABELS // max(len(names), 2)))
    sampled = len(rows) > max_rows
    if sampled:
        rows = np.sort(np.random.default_rng(seed).choice(rows, size=max_rows, replace=False))
    texts = gather_texts(train_texts, rows if sampled else None)
    labels = np.asarray(y_train[rows]) if hasattr(y_train, "shape") else np.asarray(y_train)[rows]
    if hasattr(labels, "toarray"):  # a CSR multi-hot sample (``--arrow``)
        labels = labels.toarray()
    model = LexicalModel.fit(task, len(names), texts, labels)
    if model is None:
        return None, {
            "name": ANCHOR_NAME,
            "skipped": "the training texts hold no word of 2+ characters",
        }
    about = {"name": ANCHOR_NAME, "train_rows": len(rows), "sampled": sampled,
             "seconds": round(time.perf_counter() - started, 2)}  # fmt: skip
    return model, about


def tfidf_anchor(
    task: str,
    names: Sequence[str],
    train_texts: Sequence[str],
    y_train: np.ndarray,
    splits: Mapping[str, tuple[Sequence[str], np.ndarray]],
    *,
    seed: int = 0,
    max_rows: int = MAX_ANCHOR_ROWS,
    fitted: tuple[LexicalModel | None, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Fit the anchor on ``train_texts`` and score it on each of ``splits``.

    Args:
        task: ``"binary"``, ``"multiclass"`` or ``"multilabel"``.
        names: the label names, in the model's order.
        train_texts: the training rows' texts (the model's training split): a list, or texts
            left on disk (:class:`longtail.data.arrow.ArrowTexts`), of which only the sample
            is read.
        y_train: their labels: ``(n,)`` class indices, or ``(n, C)`` multi-hot for multilabel
            (or its CSR form, :class:`longtail.data.arrow.SparseMultiHot`).
        splits: split name (``"validation"``, ``"test"``) -> (texts, labels in ``y_train``'s form).
        seed: draws the sample when there are more than ``max_rows`` training rows.
        max_rows: the most training rows fitted on (see :func:`fit_anchor`).
        fitted: what :func:`fit_anchor` returned, where the run fitted it already.

    Returns:
        ``{"name", "train_rows", "sampled", "seconds", "metrics": {split: {metric: value,
        "per_class_f1": {label: F1}}}}``, the metrics those of
        :func:`longtail.evaluation.metrics.evaluate_predictions` named in :data:`KEPT`; or
        ``{"name", "skipped": why}`` where the texts hold no word to count.
    """
    from longtail.models.lexical import gather_texts

    started = time.perf_counter()
    model, about = fitted or fit_anchor(
        task, names, train_texts, y_train, seed=seed, max_rows=max_rows
    )
    if model is None:
        return about
    metrics = {}
    for split, (split_texts, y) in splits.items():
        probs = model.probabilities(gather_texts(split_texts))
        found = evaluate_predictions(task, np.asarray(y), probs, _decide(task, probs), list(names))
        metrics[split] = {key: found.get(key) for key in KEPT} | {
            "per_class_f1": {str(r["label"]): r["f1"] for r in found["per_class"]}
        }
    # fitted here: the fit and the scoring; fitted by the run: its fit, as the run timed it
    seconds = round(time.perf_counter() - started, 2) if fitted is None else about["seconds"]
    return dict(about, seconds=seconds, metrics=metrics)


def _decide(task: str, probs: np.ndarray) -> np.ndarray:
    """Argmax, or 0.5 per label for multilabel: the anchor tunes nothing."""
    if task == "multilabel":
        return (probs >= 0.5).astype(int)
    return probs.argmax(axis=1)


def compared(task: str, model_metrics: Mapping[str, Any], anchor: Mapping[str, Any], split: str):
    """``(metric, model value, anchor value)`` for the headline metrics on ``split`` where both
    have them: what a report puts first."""
    theirs = anchor["metrics"].get(split) or {}
    return [
        (metric, float(model_metrics[metric]), float(theirs[metric]))
        for metric in COMPARED[task]
        if model_metrics.get(metric) is not None and theirs.get(metric) is not None
    ]


# ----------------------------------------------------------------------------- in a report
#: The metrics' names in a report's anchor table.
METRIC_NAMES = {
    "f1_macro": "macro-F1",
    "f1_micro": "micro-F1",
    "mcc": "MCC",
    "pr_auc_macro": "macro PR-AUC",
}


def report_split(report: Mapping[str, Any]) -> str:
    """The split a report's metrics are of, as the anchor names it: ``test`` or ``validation``."""
    return "test" if report.get("split") == "test" else "validation"


def anchor_warning(report: Mapping[str, Any]) -> str | None:
    """The warning a report opens with when the anchor beats the model on its split's macro-F1."""
    anchor = report.get("anchor")
    if not isinstance(anchor, Mapping) or not anchor.get("metrics"):
        return None
    split = report_split(report)
    pairs = compared(str(report["task"]), report["metrics"], anchor, split)
    if not pairs or pairs[0][1] >= pairs[0][2]:  # macro-F1 comes first
        return None
    detail = ", ".join(f"{m} {ours:.4f} against {theirs:.4f}" for m, ours, theirs in pairs)
    return (
        f"the anchor beats this model on {split} macro-F1: {ANCHOR_NAME}, fitted on the same "
        f"training rows, scores {pairs[0][2]:.4f} against the model's {pairs[0][1]:.4f} "
        f"(model against anchor: {detail})"
    )


def anchor_table(report: Mapping[str, Any]) -> tuple[list[list[str]], str] | None:
    """``(rows of [metric, this model, anchor], caption)`` for a report's split, or ``None``
    where the report has no anchor scores."""
    anchor = report.get("anchor")
    if not isinstance(anchor, Mapping):
        return None
    if anchor.get("skipped"):
        return [], f"{ANCHOR_NAME}: not fitted ({anchor['skipped']})."
    split = report_split(report)
    pairs = compared(str(report["task"]), report["metrics"], anchor, split)
    if not pairs:
        return None
    rows = [
        [METRIC_NAMES[m], format_value(ours), format_value(theirs)] for m, ours, theirs in pairs
    ]
    rule = "0.5 per label" if report["task"] == "multilabel" else "argmax"
    sample = " (a seeded sample of the training split)" if anchor.get("sampled") else ""
    caption = (
        f"{ANCHOR_NAME}: word 1-2 grams, fitted in {float(anchor.get('seconds') or 0):.1f} s on "
        f"{anchor.get('train_rows')} of the model's training rows{sample}, decided by {rule} "
        f"(nothing tuned), scored on the same {split} rows as the model."
    )
    return rows, caption


def anchor_scores(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The anchor's metrics and per-class F1 on the report's split (what a ``compare`` cell
    records), or ``None`` where the report has none."""
    anchor = report.get("anchor")
    if not isinstance(anchor, Mapping):
        return None
    scores = (anchor.get("metrics") or {}).get(report_split(report))
    if not scores:
        return None
    return {
        "metrics": {k: v for k, v in scores.items() if k != "per_class_f1"},
        "per_class_f1": dict(scores.get("per_class_f1") or {}),
    }


def anchor_f1(report: Mapping[str, Any]) -> Mapping[str, float] | None:
    """The anchor's F1 per label on the report's split (for the per-class table), or ``None``."""
    scores = anchor_scores(report)
    return scores["per_class_f1"] if scores else None
