"""longtail's recommended defaults that depend on the task, in one place.

A config leaves ``loss`` and ``train.early_stopping_metric`` unset (``null``) to mean "the default
for the detected task"; training resolves them here, and :mod:`longtail.fingerprint` records what
they resolve to, so a finished grid cell or a checkpoint trained under an older default is not
taken for one trained under the new one.
"""

from __future__ import annotations

from typing import Any


def default_loss(task: str) -> dict[str, Any]:
    """longtail's recommended default loss; the decision is left to tuned thresholds.

    Single-label: cross-entropy with effective-number class weights (β = 0.999; Cui et al. 2019,
    arXiv 1901.05555), which re-weights rare classes but saturates for large ones, so a 1:1000 skew
    does not turn into a 1000× weight. Multilabel: plain BCE, with the head's biases started at the
    label priors; rare labels are served by per-label thresholds (SCutFBR.1, Yang 2001). Positive
    weights (``pos_weight: sqrt_ratio``) were the default until two multilabel sets measured them
    against plain BCE with the same thresholds: no macro-F1 gain on Reuters-21578, and lower
    macro recall and PR-AUC on the Friends speakers (docs/benchmarks.md). They stay one option
    away: ``loss.name=bce loss.pos_weight=sqrt_ratio loss.max_weight=100``.
    """
    if task == "multilabel":
        return {"name": "bce"}
    return {"name": "ce", "weights": "effective_number", "beta": 0.999}


def default_early_stopping_metric(task: str) -> str:
    return "pr_auc_macro" if task == "multilabel" else "f1_macro"
