"""How long a phase trains: its epoch and step budget, its warm-up, and when it stops.

Two modes (``train.epochs``, see :class:`~longtail.config.TrainConfig`):

* **fixed** (``epochs=N``): N epochs (fewer when ``max_steps`` runs out first), warm-up over
  ``warmup_ratio`` of the steps, linear decay to zero at the last step, early stopping after
  ``patience`` epochs without a better validation score. Exactly the schedule longtail had before
  training to convergence became the default, so a run with ``epochs=N`` gives what it gave.
* **to convergence** (``epochs`` unset): early stopping decides, but not before ``min_steps``
  optimizer steps and not after ``max_epochs`` epochs or ``max_steps`` steps. The learning rate
  warms up over ``warmup_ratio`` × the steps of :data:`WARMUP_EPOCHS` epochs — as long as the
  former 3-epoch default's warm-up, which is what the encoders were tuned with — and decays
  linearly to zero at the maximum budget. The schedule cannot depend on where early stopping
  will end (that is not known in advance), and tying it to the budget keeps it a function of
  the config and the data size alone, so ``--resume`` rebuilds the same schedule. With the
  default budget (100 epochs) the rate is still above 85 % of its peak at epoch 15: training to
  convergence trains at a nearly constant rate, and early stopping picks the epoch.

Pure arithmetic, standard library only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from longtail.errors import LongtailError

#: Warm-up in convergence mode lasts ``warmup_ratio`` × the steps of this many epochs.
WARMUP_EPOCHS = 3

#: Why a phase stopped (``TrainingResult.stop``): early stopping; a perfect validation score when
#: training to convergence; the fixed ``train.epochs`` ran out; the maximum budget of training to
#: convergence (``train.max_epochs``) ran out before early stopping; ``train.max_steps`` ran out
#: (either mode); the linear probe was solved along its L2 path (``solver="lbfgs"``, no epochs).
STOP_REASONS = ("early_stopping", "perfect_score", "epochs", "max_epochs", "max_steps", "solved")

#: Every early-stopping metric is at most 1 (F-scores, MCC, PR-/ROC-AUC, accuracies), and an epoch
#: replaces the best one only with a strictly higher score: once the best reaches this, no later
#: epoch can be kept.
PERFECT_SCORE = 1.0


@dataclass(frozen=True)
class TrainingBudget:
    """The numbers the loop runs by.

    Attributes:
        epochs: the most epochs the phase may run.
        total_steps: the most optimizer steps, and where the learning rate reaches zero.
        warmup_steps: steps of linear warm-up.
        min_steps: early stopping may not stop before this many steps (0 with fixed epochs).
        patience: epochs without a better validation score before stopping (``None``: never).
        to_convergence: ``True`` when ``train.epochs`` is unset.
        max_steps: ``train.max_steps`` (``None``: no step cap).
    """

    epochs: int
    total_steps: int
    warmup_steps: int
    min_steps: int
    patience: int | None
    to_convergence: bool
    max_steps: int | None = None

    def should_stop(self, *, bad_epochs: int, step: int, best_score: float = -math.inf) -> bool:
        """Early stopping after an epoch: ``patience`` epochs without a better score, and (to
        convergence) at least ``min_steps`` steps done. To convergence, also a perfect best score
        (:data:`PERFECT_SCORE`): ``min_steps`` would only add epochs that cannot be kept (a toy
        set separated in its first epoch trained 72 epochs for nothing). Fixed epochs run out as
        before."""
        if self.is_perfect(best_score):
            return True
        if self.patience is None or bad_epochs < self.patience:
            return False
        return step >= self.min_steps

    def is_perfect(self, best_score: float) -> bool:
        """Whether training to convergence stops on a perfect best score."""
        return self.to_convergence and best_score >= PERFECT_SCORE

    def why_stopped(self, *, step: int, stopped_early: bool, best_score: float = -math.inf) -> str:
        """One of :data:`STOP_REASONS` for a phase that ended at ``step``."""
        if stopped_early:
            return "perfect_score" if self.is_perfect(best_score) else "early_stopping"
        if self.max_steps is not None and step >= self.max_steps:
            return "max_steps"
        return "max_epochs" if self.to_convergence else "epochs"

    def epoch_label(self, epoch: int) -> str:
        """``3/5`` with fixed epochs, ``3 (of at most 100)`` when training to convergence."""
        return (
            f"{epoch} (of at most {self.epochs})"
            if self.to_convergence
            else f"{epoch}/{self.epochs}"
        )

    def check_loss(self, loss_fn: Any) -> None:
        """Refuse a loss that switches on at a fraction of the epochs (LDAM's deferred
        re-weighting, ``needs_epoch_count``) when training to convergence: there is no epoch
        count, and a fraction of ``max_epochs`` would start it after early stopping ended the
        run."""
        if self.to_convergence and getattr(loss_fn, "needs_epoch_count", False):
            raise LongtailError(
                "the loss re-weights from a fraction of train.epochs (ldam's drw_start), and "
                "train.epochs is unset (train to convergence); set train.epochs (e.g. --epochs "
                "6), or loss.drw_start=null, or use --strategy drw (re-weighting after "
                "convergence)"
            )


def training_budget(config: Any, steps_per_epoch: int) -> TrainingBudget:
    """The budget of a phase trained with ``config`` (a :class:`~longtail.config.TrainConfig`)
    on ``steps_per_epoch`` optimizer steps per epoch."""
    steps_per_epoch = max(1, steps_per_epoch)
    if config.epochs is not None:  # fixed: the schedule longtail always had
        total = config.max_steps or steps_per_epoch * config.epochs
        return TrainingBudget(
            epochs=min(config.epochs, math.ceil(total / steps_per_epoch)),
            total_steps=total,
            warmup_steps=int(round(total * config.warmup_ratio)),
            min_steps=0,
            patience=config.patience,
            to_convergence=False,
            max_steps=config.max_steps,
        )
    cap = steps_per_epoch * config.max_epochs
    total = min(cap, config.max_steps) if config.max_steps else cap
    # the former default's warm-up: a share of 3 epochs' steps, or of max_steps when fewer
    warmup_span = min(steps_per_epoch * WARMUP_EPOCHS, total)
    return TrainingBudget(
        epochs=min(config.max_epochs, math.ceil(total / steps_per_epoch)),
        total_steps=total,
        warmup_steps=int(round(warmup_span * config.warmup_ratio)),
        min_steps=config.min_steps,
        patience=config.patience,
        to_convergence=True,
        max_steps=config.max_steps,
    )


@dataclass
class EarlyStopping:
    """The best validation score so far, the epoch that made it, and how long since.

    :meth:`update` takes each epoch's score (an epoch replaces the best only with a strictly
    higher one); :meth:`check` asks the budget whether to stop after the step count reached.
    """

    budget: TrainingBudget
    best_score: float = -math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    stopped: bool = False

    def update(self, epoch: int, score: float) -> bool:
        """Record ``epoch``'s validation ``score``; whether it is the new best."""
        if score > self.best_score:
            self.best_score, self.best_epoch, self.bad_epochs = score, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    def check(self, step: int) -> bool:
        """Whether training stops here (:meth:`TrainingBudget.should_stop`); remembered."""
        self.stopped = self.stopped or self.budget.should_stop(
            bad_epochs=self.bad_epochs, step=step, best_score=self.best_score
        )
        return self.stopped

    def note(self) -> str:
        """What stopped it, for the log line."""
        if self.budget.is_perfect(self.best_score):
            return f"a perfect validation score ({self.best_score:g}) cannot be beaten"
        return f"no improvement for {self.bad_epochs} epochs"

    def reason(self, step: int) -> str:
        """One of :data:`STOP_REASONS` for a phase that ended at ``step``."""
        return self.budget.why_stopped(
            step=step, stopped_early=self.stopped, best_score=self.best_score
        )
