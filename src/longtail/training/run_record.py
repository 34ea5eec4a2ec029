"""What a finished run records: the model directory's metadata, the report's header, the log lines.

:func:`longtail.training.run.run_training` trains; this module only describes what it did, from
values it hands over. Nothing here reads data or touches the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from longtail import __version__
from longtail.config import ExperimentConfig, ModelConfig, TrainConfig, dump_config
from longtail.data import LabelSpace
from longtail.decision.fit import FittedDecision
from longtail.decision.probability_map import ProbabilityMap, decision_summary
from longtail.evaluation.convergence import still_improving, stop_reason
from longtail.models.encoder import describe_model
from longtail.training.cascade import cascade_meta
from longtail.training.phases import PhasesResult


def model_meta(
    config: ExperimentConfig,
    space: LabelSpace,
    counts: np.ndarray,
    decision: FittedDecision,
    trained: PhasesResult,
    *,
    model_name: str,
    max_length: int,
    long_documents: dict[str, Any] | None,
    early_stopping_metric: str,
) -> dict[str, Any]:
    """``longtail.json``: all a saved model needs to decide on new rows, and how it was trained.

    ``counts`` are the training split's per-class document counts (after augmentation), the ones
    the loss weights and the per-class F1-vs-frequency figure use.
    """
    stopped = training_stop(config.train, trained)
    cascade = cascade_meta(config)
    return {
        "task": space.task,
        "labels": space.to_dict(),
        # as transformers' configs spell them, for tools that read a hub repository's labels
        "id2label": {str(i): name for i, name in enumerate(space.names)},
        "label2id": {name: i for i, name in enumerate(space.names)},
        "thresholds": decision.thresholds.tolist(),
        "threshold_objective": config.decision.tuned_for(),  # None: thresholds not tuned
        "threshold_fallback": decision.fallback,  # SCutFBR.1: best validation F below decision.fbr
        "threshold_untuned": decision.untuned,  # no validation example: the default decision
        # cross-fitted on validation: were the tuned thresholds kept (longtail.decision.tuning_check)
        "threshold_check": decision.check,
        "temperature": decision.temperature,
        # logit adjustment, then calibration (see longtail.decision.probability_map)
        **_decision_fields(decision, space.task),
        "max_length": max_length,
        "long_documents": long_documents,
        # the file's own columns, then a cascade's first-stage probabilities (computed, not read)
        "extra_features": [*config.data.extra_features, *(cascade or {}).get("features", [])],
        "cascade": cascade,
        "text_column": config.data.text_column,
        "label_column": config.data.label_column,
        "base_model": describe_model(model_name),
        "trust_remote_code": config.model.trust_remote_code,
        "config": dump_config(config),
        "training": {
            "best_epoch": trained.final.best_epoch,
            "steps": sum(phase.get("steps") or 0 for phase in trained.phases),
            "stop": stopped["stop"],  # see longtail.training.budget.STOP_REASONS
            "stopped": stopped["line"],
            "early_stopping_metric": early_stopping_metric,
            "best_score": trained.final.best_score,
            "history": trained.history,
            # the last epoch beat every earlier one by a clear margin: it may be undertrained
            "still_improving": still_improving(trained.history, early_stopping_metric),
            "phases": trained.phases,
            "seconds": round(sum(phase["seconds"] for phase in trained.phases), 1),
            "train_class_counts": dict(zip(space.names, counts.tolist(), strict=True)),
            # what the probabilities reflect after the remedies (longtail.decision.model_priors)
            "model_priors": (
                dict(zip(space.names, trained.model_priors.tolist(), strict=True))
                if trained.model_priors is not None
                else None
            ),
        },
    }


def report_header(
    meta: dict[str, Any],
    config: ExperimentConfig,
    loss_spec: Any,
    *,
    train_rows: int,
    validation_rows: int,
    validation_metrics: dict[str, Any],
) -> dict[str, Any]:
    """The report's fields known before the test split is scored: the decision, the model's
    remedies, the data and the validation metrics. The training section leaves out the config,
    which the model directory already holds."""
    return {
        "task": meta["task"],
        "labels": list(meta["labels"]["names"]),
        "thresholds": meta["thresholds"],
        "threshold_objective": meta["threshold_objective"],
        "threshold_fallback": meta["threshold_fallback"],
        "threshold_untuned": meta["threshold_untuned"],
        "threshold_check": meta.get("threshold_check"),
        "temperature": meta["temperature"],
        **decision_summary(meta),
        "model": {
            "base_model": meta["base_model"],
            "longtail_version": __version__,
            "loss": loss_spec,
            "sampler": config.sampler,
            "strategy": config.strategy,
            "sam": config.sam,
            "aux_loss": config.aux_loss,
            **_frozen_encoder(meta, config.model),
            **_cascade(meta),
            **_lexical(meta),
        },
        "data": {
            "train": config.data.train,
            "train_rows": train_rows,
            "validation_rows": validation_rows,
            "train_class_counts": meta["training"]["train_class_counts"],
            "model_priors": meta["training"].get("model_priors"),
        },
        "training": meta["training"] | {"config": None},
        "validation_metrics": validation_metrics,
    }


def _decision_fields(decision: FittedDecision, task: str) -> dict[str, Any]:
    """``calibration``, ``isotonic`` and ``logit_adjust`` of ``longtail.json`` (temperature is
    written beside them)."""
    mapping = decision.mapping or ProbabilityMap(task, decision.temperature)
    fields = mapping.meta_fields()
    del fields["temperature"]
    return fields


def training_stop(train: TrainConfig, trained: PhasesResult) -> dict[str, Any]:
    """``{"stop", "line"}``: why the last phase that trained stopped (a reason of
    :data:`longtail.training.budget.STOP_REASONS`) and the log's and report's line for it (its
    epochs, steps, the reason and the epoch kept; :func:`~longtail.evaluation.convergence.stop_reason`)."""
    trained_phases = [phase for phase in trained.phases if "steps" in phase]
    last = trained_phases[-1] if trained_phases else {}
    line = stop_reason(
        trained.history,
        stopped_early=bool(last.get("stopped_early")),
        patience=train.patience,
        stop=last.get("stop"),
        min_steps=train.min_steps if train.to_convergence else None,
        max_epochs=train.max_epochs,
        max_steps=train.max_steps,
        start_kept=last.get("best_score")
        if last.get("keep_start") and last.get("best_epoch") == 0
        else None,
    )
    return {"stop": last.get("stop"), "line": line}


def _frozen_encoder(meta: dict[str, Any], model: ModelConfig) -> dict[str, str]:
    """What was trained (with ``model.encoder=frozen``), and why its training stopped."""
    stopped = {"stopped": meta["training"]["stopped"]}
    if model.runtime != "torch":  # the features came from another graph: say which
        stopped = {"encoder_runtime": f"{model.runtime} (ONNX Runtime, CPU)"} | stopped
    if model.encoder != "frozen":
        return stopped
    return {"encoder": f"frozen; {model.head} head trained on cached pooled embeddings"} | stopped


def _cascade(meta: dict[str, Any]) -> dict[str, str]:
    """Where a cascade's extra features came from, and how the training rows got theirs."""
    cascade = meta.get("cascade")
    if not cascade:
        return {}
    return {
        "cascade": f"{', '.join(cascade['features'])} from the first stage {cascade['model']}: "
        f"out of fold ({cascade['folds']} first-stage models) for the training file, the saved "
        "model for validation and test files"
    }


def _lexical(meta: dict[str, Any]) -> dict[str, str]:
    """The fused TF-IDF branch (``lexical``): its size, weight and how the weight was chosen."""
    lexical = meta.get("lexical")
    if not lexical:
        return {}
    scores = lexical.get("validation_scores") or {}
    weight = lexical["weight"]
    line = (
        f"TF-IDF + logistic regression ({lexical['ngrams']:,} n-grams, {lexical['train_rows']:,} "
        f"training rows) fused at weight {weight}, {lexical['chosen_by']}"
    )
    if scores:
        line += (
            f" (model alone {scores['0.0']:.4f}, branch alone {scores['1.0']:.4f}, "
            f"chosen {scores[str(weight)]:.4f})"
        )
    if not weight:
        line += "; not fused: the model ships alone"
    return {"lexical": line}


def describe_task(
    space: LabelSpace, counts: np.ndarray, n_train: int, n_val: int, source: str
) -> str:
    """The log's first line: the task, the eight largest classes' counts and the split sizes."""
    order = np.argsort(-counts)
    shown = ", ".join(f"{space.names[i]} {int(counts[i])}" for i in order[:8])
    more = f", … {len(order) - 8} more" if len(order) > 8 else ""
    positive = f"; positive class '{space.names[1]}'" if space.task == "binary" else ""
    return (
        f"task: {space.task} ({len(space.names)} classes{positive}); train {n_train} rows [{shown}{more}]; "
        f"validation {n_val} rows ({source})"
    )
