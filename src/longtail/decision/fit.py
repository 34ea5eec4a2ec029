"""The decision fitted on validation after training: a temperature, then tuned thresholds.

Order matters: thresholds are tuned on the *calibrated* probabilities, so the saved model applies
``apply_thresholds(probabilities(logits, T), thresholds)`` exactly as it was tuned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from longtail.decision.calibration import fit_temperature, probabilities
from longtail.decision.thresholds import default_thresholds, tune_thresholds_detailed

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
    """

    temperature: float
    thresholds: np.ndarray
    fallback: list[str]
    untuned: list[str]


def fit_decision(
    task: str, logits: np.ndarray, y: np.ndarray, names: Sequence[str], config: DecisionConfig
) -> FittedDecision:
    """Fit the temperature (Guo et al. 2017, arXiv 1706.04599), then tune the thresholds on the
    calibrated probabilities, as ``config`` (``decision.*``) says."""
    temperature = fit_temperature(logits, y, task) if config.calibrate else 1.0
    if not config.tune_thresholds:
        return FittedDecision(float(temperature), default_thresholds(task, len(names)), [], [])
    tuning = tune_thresholds_detailed(
        task,
        y,
        probabilities(logits, task, temperature=temperature),
        objective=config.objective,
        beta=config.beta,
        floor=config.floor,
        fbr=config.resolved_fbr(task),
    )
    return FittedDecision(
        temperature=float(temperature),
        thresholds=np.asarray(tuning.thresholds),
        fallback=[names[c] for c in tuning.fallback if c < len(names)],
        untuned=[names[c] for c in tuning.untuned if c < len(names)],
    )
