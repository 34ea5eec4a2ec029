"""One stage of training as data (:class:`Phase`), and what a phase means for the model and the
loss: which parameters train (:func:`apply_trainable`), how the configured loss is weighted
(:func:`phase_loss_spec`), which rows a balanced phase draws (:func:`balanced_rows`).

The strategies that return lists of phases are in :mod:`longtail.training.strategies`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from torch import nn

from longtail.data.imbalance import subsample
from longtail.errors import LongtailError
from longtail.training.decoupling import classifier_head, classifier_modules
from longtail.training.optim import _layer_depth

TRAINABLE = ("all", "head", "top_layers", "classifier", "scales", "none")
DATA = ("train", "balanced_augmented")
LOSS_WEIGHTING = ("configured", "none", "plain", "class_balanced")
HEAD_INIT = ("keep", "reset")
SOLVERS = ("sgd", "lbfgs")
TASKS = ("binary", "multiclass", "multilabel")
#: Kang et al. 2020 search τ on validation; their best lie in (0, 1], a longer grid costs nothing
TAU_GRID = tuple(round(0.1 * i, 1) for i in range(21))


@dataclass(frozen=True)
class Phase:
    """One stage of training.

    Attributes:
        name: shown in logs, the history and the checkpoint directory.
        trainable: ``"all"`` (what the model trains by default), ``"head"`` (everything above
            the encoder: aggregator and head), ``"top_layers"`` (the head and the top
            ``top_layers`` encoder layers), ``"classifier"`` (the final linear layer only),
            ``"scales"`` (one learnt scale per logit on the frozen final layer, folded into it
            afterwards) or ``"none"`` (no training: a post-hoc phase, e.g. τ-normalisation).
        top_layers: encoder layers trained with ``trainable="top_layers"``.
        epochs: epochs of this phase (``None``: ``train.epochs``; when that is unset too, the
            phase trains to convergence, :mod:`longtail.training.budget`).
        lr / head_lr: learning rates (``None``: ``lr_factor`` × ``train.lr`` / ``train.head_lr``).
        lr_factor: multiplies the configured learning rates where ``lr`` / ``head_lr`` are unset.
        data: ``"train"`` (the training split, with the configured sampler) or
            ``"balanced_augmented"`` (an equal number of rows per class plus augmented copies,
            no sampler; parameters in ``data_params``).
        loss_weighting: ``"configured"`` (the loss as configured), ``"none"`` (its class
            re-weighting switched off; a loss without class weights is refused), ``"plain"``
            (switched off where the loss has any, else the loss as configured) or
            ``"class_balanced"`` (the configured weights, or effective-number weights with
            β = ``beta`` when the loss has none).
        beta: β of the effective-number weights for ``loss_weighting="class_balanced"``.
        sampler: this phase's sampler (a registered name or ``{"name": ..., **params}``);
            ``None``: the configured one. A strategy that sets it refuses a configured sampler.
        head_init: ``"keep"`` or ``"reset"`` (re-initialise the final linear layer first).
        tau_grid: τ values tried on validation by a ``trainable="none"`` phase, which
            τ-normalises the head with the best one.
        tasks: the tasks the phase applies to; others get an error before training starts.
        solver: ``"sgd"`` (the training loop: minibatches, the configured optimizer, epochs,
            early stopping) or ``"lbfgs"`` (``trainable="classifier"`` only: the linear head
            solved on the encoder's vectors along an L2 path chosen on validation,
            :mod:`longtail.training.probe`).
        keep_start: score the weights the phase starts from on validation as its epoch 0 and
            keep them unless an epoch beats them (``auto``: fine-tuning must beat the probe).
    """

    name: str
    trainable: str = "all"
    top_layers: int = 0
    epochs: int | None = None
    lr: float | None = None
    head_lr: float | None = None
    lr_factor: float = 1.0
    data: str = "train"
    data_params: Mapping[str, Any] = field(default_factory=dict)
    loss_weighting: str = "configured"
    beta: float = 0.9999
    sampler: str | Mapping[str, Any] | None = None
    head_init: str = "keep"
    tau_grid: tuple[float, ...] = ()
    tasks: tuple[str, ...] = TASKS
    solver: str = "sgd"
    keep_start: bool = False

    def __post_init__(self) -> None:
        for key, value, valid in (
            ("trainable", self.trainable, TRAINABLE),
            ("solver", self.solver, SOLVERS),
            ("data", self.data, DATA),
            ("loss_weighting", self.loss_weighting, LOSS_WEIGHTING),
            ("head_init", self.head_init, HEAD_INIT),
        ):
            if value not in valid:
                raise LongtailError(
                    f"phase {self.name!r}: {key} {value!r} is not one of {', '.join(valid)}"
                )
        if self.trainable == "top_layers" and self.top_layers < 1:
            raise LongtailError(f"phase {self.name!r}: top_layers must be >= 1")
        if self.epochs is not None and self.epochs < 1:
            raise LongtailError(f"phase {self.name!r}: epochs must be >= 1, got {self.epochs}")
        for key in ("lr", "head_lr", "lr_factor"):
            value = getattr(self, key)
            if value is not None and not value > 0:
                raise LongtailError(f"phase {self.name!r}: {key} must be > 0, got {value}")
        if (self.trainable == "none") != bool(self.tau_grid):
            raise LongtailError(
                f"phase {self.name!r}: a tau_grid goes with trainable='none' and only with it"
            )
        if not all(0 <= t < float("inf") for t in self.tau_grid):
            raise LongtailError(
                f"phase {self.name!r}: tau values must be >= 0, got {self.tau_grid}"
            )
        if self.solver == "lbfgs" and self.trainable != "classifier":
            raise LongtailError(
                f"phase {self.name!r}: solver 'lbfgs' solves the final linear layer alone; "
                "it needs trainable='classifier'"
            )
        if self.keep_start and (not self.trains or self.solver != "sgd"):
            raise LongtailError(f"phase {self.name!r}: keep_start goes with a training sgd phase")
        if not self.tasks or not set(self.tasks) <= set(TASKS):
            raise LongtailError(f"phase {self.name!r}: tasks must be some of {', '.join(TASKS)}")

    @property
    def trains(self) -> bool:
        """Whether the phase runs training epochs (a ``trainable="none"`` phase does not)."""
        return self.trainable != "none"

    def to_json(self) -> dict[str, Any]:
        return {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in asdict(self).items()}


# ---------------------------------------------------------------------------------------------
# What a phase means for the model and the loss


def pretrained_encoder(model: nn.Module) -> nn.Module | None:
    """The Hugging Face encoder inside a longtail model (short-text, hierarchical or frozen)."""
    for owner in (model, getattr(model, "model", None)):
        encoder = getattr(owner, "encoder", None)
        if isinstance(encoder, nn.Module):
            return encoder
    return None


def apply_trainable(model: nn.Module, phase: Phase, trainable_at_start: set[str]) -> list[str]:
    """Set ``requires_grad`` for the phase; returns the names of the trainable parameters.

    ``trainable_at_start`` holds the parameters the model trains when nothing is frozen (for
    instance, never the unused BERT pooler): a phase only ever narrows that set. Encoder layers
    are counted from the top: ``top_layers=1`` is the last transformer layer (and anything above
    it inside the encoder); embeddings are never "top". ``"classifier"`` is the final linear
    layer (``model.head``); ``"scales"`` its learnt per-class scales (attached by the caller,
    :func:`longtail.training.decoupling.attach_scales`).
    """
    encoder = pretrained_encoder(model)
    depth_of: dict[int, int] = {}
    if encoder is not None:
        config = getattr(encoder, "config", None)
        num_layers = int(getattr(config, "num_hidden_layers", 0) or 0)
        for local, param in encoder.named_parameters():
            depth_of[id(param)] = _layer_depth(f"encoder.{local}", num_layers)
    only: set[int] | None = None  # the narrowed kinds name their parameters outright
    if phase.trainable == "none":
        only = set()
    elif phase.trainable in ("classifier", "scales"):
        scale = getattr(classifier_head(model), "scale", None)
        if phase.trainable == "scales":
            only = set() if scale is None else {id(scale)}
        else:
            parts = classifier_modules(model)
            only = {id(p) for m in parts for p in m.parameters() if p is not scale}
    chosen = []
    for name, param in model.named_parameters():
        wanted = name in trainable_at_start
        depth = depth_of.get(id(param))
        if only is not None:
            wanted = wanted and id(param) in only
        elif wanted and depth is not None and phase.trainable != "all":
            wanted = (
                phase.trainable == "top_layers"
                and depth > 0
                and (depth > num_layers - phase.top_layers)
            )
        param.requires_grad_(wanted)
        if wanted:
            chosen.append(name)
    return chosen


def phase_loss_spec(
    spec: str | Mapping[str, Any], phase: Phase, accepts: set[str]
) -> str | Mapping[str, Any]:
    """The loss spec of a phase: re-weighting off, as configured, or class-balanced.

    ``accepts`` is the set of parameters the loss factory takes (``weights``, ``pos_weight``, ...).
    """
    if phase.loss_weighting == "configured":
        return spec
    params = {"name": spec} if isinstance(spec, str) else dict(spec)
    keys = [k for k in ("weights", "pos_weight") if k in accepts]
    if not keys and phase.loss_weighting == "plain":
        return spec
    if not keys:
        raise LongtailError(
            f"phase {phase.name!r} changes the loss weighting, but loss {params['name']!r} has "
            "no class weights (ldam has deferred re-weighting built in: use its drw_start)"
        )
    if phase.loss_weighting in ("none", "plain"):
        return params | dict.fromkeys(keys, "none")
    weighted = any(params.get(k) not in (None, "none") for k in keys)
    if weighted:
        return params
    return params | {"weights": "effective_number", "beta": phase.beta}


def balanced_rows(groups: np.ndarray, per_class: int | None, seed: int) -> np.ndarray:
    """Up to ``per_class`` rows of every group (default: the smallest group's size), seeded.

    Groups smaller than ``per_class`` are taken whole (augmentation then makes up the rest).
    """
    counts = np.bincount(groups)
    present = counts > 0
    take = per_class if per_class is not None else int(counts[present].min())
    return subsample(groups, np.where(present, np.minimum(take, counts), 0), [seed, 2022])
