"""Fuse the lexical branch into a trained model: its weight chosen on validation (``lexical``).

After training, the run has the model's validation logits and the anchor's TF-IDF + logistic
regression fitted on the same training split (:func:`longtail.evaluation.anchor.fit_anchor`).
``lexical: auto`` scores the fused validation logits (:func:`longtail.models.lexical.fuse_logits`)
at each weight of :data:`WEIGHTS` with the score early stopping used — the shipped decision,
fitted on those logits, scored by ``train.early_stopping_metric`` — and keeps the best; a tie goes
to the smaller weight, so the branch must earn its place. A number fixes the weight. The decision
is then fitted on the fused logits, and the model directory keeps the branch (arrays, no pickle)
so that ``predict``, ``evaluate`` and ``decide`` fuse the same way.

Choosing one number among eleven on validation is as optimistic as choosing the epoch there
(both are told by the same rows); the test rows of docs/benchmarks.md ("A TF-IDF branch fused
into the model") are what says whether it pays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from longtail.models.lexical import LexicalModel, fuse_logits

#: The weights ``lexical: auto`` tries, model alone first.
WEIGHTS = tuple(round(0.1 * step, 1) for step in range(11))


@dataclass
class Fusion:
    """What the run fused: the weight, how it was chosen, the validation score per weight."""

    weight: float
    chosen_by: str
    scores: dict[float, float] = field(default_factory=dict)

    def meta(self, branch: LexicalModel) -> dict[str, object]:
        """The ``lexical`` record of ``longtail.json`` and the report."""
        return {
            "weight": self.weight,
            "chosen_by": self.chosen_by,
            "validation_scores": {str(w): round(s, 6) for w, s in self.scores.items()},
            "train_rows": branch.train_rows,
            "ngrams": len(branch.features.vocabulary),
        }


def choose_fusion(
    setting: str | float,
    task: str,
    model_logits: np.ndarray,
    branch_logits: np.ndarray,
    score: Callable[[np.ndarray], float],
    metric: str,
) -> Fusion:
    """The weight ``setting`` asks for: fixed, or (``"auto"``) the best validation ``score``."""
    if setting != "auto":
        return Fusion(float(setting), "fixed by the lexical setting")
    scores = {w: score(fuse_logits(task, model_logits, branch_logits, w)) for w in WEIGHTS}
    best = max(scores.values())
    weight = min(w for w, s in scores.items() if s == best)
    return Fusion(weight, f"best validation {metric} of the shipped decision", scores)


def fusion_line(fusion: Fusion, metric: str) -> str:
    """One log line: the weight and what the model alone and the branch alone scored."""
    if not fusion.scores:
        return f"lexical branch: weight {fusion.weight} (fixed)"
    alone, branch = fusion.scores[0.0], fusion.scores[1.0]
    verdict = (
        "the model alone is best; nothing fused"
        if fusion.weight == 0.0
        else f"weight {fusion.weight} ({fusion.scores[fusion.weight]:.4f})"
    )
    return (
        f"lexical branch: validation {metric} model alone {alone:.4f}, branch alone "
        f"{branch:.4f}; {verdict}"
    )
