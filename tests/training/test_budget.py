"""The training budget: fixed epochs as before, or to convergence with min_steps and a maximum."""

from __future__ import annotations

import math

import numpy as np
import pytest

from longtail.config import TrainConfig
from longtail.errors import LongtailError
from longtail.losses import build_loss
from longtail.training.budget import STOP_REASONS, training_budget


def _former(epochs: int, steps_per_epoch: int, max_steps: int | None, warmup_ratio: float):
    """The loop's arithmetic before training to convergence existed (epochs, total, warm-up)."""
    total = max_steps or steps_per_epoch * epochs
    return min(epochs, math.ceil(total / steps_per_epoch)), total, int(round(total * warmup_ratio))


@pytest.mark.parametrize("epochs", [1, 3, 7])
@pytest.mark.parametrize("steps_per_epoch", [1, 8, 75])
@pytest.mark.parametrize("max_steps", [None, 5, 100])
def test_fixed_epochs_keep_the_former_schedule(epochs, steps_per_epoch, max_steps):
    config = TrainConfig(epochs=epochs, max_steps=max_steps)
    budget = training_budget(config, steps_per_epoch)
    assert (budget.epochs, budget.total_steps, budget.warmup_steps) == _former(
        epochs, steps_per_epoch, max_steps, config.warmup_ratio
    )
    assert budget.min_steps == 0 and not budget.to_convergence and budget.patience == 2


@pytest.mark.parametrize("steps_per_epoch", [1, 7, 75, 1000])
def test_convergence_warms_up_as_long_as_the_former_default_and_decays_at_the_maximum(
    steps_per_epoch,
):
    budget = training_budget(TrainConfig(), steps_per_epoch)
    former = training_budget(TrainConfig(epochs=3), steps_per_epoch)
    assert budget.warmup_steps == former.warmup_steps
    assert (budget.epochs, budget.total_steps) == (100, 100 * steps_per_epoch)
    assert (budget.min_steps, budget.patience, budget.to_convergence) == (500, 3, True)


def test_convergence_budget_is_capped_by_max_epochs_and_max_steps():
    assert training_budget(TrainConfig(max_epochs=7), 10).total_steps == 70
    capped = training_budget(TrainConfig(max_steps=250), 10)
    assert (capped.epochs, capped.total_steps) == (25, 250)
    short = training_budget(TrainConfig(max_steps=12, warmup_ratio=0.5), 10)
    assert short.warmup_steps == 6  # a share of max_steps when it is below 3 epochs


def test_early_stopping_waits_for_min_steps_and_patience():
    budget = training_budget(TrainConfig(min_steps=500), 10)
    assert not budget.should_stop(bad_epochs=2, step=900)
    assert not budget.should_stop(bad_epochs=3, step=490)
    assert budget.should_stop(bad_epochs=3, step=500)
    assert budget.should_stop(bad_epochs=0, step=10, best_score=1.0)  # nothing can beat it
    never = training_budget(TrainConfig(patience=None), 10)
    assert not never.should_stop(bad_epochs=99, step=10_000)
    fixed = training_budget(TrainConfig(epochs=3, min_steps=500), 10)
    assert fixed.should_stop(bad_epochs=2, step=20)  # min_steps is for convergence only
    assert not fixed.should_stop(bad_epochs=0, step=10, best_score=1.0)  # fixed runs as before


def test_why_stopped_names_each_reason():
    converge, fixed = training_budget(TrainConfig(), 10), training_budget(TrainConfig(epochs=3), 10)
    assert converge.why_stopped(step=600, stopped_early=True) == "early_stopping"
    assert converge.why_stopped(step=60, stopped_early=True, best_score=1.0) == "perfect_score"
    assert converge.why_stopped(step=1000, stopped_early=False) == "max_epochs"
    assert fixed.why_stopped(step=30, stopped_early=False) == "epochs"
    capped = training_budget(TrainConfig(epochs=3, max_steps=20), 10)
    assert capped.why_stopped(step=20, stopped_early=False) == "max_steps"
    reasons = {converge.why_stopped(step=600, stopped_early=True), "max_steps", "epochs"}
    assert reasons <= set(STOP_REASONS)
    assert converge.epoch_label(4) == "4 (of at most 100)" and fixed.epoch_label(2) == "2/3"


def test_a_loss_switching_on_at_a_fraction_of_the_epochs_needs_fixed_epochs():
    class Deferred:
        needs_epoch_count = True

    training_budget(TrainConfig(epochs=6), 10).check_loss(Deferred())
    training_budget(TrainConfig(), 10).check_loss(object())
    with pytest.raises(LongtailError, match=r"set train.epochs \(e.g. --epochs 6\)"):
        training_budget(TrainConfig(), 10).check_loss(Deferred())
    counts = np.array([90, 9, 1])
    ldam = build_loss("ldam", task="multiclass", class_counts=counts, num_docs=100)
    plain = build_loss({"name": "ldam", "drw_start": None}, task="multiclass",
                       class_counts=counts, num_docs=100)  # fmt: skip
    assert ldam.needs_epoch_count and not plain.needs_epoch_count


def test_early_stopping_keeps_the_first_best_epoch_and_stops_after_patience():
    from longtail.training.budget import EarlyStopping

    stopping = EarlyStopping(training_budget(TrainConfig(patience=2, min_steps=0), 10))
    assert stopping.update(1, 0.5) and stopping.best_epoch == 1
    assert not stopping.update(2, 0.5)  # a tie does not replace the best
    assert not stopping.check(step=20)
    assert stopping.update(3, 0.6) and stopping.bad_epochs == 0
    assert not stopping.update(4, 0.4) and not stopping.update(5, 0.59)
    assert stopping.check(step=50) and stopping.best_epoch == 3 and stopping.best_score == 0.6
    assert stopping.note() == "no improvement for 2 epochs"
    assert stopping.reason(50) == "early_stopping"
    assert stopping.check(step=60)  # once stopped, it stays stopped


def test_early_stopping_on_a_perfect_score_says_so():
    from longtail.training.budget import EarlyStopping

    stopping = EarlyStopping(training_budget(TrainConfig(min_steps=500), 10))
    stopping.update(1, 1.0)
    assert stopping.check(step=10)
    assert "perfect validation score (1)" in stopping.note()
    assert stopping.reason(10) == "perfect_score"
