"""The decision fitted on validation after training: logit adjustment, calibration, thresholds.

Order matters (see :mod:`longtail.decision.probability_map`): the logit adjustment first, the
calibration on the adjusted logits, the thresholds on the *calibrated* probabilities, so the saved
model applies ``apply_thresholds(ProbabilityMap(logits), thresholds)`` exactly as it was tuned.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from safetensors.numpy import load, save

from longtail.decision.calibration import fit_temperature, probabilities
from longtail.decision.isotonic import check_isotonic_validation, fit_isotonic
from longtail.decision.logit_adjust import (
    LogitAdjustment,
    prior_offsets,
    prior_shift,
    tune_tau,
)
from longtail.decision.objectives import SCORE_OBJECTIVES
from longtail.decision.probability_map import ProbabilityMap
from longtail.decision.thresholds import default_thresholds, tune_thresholds_detailed
from longtail.decision.tuning_check import cross_fitted_check
from longtail.errors import LongtailError
from longtail.io_utils import atomic_write_bytes

if TYPE_CHECKING:
    from longtail.config import DecisionConfig


@dataclass(frozen=True)
class FittedDecision:
    """What a run saves to decide on new rows.

    Attributes:
        temperature: the calibration temperature (1.0 when ``decision.calibrate`` is off).
        thresholds: the decision parameters of :mod:`longtail.decision.thresholds`.
        fallback: names whose threshold fell back under SCutFBR.1 (Yang 2001).
        untuned: names left at the default decision (no positive validation example).
        mapping: logits to calibrated probabilities (``None``: ``temperature`` alone).
        check: the cross-fitted check of the tuned thresholds
            (:class:`~longtail.decision.tuning_check.TuningCheck` as a dict; ``None``: not run).
            When it did not keep them, ``thresholds`` are the defaults.
    """

    temperature: float
    thresholds: np.ndarray
    fallback: list[str]
    untuned: list[str]
    mapping: ProbabilityMap | None = None
    check: dict | None = None

    def probabilities(self, task: str, logits: np.ndarray) -> np.ndarray:
        """The calibrated probabilities the thresholds were tuned on."""
        if self.mapping is None:
            return probabilities(logits, task, temperature=self.temperature)
        return self.mapping(logits)

    def uncalibrated(self, task: str, logits: np.ndarray) -> np.ndarray:
        """The probabilities before calibration (after any logit adjustment)."""
        if self.mapping is None:
            return probabilities(logits, task)
        return self.mapping.uncalibrated(logits)


def check_decision_data(
    config: DecisionConfig, task: str, y_val: np.ndarray, num_classes: int
) -> None:
    """Refuse, before training, a validation split the configured decision cannot be fitted on
    (isotonic maps need a few validation examples per class)."""
    if config.calibrate == "isotonic":
        check_isotonic_validation(task, y_val, num_classes)


def fit_decision(
    task: str,
    logits: np.ndarray,
    y: np.ndarray,
    names: Sequence[str],
    config: DecisionConfig,
    train_counts: np.ndarray | None = None,
    train_rows: int | None = None,
    *,
    model_priors: np.ndarray | None = None,
) -> FittedDecision:
    """Fit the logit adjustment (Menon et al. 2021, arXiv 2007.07314), the calibration (a
    temperature, Guo et al. 2017, arXiv 1706.04599, or isotonic maps, Zadrozny & Elkan 2002)
    on the adjusted logits, then tune the thresholds on the calibrated probabilities, as
    ``config`` (``decision.*``) says. ``train_counts`` (per-class training documents) and
    ``train_rows`` give the priors the logit adjustment needs; ``model_priors`` (the priors the
    model's probabilities reflect after its remedies, :mod:`longtail.decision.model_priors`) are
    where ``decision.target_priors`` shifts from (default: the training counts' shares)."""
    if config.target_priors is not None:
        return _shifted_decision(task, logits, y, names, config, train_counts, model_priors)
    adjust = _fit_logit_adjustment(task, logits, y, config, train_counts, train_rows)
    z = adjust.apply(logits) if adjust is not None else logits
    calibration = config.calibrate
    temperature = fit_temperature(z, y, task) if calibration == "temperature" else 1.0
    isotonic = fit_isotonic(task, probabilities(z, task), y) if calibration == "isotonic" else None
    mapping = ProbabilityMap(task, float(temperature), calibration, isotonic, adjust)
    if not config.tune_thresholds:
        thresholds = default_thresholds(task, len(names))
        return FittedDecision(float(temperature), thresholds, [], [], mapping)
    probs = mapping(logits)

    def tune(y_part: np.ndarray, probs_part: np.ndarray):
        return tune_thresholds_detailed(
            task, y_part, probs_part, objective=config.objective, beta=config.beta,
            floor=config.floor, fbr=config.resolved_fbr(task),
        )  # fmt: skip

    tuning = tune(y, probs)
    check = None
    if config.resolved_tuning_check(task) and config.objective in SCORE_OBJECTIVES:
        check = cross_fitted_check(
            task, y, probs, lambda a, b: tune(a, b).thresholds, config.objective, config.beta,
            confidence=config.tuning_confidence,
        )  # fmt: skip
    if check is not None and not check.kept:
        return FittedDecision(
            float(temperature), default_thresholds(task, len(names)), [], [], mapping,
            check.to_json(),
        )  # fmt: skip
    return FittedDecision(
        temperature=float(temperature),
        thresholds=np.asarray(tuning.thresholds),
        fallback=[names[c] for c in tuning.fallback if c < len(names)],
        untuned=[names[c] for c in tuning.untuned if c < len(names)],
        mapping=mapping,
        check=None if check is None else check.to_json(),
    )


def _shifted_decision(
    task: str,
    logits: np.ndarray,
    y: np.ndarray,
    names: Sequence[str],
    config: DecisionConfig,
    train_counts: np.ndarray | None,
    model_priors: np.ndarray | None,
) -> FittedDecision:
    """``decision.target_priors``: calibrate on validation (drawn with the training priors), then
    shift the calibrated probabilities to the target priors; argmax / 0.5 decides.

    The map applies the shift before the temperature, so the offsets are stored times the
    temperature: ``softmax((z - T o) / T) = softmax(z / T - o)``, the shift of the calibrated
    probabilities. Isotonic maps are refused with target priors by the config: fitted to the
    validation's frequencies, they would map the shift back.
    """
    if train_counts is None:
        raise LongtailError(
            "decision.target_priors needs the training class counts; this decision has none "
            "(unset decision.target_priors, or retrain)"
        )
    shift = prior_shift(task, names, train_counts, config.target_priors, model_priors)
    temperature = fit_temperature(logits, y, task) if config.calibrate == "temperature" else 1.0
    adjust = replace(shift, offsets=shift.offsets * float(temperature))
    mapping = ProbabilityMap(task, float(temperature), config.calibrate, None, adjust)
    return FittedDecision(float(temperature), default_thresholds(task, len(names)), [], [], mapping)


def _fit_logit_adjustment(
    task: str,
    logits: np.ndarray,
    y: np.ndarray,
    config: DecisionConfig,
    train_counts: np.ndarray | None,
    train_rows: int | None,
) -> LogitAdjustment | None:
    """``decision.logit_adjust``: ``None`` when off, a fixed or a validation-tuned ``tau``."""
    setting = config.logit_adjust
    if setting == "none":
        return None
    if train_counts is None or train_rows is None:
        raise LongtailError(
            "decision.logit_adjust needs the training class counts; this decision has none "
            "(set decision.logit_adjust=none, or retrain)"
        )
    offsets = prior_offsets(task, train_counts, train_rows)
    if setting == "tuned":
        tau = tune_tau(task, logits, y, offsets, config.objective, config.beta, config.floor)
        return LogitAdjustment(tau, offsets, tuned=True)
    return LogitAdjustment(float(setting), offsets)


@dataclass(frozen=True)
class DecisionInputs:
    """The uncalibrated logits and labels a decision is fitted on (validation) and scored on
    (test, when the run has one): all a different ``decision.*`` needs, without retraining."""

    val_logits: np.ndarray
    val_y: np.ndarray
    test_logits: np.ndarray | None = None
    test_y: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        """What the arrays take in memory, about their size on disk."""
        return sum(value.nbytes for value in vars(self).values() if value is not None)


def save_decision_inputs(inputs: DecisionInputs, path: str | os.PathLike[str]) -> Path:
    """Write ``inputs`` to ``path`` as safetensors, atomically."""
    arrays = {
        name: np.ascontiguousarray(value)
        for name, value in vars(inputs).items()
        if value is not None
    }
    return atomic_write_bytes(path, save(arrays))


def load_decision_inputs(path: str | os.PathLike[str]) -> DecisionInputs:
    """Read what :func:`save_decision_inputs` wrote (safetensors: no code is unpickled)."""
    arrays = load(Path(path).read_bytes())
    return DecisionInputs(**arrays)
