"""From logits to the probabilities a saved model decides on, in one fixed order.

``logits -> logit adjustment -> softmax/sigmoid(. / T) -> isotonic maps -> thresholds``

1. **Post-hoc logit adjustment** (Menon et al. 2021, arXiv 2007.07314) first: it is a change of
   the decision rule (which class wins), so everything after it treats the adjusted logits as
   the model's logits.
2. **Calibration** second, fitted on the adjusted validation logits: a temperature (Guo et al.
   2017, arXiv 1706.04599) then rescales the adjusted logits without changing their argmax, or
   isotonic maps (Zadrozny & Elkan 2002) make the adjusted probabilities match the validation
   frequencies. Isotonic maps are fitted on the validation distribution, so for multiclass they
   can pull an adjusted argmax back toward the head classes; the tuned thresholds that follow
   decide on the calibrated probabilities either way.
3. **Thresholds** last, tuned on the calibrated probabilities (:func:`fit_decision`).

``longtail.json`` records it as ``temperature``, ``calibration``, ``isotonic`` and
``logit_adjust``; a file without the last three (older longtail) means temperature scaling only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from longtail.decision.calibration import probabilities
from longtail.decision.isotonic import IsotonicCalibration
from longtail.decision.logit_adjust import LogitAdjustment

#: ``decision.calibrate`` values.
CALIBRATIONS = ("temperature", "isotonic", "none")


@dataclass(frozen=True)
class ProbabilityMap:
    """The fitted steps 1 and 2 of the module docstring for one task."""

    task: str
    temperature: float = 1.0
    calibration: str = "temperature"
    isotonic: IsotonicCalibration | None = None
    logit_adjust: LogitAdjustment | None = None

    def __call__(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities ``(n, C)`` of raw ``logits``."""
        z = self.logit_adjust.apply(logits) if self.logit_adjust is not None else logits
        probs = probabilities(z, self.task, temperature=self.temperature)
        return self.isotonic.apply(self.task, probs) if self.isotonic is not None else probs

    def uncalibrated(self, logits: np.ndarray) -> np.ndarray:
        """The probabilities before calibration (after the logit adjustment), for the
        reliability figure."""
        z = self.logit_adjust.apply(logits) if self.logit_adjust is not None else logits
        return probabilities(z, self.task)

    def meta_fields(self) -> dict[str, Any]:
        """The ``longtail.json`` fields that describe this map."""
        return {
            "temperature": float(self.temperature),
            "calibration": self.calibration,
            "isotonic": self.isotonic.to_json() if self.isotonic is not None else None,
            "logit_adjust": self.logit_adjust.to_json() if self.logit_adjust is not None else None,
        }

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> ProbabilityMap:
        """The map a ``longtail.json`` (validated) describes; older files: temperature only."""
        isotonic = meta.get("isotonic")
        adjust = meta.get("logit_adjust")
        return cls(
            task=meta["task"],
            temperature=float(meta.get("temperature", 1.0)),
            calibration=meta.get("calibration") or "temperature",
            isotonic=IsotonicCalibration.from_json(isotonic) if isotonic else None,
            logit_adjust=LogitAdjustment.from_json(adjust) if adjust else None,
        )


def decision_summary(meta: Mapping[str, Any]) -> dict[str, Any]:
    """What a report says was applied before the thresholds, from a ``longtail.json``:
    ``calibration``, ``logit_adjust`` (``tau`` and whether it was tuned, or ``None``) and
    ``isotonic_uncalibrated`` (the classes isotonic calibration left as they were)."""
    names = list(meta["labels"]["names"])
    isotonic = meta.get("isotonic") or {}
    adjust = meta.get("logit_adjust")
    left = [int(c) for c in isotonic.get("uncalibrated") or []]
    return {
        "calibration": meta.get("calibration") or "temperature",
        "logit_adjust": _adjustment_summary(adjust, names) if adjust else None,
        "isotonic_uncalibrated": [names[c] for c in left if c < len(names)],
    }


def _adjustment_summary(adjust: Mapping[str, Any], names: list[str]) -> dict[str, Any]:
    """``tau`` and whether it was tuned; the target priors by label for a prior shift."""
    summary = {"tau": float(adjust["tau"]), "tuned": bool(adjust.get("tuned"))}
    if adjust.get("target_priors") is not None:
        summary["target_priors"] = dict(zip(names, adjust["target_priors"], strict=True))
    return summary
