"""The decision fitted on validation after training: a temperature, then tuned thresholds.

Order matters: thresholds are tuned on the *calibrated* probabilities, so the saved model applies
``apply_thresholds(probabilities(logits, T), thresholds)`` exactly as it was tuned.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from safetensors.numpy import load, save

from longtail.decision.calibration import fit_temperature, probabilities
from longtail.decision.thresholds import default_thresholds, tune_thresholds_detailed
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
