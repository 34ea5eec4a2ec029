"""Whether a run stopped while still learning: the rule, and the line users read."""

from __future__ import annotations

import math

import pytest

from longtail.evaluation.convergence import MIN_GAIN, still_improving, still_improving_note


def _history(*scores: float, phase: str = "finetune") -> list[dict]:
    return [{"epoch": i, "val_score": s, "phase": phase} for i, s in enumerate(scores, start=1)]


def test_a_last_epoch_that_beats_every_earlier_one_by_a_point_is_still_learning():
    info = still_improving(_history(0.22, 0.46), "f1_macro")  # R52's default, seed 0, at 2 epochs
    assert info == {"metric": "f1_macro", "phase": "finetune", "epochs": 2, "best_before": 0.22,
                    "last": 0.46}  # fmt: skip
    # compared with the best earlier epoch, not the previous one
    assert still_improving(_history(0.5, 0.3, 0.505), "mcc") is None
    assert still_improving(_history(0.5, 0.3, 0.52), "mcc")["best_before"] == 0.5


@pytest.mark.parametrize(
    "scores",
    [
        (0.40, 0.40 + MIN_GAIN / 2),  # a plateau: converged
        (0.40, 0.60, 0.55),  # the best epoch is not the last: early stopping's job
        (0.40,),  # one epoch: nothing to compare with
        (0.40, math.nan),
        (math.nan, 0.9),
    ],
)
def test_converged_runs_and_runs_it_cannot_judge_are_not_flagged(scores):
    assert still_improving(_history(*scores), "f1_macro") is None


def test_only_the_last_phase_counts_and_a_history_without_scores_says_nothing():
    # LP-FT: the probe rose to its end, the fine-tune (whose weights are the model) peaked early
    history = _history(0.1, 0.3, phase="linear_probe") + _history(0.5, 0.7, 0.65)
    assert still_improving(history, "f1_macro") is None
    history = _history(0.6, 0.5, phase="linear_probe") + _history(0.5, 0.7)
    assert still_improving(history, "f1_macro")["epochs"] == 2
    assert still_improving([], "f1_macro") is None
    assert still_improving([{"epoch": 1, "score": 0.4}, {"epoch": 2, "score": 0.9}], "m") is None


def test_the_note_names_the_metric_the_rise_and_the_fix():
    note = still_improving_note(still_improving(_history(0.219, 0.456), "f1_macro"))
    assert note.startswith("validation f1_macro still rose in the last epoch (0.219 before, 0.456")
    assert "at epoch 2 of 2" in note and "raise train.epochs" in note and "phase" not in note
    assert "train.max_epochs / train.max_steps when it trains to convergence" in note
    history = _history(0.2, phase="probe") + _history(0.3, 0.4, 0.5, phase="fine_tune")
    assert "last epoch of phase fine_tune (0.400 before, 0.500 at epoch 3 of 3)" in (
        still_improving_note(still_improving(history, "mcc"))
    )
