"""Run a strategy's phases one after the other on the same model.

Each phase (:class:`~longtail.training.phase.Phase`) is one
:func:`~longtail.training.loop.train_model` call: its own trainable parameters, learning rates,
epochs, data, loss weighting, schedule, early stopping and checkpoint directory. A phase that
finished is restored from its checkpoint on ``--resume`` (best weights, history) without training
again, so a run killed in phase 2 resumes in phase 2.

A phase may first re-initialise the final linear layer (cRT) or give it learnt per-class scales
(LWS, folded back in afterwards); a ``trainable="none"`` phase trains nothing and τ-normalises the
head with the τ that scores best on validation (:mod:`longtail.training.decoupling`). Such a phase
has no checkpoint: on ``--resume`` it is redone from the restored weights, giving the same head.
A classifier-only phase of a short-text model trains the head on encoder embeddings computed once;
with ``solver="lbfgs"`` it solves that head instead (:mod:`longtail.training.probe`), and saves it
so that ``--resume`` loads it without embedding the rows again.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from longtail.config import TrainConfig, is_off
from longtail.data import LabelSpace
from longtail.data.tokenized import TokenizedSplit
from longtail.decision.model_priors import implied_priors
from longtail.errors import LongtailError
from longtail.losses import LOSSES, build_loss
from longtail.sampling import build_sampler, epoch_length_note
from longtail.training.accelerator import gathered_logits
from longtail.training.augmentation import AugmentedRows, describe_augmentation
from longtail.training.decoupling import (
    attach_scales,
    choose_tau,
    classifier_head,
    fold_scales,
    reset_head,
    tau_normalise_,
)
from longtail.training.frozen import phase_rows_on_features
from longtail.training.loop import TrainingResult, train_model
from longtail.training.phase import Phase, apply_trainable, phase_loss_spec
from longtail.training.probe_phase import check_probe, solve_probe_phase
from longtail.training.remedies import Remedies
from longtail.training.strategies import strategies_for


@dataclass
class PhaseInputs:
    """What every phase shares: the model, the data and how to turn texts into model rows.

    The run's settings travel beside it, typed: the ``train`` section (each phase derives its
    own epochs and learning rates from it) and the :class:`~longtail.training.remedies.Remedies`
    built once for the run.
    """

    trainable: nn.Module
    batcher: Any
    train: TokenizedSplit
    validation: TokenizedSplit
    train_texts: list[str] | None
    space: LabelSpace
    counts: np.ndarray
    sampler_labels: Any
    sampler_task: str
    score: Callable[[np.ndarray], float]
    represent: Callable[[list[str], np.ndarray, np.ndarray | None], TokenizedSplit]
    checkpoint_root: Path
    fingerprint: str
    #: called with each epoch's history entry / every train.logging_steps steps' loss, with
    #: ``phase`` and ``global_step`` (optimizer steps counted on across phases) added
    on_epoch: Callable[[dict[str, Any]], None] | None = None
    on_step: Callable[[dict[str, Any]], None] | None = None


def _across_phases(
    callback: Callable[[dict[str, Any]], None] | None, name: str, finished: list[dict[str, Any]]
) -> Callable[[dict[str, Any]], None] | None:
    """``callback`` given a phase's entries with its name and the step counted across phases."""
    if callback is None:
        return None
    before = sum(int(phase["steps"]) for phase in finished)
    return lambda entry: callback(entry | {"phase": name, "global_step": before + entry["step"]})


@dataclass
class PhasesResult:
    final: TrainingResult
    history: list[dict[str, Any]] = field(default_factory=list)
    phases: list[dict[str, Any]] = field(default_factory=list)
    augmented: list[tuple[str, AugmentedRows]] = field(default_factory=list)
    #: the class priors the trained model's probabilities reflect (single-label; the last
    #: training phase's loss and sampler: :mod:`longtail.decision.model_priors`)
    model_priors: np.ndarray | None = None


def loss_parameters(spec: Any) -> set[str]:
    """The parameters a registered loss factory accepts (``weights``, ``pos_weight``, ...)."""
    if not isinstance(spec, (str, dict)):
        return set()
    name = spec if isinstance(spec, str) else spec.get("name")
    factory = LOSSES.get(str(name))
    return set(inspect.signature(getattr(factory, "__wrapped__", factory)).parameters)


def _phase_data(
    phase: Phase, inputs: PhaseInputs, remedies: Remedies, log: Callable[[str], None]
) -> tuple[TokenizedSplit, np.ndarray, Any, str, AugmentedRows | None]:
    """``(split, class counts, sampler labels, sampler task, augmented rows)`` of a phase."""
    space = inputs.space
    if phase.data == "train":
        return inputs.train, inputs.counts, inputs.sampler_labels, inputs.sampler_task, None
    rows = remedies.augmentation.balanced_rows(
        inputs.train_texts, np.asarray(inputs.train.y), inputs.train.extra, task=space.task,
        label_names=space.names, params=phase.data_params,
    )  # fmt: skip
    log(
        describe_augmentation(
            rows.stats, f"phase {phase.name}: balanced sample of {rows.num_original} rows"
        )
    )
    split = inputs.represent(rows.texts, rows.y, rows.extra)
    return split, space.counts(rows.y), rows.y, space.task, rows


def _phase_train_config(train: TrainConfig, phase: Phase) -> TrainConfig:
    """``train.*`` of a phase: its own epochs (``None``: ``train.epochs``, and when that is unset
    too the phase trains to convergence) and learning rates."""
    return train.model_copy(
        update={
            "epochs": phase.epochs or train.epochs,
            "lr": phase.lr or train.lr * phase.lr_factor,
            "head_lr": phase.head_lr or train.head_lr * phase.lr_factor,
            "max_steps": train.max_steps,
        }
    )


def _length(train: TrainConfig) -> str:
    """How long a phase trains, for its log line."""
    if train.epochs is not None:
        return f"{train.epochs} epoch(s)"
    return f"to convergence (at most {train.max_epochs} epochs)"


def _fingerprint(base: str, index: int, phase: Phase) -> str:
    # fields added with decoupling count only when set: older checkpoints still resume
    later = {
        "sampler": None, "head_init": "keep", "tau_grid": (), "tasks": Phase("x").tasks,
        "solver": "sgd", "keep_start": False,
    }  # fmt: skip
    described = {k: v for k, v in phase.to_json().items() if not (k in later and v == later[k])}
    payload = json.dumps([base, index, described], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def check_phases(phases: list[Phase], *, task: str, sampler: Any) -> None:
    """Refuse, before any training, a phase the task or the configured sampler contradicts."""
    for phase in phases:
        if task not in phase.tasks:
            fits = ", ".join(strategies_for(task)) or "vanilla"
            raise LongtailError(
                f"strategy phase {phase.name!r} applies to {' and '.join(phase.tasks)} tasks, "
                f"not {task}; pick a --strategy that does ({fits})"
            )
    chosen = [p.name for p in phases if p.sampler is not None]
    configured = sampler.get("name") if isinstance(sampler, dict) else sampler
    if chosen and not is_off(sampler):
        raise LongtailError(
            f"this strategy sets the sampler of its phases ({', '.join(chosen)}); drop --sampler "
            f"{configured} (a strategy's own sampler parameter sets its re-balancing phase's)"
        )


def _tau_norm(
    model: nn.Module, phase: Phase, inputs: PhaseInputs, eval_batch_size: int
) -> tuple[float, dict[float, float]]:
    """τ-normalise the head with the τ of ``phase.tau_grid`` that scores best on validation."""
    device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    logits = gathered_logits(
        model.to(device), inputs.validation, batch_size=eval_batch_size, batcher=inputs.batcher,
        device=device,
    )  # fmt: skip
    model.to("cpu")
    head = classifier_head(model)
    bias = None if head.bias is None else head.bias.detach().numpy()
    tau, scores = choose_tau(
        logits, head.weight.detach().numpy(), bias, phase.tau_grid, inputs.score
    )
    tau_normalise_(head, tau)
    return tau, scores


def _posthoc_phase(
    index: int,
    phases: list[Phase],
    inputs: PhaseInputs,
    eval_batch_size: int,
    out: PhasesResult,
    log: Callable[[str], None],
) -> None:
    """A phase that trains nothing: τ-normalisation of the trained head."""
    phase = phases[index - 1]
    started = time.perf_counter()
    tau, scores = _tau_norm(inputs.trainable, phase, inputs, eval_batch_size)
    seconds = time.perf_counter() - started
    log(
        f"phase {index}/{len(phases)} {phase.name}: tau {tau:g} of {len(scores)} tried, "
        f"val score {scores[tau]:.4f} (tau 0: {scores.get(0.0, float('nan')):.4f})"
    )
    if len(scores) > 1 and tau == max(scores):
        log(
            f"note: tau {tau:g} is the largest tried; a wider grid may do better (strategy.tau=[...])"
        )
    out.final = TrainingResult(
        best_epoch=out.final.best_epoch, best_score=scores[tau], seconds=seconds
    )
    out.phases.append(
        phase.to_json()
        | {
            "rows": len(inputs.validation.ids), "trainable_tensors": 0, "best_epoch": None,
            "best_score": scores[tau], "stopped_early": False, "seconds": round(seconds, 1),
            "tau": tau, "tau_scores": {f"{t:g}": v for t, v in scores.items()},
            "applied": f"head tau-normalised, tau = {tau:g} (chosen on validation)",
        }
    )  # fmt: skip


def _prepare_head(model: nn.Module, index: int, phase: Phase, inputs: PhaseInputs, seed: int):
    """cRT's fresh head / LWS's scales; returns the names of parameters the phase adds."""
    if phase.head_init == "reset":
        rates = None
        if inputs.space.task == "multilabel":
            rates = inputs.counts / max(len(inputs.train.ids), 1)
        reset_head(model, seed=seed * 1_009 + index, positive_rates=rates)
    if phase.trainable != "scales":  # the fresh head's parameters keep their names
        return set()
    scale = attach_scales(model)
    return {n for n, p in model.named_parameters() if p is scale}


def _applied(phase: Phase, sampler: Any, scales: np.ndarray | None, result: Any) -> str | None:
    """What a decoupling phase did to the head, for the report."""
    if phase.solver == "lbfgs":
        l2 = result.history[result.best_epoch - 1]["l2"]
        return f"linear head solved by L-BFGS, l2 {l2:g} chosen on validation"
    if phase.keep_start:
        if result.best_epoch == 0:
            return "no epoch beat the starting weights on validation: they are kept"
        return f"epoch {result.best_epoch} beat the starting weights on validation"
    if phase.head_init == "reset":
        return f"head re-initialised, re-trained with sampler {sampler}"
    if scales is not None:
        return (
            f"per-class scales learnt with sampler {sampler} and folded into the head "
            f"(min {scales.min():.3g}, max {scales.max():.3g})"
        )
    return None


def run_phases(
    phases: list[Phase],
    inputs: PhaseInputs,
    train: TrainConfig,
    remedies: Remedies,
    *,
    resume: bool,
    log: Callable[[str], None],
) -> PhasesResult:
    """Train every phase in order; the model ends with the last phase's best weights."""
    model = inputs.trainable
    space = inputs.space
    trainable_at_start = {n for n, p in model.named_parameters() if p.requires_grad}
    accepts = loss_parameters(remedies.loss)
    out = PhasesResult(final=TrainingResult(best_epoch=0, best_score=float("nan")))
    check_phases(phases, task=space.task, sampler=remedies.sampler)
    try:
        for index, phase in enumerate(phases, start=1):
            if not phase.trains:
                _posthoc_phase(index, phases, inputs, train.eval_batch_size, out, log)
                continue
            added = _prepare_head(model, index, phase, inputs, train.seed)
            names = apply_trainable(model, phase, trainable_at_start | added)
            split, counts, sampler_labels, sampler_task, rows = _phase_data(
                phase, inputs, remedies, log
            )
            if rows is not None:
                out.augmented.append((phase.name, rows))
            loss_spec = phase_loss_spec(remedies.loss, phase, accepts)
            loss_fn = build_loss(
                loss_spec, task=space.task, class_counts=counts, num_docs=len(split.ids)
            )
            sampler_spec = remedies.sampler if phase.sampler is None else phase.sampler
            sampler = (
                build_sampler(sampler_spec, y=sampler_labels, task=sampler_task, seed=train.seed)
                if phase.data == "train"
                else None
            )
            if note := epoch_length_note(sampler, len(sampler_labels)):
                log(note)
            out.model_priors = implied_priors(space.task, loss_fn, counts, sampler, sampler_labels)
            train_config = _phase_train_config(train, phase)
            if len(phases) > 1 and phase.solver == "lbfgs":
                log(
                    f"phase {index}/{len(phases)} {phase.name}: the linear head solved by L-BFGS "
                    f"on the frozen encoder's vectors, {len(split.ids)} rows"
                )
            elif len(phases) > 1:
                log(
                    f"phase {index}/{len(phases)} {phase.name}: {phase.trainable}"
                    f"{f' ({phase.top_layers})' if phase.trainable == 'top_layers' else ''}, "
                    f"{len(names)} parameter tensors, {_length(train_config)}, lr {train_config.lr:g} / "
                    f"head {train_config.head_lr:g}, {len(split.ids)} rows"
                )
            checkpoint_dir = (
                inputs.checkpoint_root
                if len(phases) == 1
                else inputs.checkpoint_root / f"phase{index}-{phase.name}"
            )
            fingerprint = _fingerprint(inputs.fingerprint, index, phase)
            if phase.solver == "lbfgs":
                check_probe(
                    phase, model, sampler_spec,
                    minibatch_remedies=remedies.sam is not None or remedies.aux_loss is not None,
                )  # fmt: skip
                result, embedding = solve_probe_phase(
                    model, phase, loss_fn, inputs.score, checkpoint_dir, fingerprint,
                    resume=resume, log=log,
                    embed=lambda phase=phase, split=split: phase_rows_on_features(
                        model, phase, split, inputs.validation, inputs.batcher,
                        train.eval_batch_size, log,
                    ),
                )  # fmt: skip
            else:
                module, batcher, split, validation, embedding = phase_rows_on_features(
                    model,
                    phase,
                    split,
                    inputs.validation,
                    inputs.batcher,
                    train.eval_batch_size,
                    log,
                )
                result = train_model(
                    module, loss_fn, split, validation, train_config, batcher=batcher,
                    score=inputs.score, sampler=sampler, sam=remedies.sam,
                    aux_loss=remedies.aux_loss,
                    checkpoint_dir=checkpoint_dir, resume=resume, fingerprint=fingerprint,
                    log=log, keep_start=phase.keep_start,
                    on_epoch=_across_phases(inputs.on_epoch, phase.name, out.phases),
                    on_step=_across_phases(inputs.on_step, phase.name, out.phases),
                )  # fmt: skip
                if phase.keep_start:
                    kept = (
                        "the starting weights"
                        if result.best_epoch == 0
                        else f"epoch {result.best_epoch}"
                    )
                    log(f"phase {phase.name}: {kept} kept (val score {result.best_score:.4f})")
            scales = fold_scales(model) if added else None
            out.final = result
            out.history += [entry | {"phase": phase.name} for entry in result.history]
            out.phases.append(
                phase.to_json()
                | {
                    "rows": len(split.ids),
                    "trainable_tensors": len(names),
                    "best_epoch": result.best_epoch,
                    "best_score": result.best_score,
                    "stopped_early": result.stopped_early,
                    "steps": result.steps,
                    "stop": result.stop,
                    "seconds": round(result.seconds + embedding, 1),
                    "loss": loss_spec,
                }
                | (
                    {"applied": applied}
                    if (applied := _applied(phase, sampler_spec, scales, result))
                    else {}
                )
                | ({"scales": scales.tolist()} if scales is not None else {})
            )
    finally:
        for name, param in model.named_parameters():
            param.requires_grad_(name in trainable_at_start)
    return out
