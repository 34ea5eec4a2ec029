"""longtail's recommended defaults that depend on the task, in one place.

A config leaves ``loss``, ``train.early_stopping_metric`` and ``decision.fbr`` unset (``null``) to
mean "the default for the detected task"; training resolves them here, and :mod:`longtail.fingerprint` records what
they resolve to, so a finished grid cell or a checkpoint trained under an older default is not
taken for one trained under the new one.
"""

from __future__ import annotations

from typing import Any


def default_loss(task: str) -> dict[str, Any]:
    """longtail's recommended default loss; the decision is left to tuned thresholds.

    Single-label: cross-entropy with effective-number class weights (β = 0.999; Cui et al. 2019,
    arXiv 1901.05555), which re-weights rare classes but saturates for large ones, so a 1:1000 skew
    does not turn into a 1000× weight. Multilabel: plain BCE, the head's biases started at the
    label priors, with per-label thresholds (and SCutFBR.1) doing the work for rare labels. Decided
    on measurements (docs/benchmarks.md at commit 4e50fb3, the short-budget grids): against it, BCE with square-root ``pos_weight`` ties on
    macro-F1 on the full Reuters-21578 data (+0.002, p = 0.84, 5 seeds), loses micro-F1 there
    (−0.020, p = 0.002), and is behind on macro-F1 on a 1,500-document sample of it and on the
    Friends speakers with a frozen encoder. The weight is one override away:
    ``loss.name=bce loss.pos_weight=sqrt_ratio loss.max_weight=100``.
    """
    if task == "multilabel":
        return {"name": "bce"}
    return {"name": "ce", "weights": "effective_number", "beta": 0.999}


def default_early_stopping_metric(task: str) -> str:
    return "pr_auc_macro" if task == "multilabel" else "f1_macro"


MULTILABEL_FBR = 0.3  # SCutFBR.1 default for multilabel (Yang 2001)
MULTICLASS_FBR = 0.2  # its multiclass form: a weight may leave 1 only where the class's F >= 0.2


def default_fbr(task: str) -> float:
    """The SCutFBR.1 fall-back rate (Yang 2001, SIGIR): 0.3 for multilabel, 0.2 for multiclass,
    off (0) for binary; :class:`longtail.config.DecisionConfig` says why."""
    return {"multilabel": MULTILABEL_FBR, "multiclass": MULTICLASS_FBR}.get(task, 0.0)
