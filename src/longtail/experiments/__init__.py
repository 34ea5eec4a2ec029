"""Experiments: variants × seeds × folds, and the statistics that compare them.

``load_experiment`` reads the experiment file (:mod:`.spec`), ``run_comparison`` trains every
missing cell and writes the summary (:mod:`.runner`, :mod:`.summary`).

``mean_sem`` summarises one variant over its cells; ``paired_comparison`` tests a variant against
the baseline on the (fold, seed) cells both ran; ``holm_bonferroni`` adjusts the p-values when many
variants face the same baseline.
"""

from __future__ import annotations

from longtail.experiments.runner import run_comparison
from longtail.experiments.spec import Cell, ExperimentSpec, load_experiment
from longtail.experiments.stats import (
    MeanSem,
    PairedComparison,
    holm_bonferroni,
    mean_sem,
    paired_comparison,
)

__all__ = [
    "Cell",
    "ExperimentSpec",
    "load_experiment",
    "run_comparison",
    "MeanSem",
    "PairedComparison",
    "holm_bonferroni",
    "mean_sem",
    "paired_comparison",
]
