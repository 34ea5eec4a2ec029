"""Did a run stop while its validation score was still rising?

A run whose last epoch is its best by a clear margin stopped on its epoch budget, not on early
stopping: the model may still be learning. Remedies compared on such models measure what they do
to a model that has not learnt its task yet. On the R52 sample of the short-budget grids (``docs/benchmarks.md`` at commit 4e50fb3) two
epochs (58 steps) left every variant undertrained: the loss weights, the decision and the samplers
moved macro-F1 by up to 0.25, training 22x longer moved it by 0.5-0.6. The training report, the
log and ``longtail compare`` say so when it happens (:func:`still_improving`). Training to
convergence (the default, :mod:`longtail.training.budget`) stops on early stopping, so it is
flagged only when its maximum budget ran out while the score still rose; fixed ``train.epochs``
are flagged as before. :func:`stop_reason` says in one line why a run stopped.

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
    if not history or "l2" in history[-1]:
        return None  # nothing, or a solved linear probe: its entries are l2 values, not epochs
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
        f"{info['epochs']}): the model may be undertrained; raise train.epochs, or "
        "train.max_epochs / train.max_steps when it trains to convergence (early stopping "
        "keeps the best epoch), before comparing remedies on it"
    )


def stop_reason(
    history: Sequence[Mapping[str, Any]],
    *,
    stopped_early: bool,
    patience: Any,
    stop: str | None = None,
    min_steps: int | None = None,
    max_epochs: int | None = None,
    max_steps: int | None = None,
    start_kept: float | None = None,
) -> str:
    """Why the last phase stopped, in one line: its epochs and steps, the reason, the epoch kept.

    Args:
        history: the training history (the last phase's entries are read).
        stopped_early: whether early stopping ended the phase (older records have only this).
        patience: ``train.patience``.
        stop: the phase's reason, one of :data:`longtail.training.budget.STOP_REASONS`; ``None``
            (a record written before it existed) says only early stopping or "the budget".
        min_steps / max_epochs / max_steps: the budget's numbers, named in the line.
        start_kept: the validation score of the phase's starting weights when no epoch beat
            them (a ``keep_start`` phase, e.g. fine-tuning after the probe of ``auto``).
    """
    phase = history[-1].get("phase") if history else None
    entries = [e for e in history if e.get("phase") == phase]
    if not entries:
        return "no epoch ran"
    last = entries[-1]
    best = max(entries, key=lambda e: e.get("val_score", -math.inf))
    after = f", after at least {min_steps} steps" if min_steps else ""
    reasons = {
        "early_stopping": f"early stopping (no better validation score in {patience} epochs{after})",
        "perfect_score": "a perfect validation score, which no later epoch can beat",
        "epochs": "the fixed epochs (train.epochs) ran out",
        "max_epochs": (
            f"the budget of train.max_epochs{f' ({max_epochs})' if max_epochs else ''} ran out "
            + (
                "(no early stopping: train.patience is null)"
                if patience is None
                else "before early stopping: the score was still improving within the patience"
            )
        ),
        "max_steps": f"the step budget (train.max_steps{f' {max_steps}' if max_steps else ''}) ran out",
        "solved": "the linear probe was solved by L-BFGS for each l2 of its path (one 'epoch' "
        "per l2, steps are L-BFGS iterations)",
    }
    if stop is None:
        stop = "early_stopping" if stopped_early else None
    reason = reasons.get(
        stop or "", "the epoch or step budget (train.epochs, train.max_steps) ran out"
    )
    steps = f", {last['step']} steps" if "step" in last else ""
    if start_kept is not None:
        return (
            f"{last['epoch']} epochs{steps}: {reason}; no epoch beat the starting weights, which "
            f"are kept (validation score {start_kept:.4f})"
        )
    kept = f" (validation score {best['val_score']:.4f})" if "val_score" in best else ""
    return f"{last['epoch']} epochs{steps}: {reason}; weights of epoch {best['epoch']} kept{kept}"
