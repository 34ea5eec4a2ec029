"""Variants that differ only in ``decision.*`` share one training per (fold, seed).

Calibration and thresholds are fitted after training, on the validation logits
(:func:`longtail.decision.fit.fit_decision`); nothing in ``decision.*`` changes what is learned.
So "BCE at 0.5" against "BCE with tuned thresholds", or one model under several threshold
objectives, is one training per (fold, seed) and one cheap decision per variant. A cell whose
settings equal a finished, trained cell's of the same fold and seed in everything but
``decision.*`` is *decided* from that cell's saved validation and test logits instead of trained:
the same metrics as training it (tested), in well under a second. Its record names the variant it
was decided from (``decided_from``) and its run directory holds ``report.json`` / ``report.md``
(no HTML report: the model was not kept to draw it).

Decision: a trained cell keeps its logits (:data:`DECISION_INPUTS`, safetensors) only when the
experiment file has such a twin variant, because for millions of test rows × hundreds of labels
they are large. A variant added later to a finished grid therefore trains; add it before the
run, or delete the trained twin's cells to share.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from longtail.evaluation import evaluate_predictions, write_report
from longtail.experiments.settings import cell_settings, saved_settings
from longtail.experiments.spec import Cell, ExperimentSpec
from longtail.fingerprint import training_settings

#: A trained cell's validation and test logits and labels, in its run directory.
DECISION_INPUTS = "decision_inputs.safetensors"


def has_decision_twin(spec: ExperimentSpec, cell: Cell) -> bool:
    """Whether another variant's cell of the same fold and seed trains exactly this model."""
    same_split = [
        other
        for other in spec.cells()
        if other.variant != cell.variant and (other.seed, other.fold) == (cell.seed, cell.fold)
    ]
    mine = training_settings(cell_settings(spec, cell))
    return any(training_settings(cell_settings(spec, other)) == mine for other in same_split)


def trained_twin(
    spec: ExperimentSpec,
    cell: Cell,
    done: dict[Cell, dict[str, Any]],
    run_dir: Callable[[Cell], Path],
) -> Cell | None:
    """A finished, trained cell whose model ``cell`` would train again, with its logits on disk."""
    mine = training_settings(cell_settings(spec, cell))
    for other, record in done.items():
        if other.variant == cell.variant or (other.seed, other.fold) != (cell.seed, cell.fold):
            continue
        if "settings" not in record or record.get("decided_from"):
            continue  # unchecked, or itself decided: only a trained cell holds the logits
        directory = run_dir(other)
        if not ((directory / DECISION_INPUTS).is_file() and (directory / "report.json").is_file()):
            continue
        if training_settings(saved_settings(record["settings"])) == mine:
            return other
    return None


def decide_from(
    spec: ExperimentSpec, cell: Cell, twin: Cell, twin_dir: Path, run_dir: Path
) -> dict[str, Any]:
    """``cell``'s report, decided with its own ``decision.*`` from ``twin``'s saved logits;
    written to ``run_dir`` as ``report.json`` and ``report.md``."""
    from longtail.decision import apply_thresholds, probabilities  # torch: only when deciding
    from longtail.decision.fit import fit_decision, load_decision_inputs

    inputs = load_decision_inputs(twin_dir / DECISION_INPUTS)
    report = json.loads((twin_dir / "report.json").read_text(encoding="utf-8"))
    task, names = report["task"], report["labels"]
    decision_config = spec.variant_config(cell.variant, **{"train.seed": cell.seed}).decision
    decision = fit_decision(task, inputs.val_logits, inputs.val_y, names, decision_config)

    def scored(logits: Any, y: Any) -> dict[str, Any]:
        probs = probabilities(logits, task, temperature=decision.temperature)
        decided = apply_thresholds(task, probs, decision.thresholds)
        return evaluate_predictions(task, y, probs, decided, names)

    validation = scored(inputs.val_logits, inputs.val_y)
    has_test = inputs.test_logits is not None
    report.update(
        thresholds=decision.thresholds.tolist(),
        threshold_fallback=decision.fallback,
        threshold_untuned=decision.untuned,
        temperature=decision.temperature,
        validation_metrics=validation,
        metrics=scored(inputs.test_logits, inputs.test_y) if has_test else validation,
        decided_from=twin.variant,
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    write_report(report, run_dir)
    return report
