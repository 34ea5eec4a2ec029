"""Post-hoc logit adjustment: decide with ``logits - tau * log(prior)``.

A model trained on long-tailed data learns ``P(y | x)``, whose argmax favours the head classes.
Menon et al. (2021, arXiv 2007.07314) show that subtracting ``tau * log pi_y`` (``pi`` the training
class priors) from the logits gives the Bayes-optimal classifier for the *balanced* error at
``tau = 1``; in practice ``tau`` is tuned on validation. It moves no weight and costs nothing.

Per task:

* ``binary`` and ``multiclass``: ``pi_c`` = the training documents of class ``c`` / all
  training documents; the offsets are ``log pi_c``.
* ``multilabel``: each label is its own binary problem, so the offset is the label's log prior
  odds ``log(pi_j / (1 - pi_j))`` (``pi_j`` = the share of training documents with label ``j``),
  the two-class case of the same rule. A per-label threshold is a monotone map of the same score,
  so tuned thresholds absorb it exactly: it changes a multilabel (or binary) decision only with
  ``decision.tune_thresholds: false``.

A class with no training document counts as half a document, so its log prior stays finite.
``tau`` is tuned over :data:`TAU_GRID` on the validation set's *default* decision (argmax, or
``P >= 0.5``) of the adjusted logits, for the decision objective (``decision.objective``), as
Menon et al. tune it for the balanced error; the smallest best ``tau`` wins a tie.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from longtail.decision.multiclass_weights import _multiclass_score
from longtail.decision.objectives import matthews
from longtail.errors import LongtailError
from longtail.tasks import ByTask

#: The ``tau`` values tried when ``decision.logit_adjust: tuned`` (0 = no adjustment).
TAU_GRID = np.round(np.linspace(0.0, 2.0, 21), 10)


@dataclass(frozen=True)
class LogitAdjustment:
    """``logits - tau * offsets``: the offsets are log priors (log prior odds for multilabel).

    Attributes:
        tau: the adjustment's strength, ``>= 0``.
        offsets: one number per logit column.
        tuned: whether ``tau`` was chosen on validation (``decision.logit_adjust: tuned``).
    """

    tau: float
    offsets: np.ndarray
    tuned: bool = False
    #: the class priors the probabilities were shifted to (``decision.target_priors``,
    #: :func:`prior_shift`), ``None`` for a logit adjustment proper
    target_priors: tuple[float, ...] | None = None

    def apply(self, logits: np.ndarray) -> np.ndarray:
        return adjust_logits(logits, self.offsets, self.tau)

    def to_json(self) -> dict[str, Any]:
        out = {"tau": float(self.tau), "offsets": self.offsets.tolist(), "tuned": self.tuned}
        if self.target_priors is not None:
            out["target_priors"] = list(self.target_priors)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LogitAdjustment:
        offsets = np.asarray(data["offsets"], dtype=np.float64)
        target = data.get("target_priors")
        return cls(
            float(data["tau"]), offsets, bool(data.get("tuned", False)),
            tuple(float(p) for p in target) if target is not None else None,
        )  # fmt: skip


def prior_shift(
    task: str,
    names: Sequence[str],
    train_counts: np.ndarray,
    target: str | Mapping[str, float],
    model_priors: np.ndarray | None = None,
) -> LogitAdjustment:
    """The correction of a single-label model's probabilities from the training priors to
    ``target`` (``balanced``, or a share per label): ``p'(c | x) ~ p(c | x) * pi'_c / pi_c``.

    A model trained on class priors ``pi`` estimates ``p(c | x)`` for data drawn with them; where
    the classes occur with ``pi'`` instead (and ``p(x | c)`` is unchanged: label shift), Bayes'
    rule gives the reweighted posterior above (Saerens, Latinne & Decaestecker 2002, Neural
    Computation 14(1)). On logits it is the offsets ``log pi_c - log pi'_c`` at ``tau = 1``;
    for ``balanced`` targets, Menon et al. (2021)'s adjustment for the balanced error. ``pi`` is
    ``model_priors`` when given: a model trained with class weights, a sampler or a logit-offset
    loss reflects other priors than the training counts (:mod:`longtail.decision.model_priors`).

    Example:
        >>> shift = prior_shift("binary", ["ham", "spam"], np.array([900, 100]), "balanced")
        >>> shift.apply(np.array([[2.0, 0.0]]))  # log 9 moved towards "spam"
    """
    wanted = target_shares(task, names, target)
    if model_priors is not None:
        source = np.log(np.maximum(np.asarray(model_priors, dtype=np.float64), 1e-12))
    else:
        source = single_label_prior_offsets(train_counts, int(np.sum(train_counts)))
    offsets = source - np.log(wanted)
    return LogitAdjustment(1.0, offsets, tuned=False, target_priors=tuple(wanted.tolist()))


def target_shares(task: str, names: Sequence[str], target: str | Mapping[str, float]) -> np.ndarray:
    """``decision.target_priors`` as one share per label of ``names``, summing to 1; a task or a
    label it cannot serve is refused in one line (checked before training, and at fitting)."""
    if task not in ("binary", "multiclass"):
        raise LongtailError(
            f"decision.target_priors applies to binary and multiclass tasks, not {task}: a "
            "multilabel model's per-label thresholds are tuned on validation instead"
        )
    names = [str(n) for n in names]
    if target == "balanced":
        wanted = np.full(len(names), 1.0 / len(names))
    else:
        shares = {str(k): float(v) for k, v in dict(target).items()}
        missing = [n for n in names if n not in shares]
        unknown = [k for k in shares if k not in names]
        if missing or unknown:
            raise LongtailError(
                "decision.target_priors must give a share for each label and only those: "
                + "; ".join(
                    part for part in (
                        f"missing {', '.join(missing[:8])}" if missing else "",
                        f"not a label {', '.join(unknown[:8])}" if unknown else "",
                    ) if part
                )
                + f" (labels: {', '.join(names[:12])}{' ...' if len(names) > 12 else ''})"
            )  # fmt: skip
        wanted = np.array([shares[n] for n in names])
        wanted = wanted / wanted.sum()
    return wanted


def prior_offsets(task: str, counts: np.ndarray, num_rows: int) -> np.ndarray:
    """The offsets ``log pi`` (binary, multiclass) or ``log(pi / (1 - pi))`` (multilabel) from the
    training split's per-class document ``counts`` and its number of documents ``num_rows``."""
    return _OFFSETS[task](counts, num_rows)


def single_label_prior_offsets(counts: np.ndarray, num_rows: int) -> np.ndarray:
    """``log pi_c``, ``pi`` the class shares of ``counts`` (an absent class counts as half a
    document); ``num_rows`` is not read: single-label counts add up to it."""
    smoothed = np.maximum(np.asarray(counts, dtype=np.float64), 0.5)
    return np.log(smoothed / smoothed.sum())


def multilabel_prior_offsets(counts: np.ndarray, num_rows: int) -> np.ndarray:
    """Each label's log prior odds ``log(pi_j / (1 - pi_j))``, ``pi_j = counts_j / num_rows``,
    its positives and negatives kept at half a document or more."""
    c = np.asarray(counts, dtype=np.float64)
    n = max(float(num_rows), 1.0)
    positives = np.clip(c, 0.5, max(n - 0.5, 0.5))
    return np.log(positives) - np.log(np.maximum(n - positives, 0.5))


def adjust_logits(logits: np.ndarray, offsets: np.ndarray, tau: float) -> np.ndarray:
    """``logits - tau * offsets`` in float64 (``tau = 0``: the logits unchanged).

    A binary model with a single positive-class logit column gets the difference of the two
    offsets, the same decision as the two-column form.
    """
    if not (tau >= 0 and np.isfinite(tau)):
        raise LongtailError(f"the logit adjustment tau must be a finite number >= 0, got {tau}")
    z = np.asarray(logits, dtype=np.float64)
    off = np.asarray(offsets, dtype=np.float64).reshape(-1)
    if z.ndim == 1 or (z.ndim == 2 and z.shape[1] == 1 and off.size == 2):
        return z - tau * (off[1] - off[0])
    if z.ndim != 2 or z.shape[1] != off.size:
        raise LongtailError(f"{off.size} logit-adjustment offsets for logits of shape {z.shape}")
    return z - tau * off[None, :]


def tune_tau(
    task: str,
    logits: np.ndarray,
    y_true: np.ndarray,
    offsets: np.ndarray,
    objective: str = "f1",
    beta: float = 1.0,
    floor: float | None = None,
    grid: np.ndarray = TAU_GRID,
) -> float:
    """The ``tau`` of ``grid`` whose default decision on the adjusted validation logits scores
    best for ``objective`` (macro over the classes validation holds); the smallest on a tie.

    References:
        Menon, Jayasumana, Rawat, Jain, Veit, Kumar (2021). Long-tail learning via logit
        adjustment. ICLR. arXiv 2007.07314.

    Example:
        >>> offsets = prior_offsets("multiclass", train_counts, len(y_train))
        >>> tau = tune_tau("multiclass", val_logits, y_val, offsets)
        >>> y_hat = np.argmax(adjust_logits(test_logits, offsets, tau), axis=1)
    """
    beta = beta if objective == "fbeta" else 1.0
    num_classes = int(np.asarray(offsets).size)
    scores = [
        decision_score(task, y_true, default_decision(task, adjust_logits(logits, offsets, t)),
                       objective, beta, floor, num_classes)
        for t in grid
    ]  # fmt: skip
    best = max(scores)
    return float(grid[next(i for i, s in enumerate(scores) if s >= best - 1e-12)])


def default_decision(task: str, logits: np.ndarray) -> np.ndarray:
    """The untuned decision of (adjusted) logits: argmax, or ``P >= 0.5`` (logit ``>= 0``)."""
    return _DEFAULT_DECISION[task](logits)


def binary_default_decision(logits: np.ndarray) -> np.ndarray:
    """Class 1 where its logit is at least class 0's, or, from one positive-class logit column,
    where it is ``>= 0``."""
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim == 1 or z.shape[1] == 1:
        return (z.reshape(-1) >= 0).astype(np.int64)
    return (z[:, 1] >= z[:, 0]).astype(np.int64)


def multiclass_default_decision(logits: np.ndarray) -> np.ndarray:
    """The argmax class of each row."""
    return np.argmax(np.asarray(logits, dtype=np.float64), axis=1).astype(np.int64)


def multilabel_default_decision(logits: np.ndarray) -> np.ndarray:
    """Every label whose logit is ``>= 0`` (``P >= 0.5``), as a multi-hot."""
    return (np.asarray(logits, dtype=np.float64) >= 0).astype(np.int64)


def decision_score(
    task: str,
    y_true: np.ndarray,
    pred: np.ndarray,
    objective: str,
    beta: float = 1.0,
    floor: float | None = None,
    num_classes: int | None = None,
) -> float:
    """How good ``pred`` is for ``objective``: macro F-beta or MCC; for the ``*_floor``
    objectives the maximised rate where the floor holds, else the floored rate minus 1."""
    return _DECISION_SCORE[task](y_true, pred, objective, beta, floor, num_classes)


def binary_decision_score(
    y_true: np.ndarray,
    pred: np.ndarray,
    objective: str,
    beta: float = 1.0,
    floor: float | None = None,
    num_classes: int | None = None,
) -> float:
    """The positive class's score (0 when validation holds no positive)."""
    truth = (np.asarray(y_true) == 1)[:, None]
    return _mean_label_score(truth, pred, objective, beta, floor)


def multiclass_decision_score(
    y_true: np.ndarray,
    pred: np.ndarray,
    objective: str,
    beta: float = 1.0,
    floor: float | None = None,
    num_classes: int | None = None,
) -> float:
    """Macro F-beta over the classes ``y_true`` holds, or the multiclass MCC (``"mcc"``); the
    floors do not apply to multiclass decisions (``floor`` is not read)."""
    y = np.asarray(y_true).astype(np.int64).reshape(-1)
    total = max(num_classes or 0, int(y.max(initial=0)) + 1, int(pred.max(initial=0)) + 1)
    support = np.bincount(y, minlength=total)
    return _multiclass_score(y, pred, support, beta, objective)[0]


def multilabel_decision_score(
    y_true: np.ndarray,
    pred: np.ndarray,
    objective: str,
    beta: float = 1.0,
    floor: float | None = None,
    num_classes: int | None = None,
) -> float:
    """The mean per-label score over the labels with a validation positive (0 if none has)."""
    y = np.asarray(y_true)
    return _mean_label_score(y.reshape(len(y), -1) > 0.5, pred, objective, beta, floor)


def _mean_label_score(
    truth: np.ndarray, pred: np.ndarray, objective: str, beta: float, floor: float | None
) -> float:
    """:func:`_binary_score` of each column of ``pred`` against ``truth`` ``(n, C)``, averaged
    over the columns with a positive."""
    hat = pred.reshape(len(pred), -1).astype(bool)
    per_label = [
        _binary_score(truth[:, j], hat[:, j], objective, beta, floor)
        for j in range(truth.shape[1])
        if truth[:, j].any()
    ]
    return float(np.mean(per_label)) if per_label else 0.0


def _binary_score(
    truth: np.ndarray, hat: np.ndarray, objective: str, beta: float, floor: float | None
) -> float:
    tp = float(np.sum(truth & hat))
    fp = float(np.sum(~truth & hat))
    fn = float(np.sum(truth & ~hat))
    tn = float(len(truth)) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    if objective == "mcc":
        return float(matthews(tp * tn - fp * fn, (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))
    if objective == "recall_floor":
        return precision if recall >= float(floor or 0.0) else recall - 1.0
    if objective == "precision_floor":
        return recall if precision >= float(floor or 0.0) else precision - 1.0
    b2 = beta * beta
    denom = (1 + b2) * tp + b2 * fn + fp
    return (1 + b2) * tp / denom if denom else 0.0


_OFFSETS = ByTask(
    binary=single_label_prior_offsets,
    multiclass=single_label_prior_offsets,
    multilabel=multilabel_prior_offsets,
)
_DEFAULT_DECISION = ByTask(
    binary=binary_default_decision,
    multiclass=multiclass_default_decision,
    multilabel=multilabel_default_decision,
)
_DECISION_SCORE = ByTask(
    binary=binary_decision_score,
    multiclass=multiclass_decision_score,
    multilabel=multilabel_decision_score,
)
