"""Variants that differ only in ``decision.*`` share one training per (fold, seed), when it is one.

Calibration and thresholds are fitted after training, on the validation logits
(:func:`longtail.decision.fit.fit_decision`). With untuned thresholds nothing in ``decision.*``
changes what is learned: the epochs are scored by argmax / 0.5. With tuned thresholds early
stopping scores the tuned decision (:func:`longtail.training.scoring.scoring_decision`), so
``decision.*`` decides which epoch is kept and when training stops, and enters the training
settings (:func:`longtail.fingerprint.training_settings`). So "CE at 0.5" against "CE at 0.5
after a logit adjustment", or under several calibrations, is one training per (fold, seed) and one
cheap decision per variant; "at 0.5" against "tuned thresholds" is two trainings. A cell whose
training settings equal a finished, trained cell's of the same fold and seed is *decided* from
that cell's saved validation and test logits instead of trained: the same metrics as training it
(tested), in well under a second. Its record names the variant it was decided from
(``decided_from``) and its run directory holds ``report.json`` / ``report.md`` (no HTML report:
the model was not kept to draw it).

Decision: a trained cell keeps its logits (:data:`DECISION_INPUTS`, safetensors) when the
experiment file has such a twin variant, and otherwise only while they are small
(:data:`KEEP_LOGITS_UP_TO` bytes: 20,000 validation and test rows × 100 labels), so that a
decision-only variant added to a finished grid is decided too. For millions of test rows ×
hundreds of labels they are large, and a variant added later to such a grid trains (``compare
--dry-run`` says so, :func:`plan_decisions`); add it before the run to share.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from longtail.evaluation import evaluate_predictions, write_report
from longtail.experiments.settings import (
    cell_settings,
    changed_settings,
    for_task,
    saved_settings,
)
from longtail.experiments.spec import Cell, ExperimentSpec
from longtail.fingerprint import training_settings

if TYPE_CHECKING:  # torch is imported only when a cell is decided (compare --dry-run starts fast)
    from longtail.config import DecisionConfig
    from longtail.decision.fit import DecisionInputs, FittedDecision

#: A trained cell's validation and test logits and labels, in its run directory.
DECISION_INPUTS = "decision_inputs.safetensors"
#: Logits up to this size are kept even without a twin variant in the file (8 MiB).
KEEP_LOGITS_UP_TO = 8 * 2**20


def keeps_decision_inputs(spec: ExperimentSpec, cell: Cell, inputs: DecisionInputs) -> bool:
    """Whether a trained cell saves its logits: for a twin in the file, or while they are small."""
    return inputs.nbytes <= KEEP_LOGITS_UP_TO or has_decision_twin(spec, cell)


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
    return next((o for o in _finished_twins(cell, mine, done) if _has_logits(run_dir(o))), None)


@dataclass
class DecisionPlan:
    """What a run of the pending cells will do about shared trainings (``compare --dry-run``)."""

    #: pending cell -> the variant's cell it will be decided from (finished, or trained earlier)
    decided: dict[Cell, Cell] = field(default_factory=dict)
    #: pending cell -> a finished twin that kept no logits (trained before a twin variant
    #: existed), so the cell trains
    no_logits: dict[Cell, Cell] = field(default_factory=dict)


def plan_decisions(
    spec: ExperimentSpec,
    cells: list[Cell],
    done: dict[Cell, dict[str, Any]],
    run_dir: Callable[[Cell], Path],
) -> DecisionPlan:
    """Which of ``cells`` (in run order) will be decided rather than trained, and from what.

    Mirrors the runner: a cell is decided from a finished twin with logits on disk, or from a
    twin that trains earlier in the same run. With ``--shard`` a twin in another shard is
    unknown until it finishes, so such a cell is planned to train.
    """
    plan = DecisionPlan()
    trains: list[tuple[Cell, dict[str, Any]]] = []
    for cell in cells:
        if cell in done:
            continue
        mine = training_settings(cell_settings(spec, cell))
        finished = list(_finished_twins(cell, mine, done))
        twin = next((o for o in finished if _has_logits(run_dir(o))), None) or next(
            (o for o, theirs in trains if _same_split(o, cell) and theirs == mine), None
        )
        if twin is not None:
            plan.decided[cell] = twin
            continue
        trains.append((cell, mine))
        if finished:
            plan.no_logits[cell] = finished[0]
    return plan


def _same_split(a: Cell, b: Cell) -> bool:
    return a.variant != b.variant and (a.seed, a.fold) == (b.seed, b.fold)


def _finished_twins(
    cell: Cell, mine: dict[str, Any], done: dict[Cell, dict[str, Any]]
) -> Iterator[Cell]:
    """Finished, trained cells of ``cell``'s fold and seed whose training settings are ``mine``.

    As in :func:`~longtail.experiments.runner.scan_cells`, a twin that recorded its task is
    compared on that task's defaults only: a change of the multilabel default loss leaves a
    binary twin's training the one this cell would do.
    """
    for other, record in done.items():
        if not _same_split(other, cell) or "settings" not in record:
            continue  # another split, or unchecked
        if record.get("decided_from"):
            continue  # itself decided: only a trained cell holds the logits
        theirs = training_settings(saved_settings(record["settings"]))
        if not for_task(changed_settings(theirs, mine), record.get("task")):
            yield other


def _has_logits(directory: Path) -> bool:
    return (directory / DECISION_INPUTS).is_file() and (directory / "report.json").is_file()


def load_decided_cell(cell_dir: Path) -> tuple[DecisionInputs, dict[str, Any]]:
    """A trained cell's saved logits and its report, as :func:`decided_scores` takes them."""
    from longtail.decision.fit import load_decision_inputs  # torch: only when deciding

    inputs = load_decision_inputs(cell_dir / DECISION_INPUTS)
    return inputs, json.loads((cell_dir / "report.json").read_text(encoding="utf-8"))


@dataclass
class DecidedScores:
    """A decision fitted on a cell's validation logits, scored on its validation and test rows."""

    decision: FittedDecision
    validation: dict[str, Any]
    #: None when the cell had no test rows
    test: dict[str, Any] | None


def decided_scores(
    inputs: DecisionInputs, report: dict[str, Any], decision_config: DecisionConfig
) -> DecidedScores:
    """Fit ``decision_config`` on the saved validation logits, as training would have, and score it.

    The priors of a logit adjustment are the training counts the cell's report recorded, and a
    prior shift starts from the model's priors it recorded (cells before them: the counts).
    """
    import numpy as np

    from longtail.decision import apply_thresholds  # torch: only when deciding
    from longtail.decision.fit import fit_decision

    task, names = report["task"], report["labels"]
    data = report.get("data") or {}
    counts, priors = data.get("train_class_counts"), data.get("model_priors")
    decision = fit_decision(
        task, inputs.val_logits, inputs.val_y, names, decision_config,
        [counts[n] for n in names] if counts else None, data.get("train_rows"),
        model_priors=np.asarray([priors[n] for n in names]) if priors else None,
    )  # fmt: skip

    def scored(logits: Any, y: Any) -> dict[str, Any]:
        probs = decision.probabilities(task, logits)
        decided = apply_thresholds(task, probs, decision.thresholds)
        return evaluate_predictions(task, y, probs, decided, names)

    test = scored(inputs.test_logits, inputs.test_y) if inputs.test_logits is not None else None
    return DecidedScores(decision, scored(inputs.val_logits, inputs.val_y), test)


def decide_from(
    spec: ExperimentSpec, cell: Cell, twin: Cell, twin_dir: Path, run_dir: Path
) -> dict[str, Any]:
    """``cell``'s report, decided with its own ``decision.*`` from ``twin``'s saved logits;
    written to ``run_dir`` as ``report.json`` and ``report.md``."""
    from longtail.decision.probability_map import decision_summary  # torch: only when deciding

    inputs, report = load_decided_cell(twin_dir)
    decision_config = spec.variant_config(cell.variant, **{"train.seed": cell.seed}).decision
    scores = decided_scores(inputs, report, decision_config)
    decision = scores.decision
    report.update(
        thresholds=decision.thresholds.tolist(),
        threshold_objective=decision_config.tuned_for(),
        threshold_fallback=decision.fallback,
        threshold_untuned=decision.untuned,
        threshold_check=decision.check,
        temperature=decision.temperature,
        **decision_summary(
            {"labels": {"names": report["labels"]}, **decision.mapping.meta_fields()}
        ),
        validation_metrics=scores.validation,
        metrics=scores.test if scores.test is not None else scores.validation,
        decided_from=twin.variant,
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    write_report(report, run_dir)
    return report
