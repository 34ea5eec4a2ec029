"""Did a run stop while its validation score was still rising?

A run whose last epoch is its best by a clear margin stopped on its epoch budget, not on early
stopping: the model may still be learning. Remedies compared on such models measure what they do
to a model that has not learnt its task yet. On the R52 sample of ``docs/benchmarks.md`` two
epochs (58 steps) left every variant undertrained: the loss weights, the decision and the samplers
moved macro-F1 by up to 0.25, training 22x longer moved it by 0.5-0.6. The training report, the
log and ``longtail compare`` say so when it happens (:func:`still_improving`).

Standard library only: ``longtail compare`` reads it without loading torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

#: The least rise of the validation score in the last epoch that counts as "still learning" (the
#: scores are macro-F1, MCC or PR-AUC, in [0, 1]). Measured on the R52 sample (101 validation
#: rows, validation macro-F1): over the last 20 epochs of the four 45-epoch runs the median change
#: from one epoch to the next was 0.000-0.005, and no epoch beat the earlier best by 0.01; the
#: default's five 2-epoch runs rose by 0.09-0.28 in their second epoch.
MIN_GAIN = 0.01


def still_improving(
    history: Sequence[Mapping[str, Any]], metric: str, *, min_gain: float = MIN_GAIN
) -> dict[str, Any] | None:
    """The last epoch's rise when it beat every earlier epoch by ``min_gain``, else ``None``.

    Only the last phase of a strategy counts (its weights are the model's); a phase of one epoch
    has nothing to compare with and gives ``None``.

    Args:
        history: the training history, one entry per epoch with ``val_score`` (and ``phase``).
        metric: the name of the validation score (``train.early_stopping_metric``).

    Returns:
        ``{"metric", "phase", "epochs", "best_before", "last"}``: the phase, its epoch count, its
        best score before the last epoch and the last epoch's score.
    """
    if not history:
        return None
    phase = history[-1].get("phase")
    scores = [e.get("val_score") for e in history if e.get("phase") == phase]
    if len(scores) < 2 or not all(isinstance(s, int | float) and math.isfinite(s) for s in scores):
        return None  # one epoch, or a score missing or not finite: nothing to tell
    best_before = max(scores[:-1])
    if scores[-1] - best_before < min_gain:
        return None
    return {
        "metric": metric,
        "phase": phase,
        "epochs": len(scores),
        "best_before": best_before,
        "last": scores[-1],
    }


def still_improving_note(info: Mapping[str, Any]) -> str:
    """One line for the log and the report: what rose, by how much, and what to do."""
    phase = f" of phase {info['phase']}" if info.get("phase") not in (None, "finetune") else ""
    return (
        f"validation {info['metric']} still rose in the last epoch{phase} "
        f"({info['best_before']:.3f} before, {info['last']:.3f} at epoch {info['epochs']} of "
        f"{info['epochs']}): the model may be undertrained; raise train.epochs (early stopping "
        "keeps the best epoch) before comparing remedies on it"
    )


def stop_reason(history: Sequence[Mapping[str, Any]], *, stopped_early: bool, patience: Any) -> str:
    """Why the last phase stopped, in one line: its epochs and steps, the reason, the epoch kept."""
    phase = history[-1].get("phase") if history else None
    entries = [e for e in history if e.get("phase") == phase]
    if not entries:
        return "no epoch ran"
    last = entries[-1]
    best = max(entries, key=lambda e: e.get("val_score", -math.inf))
    reason = (
        f"early stopping (no better validation score in {patience} epochs)"
        if stopped_early
        else "the epoch or step budget (train.epochs, train.max_steps) ran out"
    )
    return (
        f"{last['epoch']} epochs, {last['step']} steps: {reason}; weights of epoch "
        f"{best['epoch']} kept (validation score {best['val_score']:.4f})"
    )
