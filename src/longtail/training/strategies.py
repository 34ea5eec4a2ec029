"""Training strategies as data: each is a function returning a list of :class:`Phase`.

A phase says what is trainable, at which learning rates, for how many epochs, on which data and
with which loss weighting. :func:`longtail.training.run.run_training` runs the phases one after
the other on the same model, each as one :func:`~longtail.training.loop.train_model` call with its
own optimizer, schedule, early stopping and checkpoint (so an interrupted run resumes inside the
phase it was in).

Strategies (``longtail train --strategy NAME``, or ``strategy: {name: NAME, ...}`` in the config):

* ``vanilla`` — full fine-tuning.
* ``lp_ft`` — linear probe, then full fine-tuning (Kumar et al. 2022, arXiv 2202.10054).
* ``prefinetune_da`` — pre-fine-tune the top encoder layer(s) and the head on a class-balanced,
  augmented sample, then fine-tune everything on the original data (Shi et al., LIDTA 2022,
  PMLR 183).
* ``drw`` — deferred re-weighting: the loss without class weights first, re-weighted at the end
  (Cao et al. 2019, arXiv 1906.07413).
* ``crt``, ``tau_norm``, ``lws`` — decoupled classifier re-training: end to end with plain
  sampling, then only the classifier is re-balanced — re-trained from scratch with class-balanced
  sampling, τ-normalised, or given learnt per-class scales (Kang et al. 2020, arXiv 1910.09217;
  :mod:`longtail.training.decoupling`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from torch import nn

from longtail.config import is_off
from longtail.data.imbalance import subsample
from longtail.errors import LongtailError
from longtail.registry import Registry
from longtail.training.decoupling import classifier_head, classifier_modules
from longtail.training.optim import _layer_depth

STRATEGIES: Registry[list] = Registry("strategy")

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


def _positive_int(strategy: str, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise LongtailError(f"strategy {strategy}: {key} must be an integer >= 1, got {value!r}")
    return value


def _positive_float(strategy: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise LongtailError(f"strategy {strategy}: {key} must be a number > 0, got {value!r}")
    return float(value)


@STRATEGIES.register("vanilla")
def vanilla(*, epochs: int | None) -> list[Phase]:
    """Full fine-tuning: one phase, everything trainable."""
    return [Phase("finetune")]


@STRATEGIES.register("lp_ft")
def lp_ft(*, epochs: int | None, probe_epochs: int = 1, probe_lr: float = 1e-3) -> list[Phase]:
    """Linear probe, then fine-tune (Kumar et al. 2022, "Fine-Tuning can Distort Pretrained
    Features and Underperform Out-of-Distribution", arXiv 2202.10054).

    A head trained on frozen features first means full fine-tuning starts from a sensible head,
    so the early large gradients of a random head do not distort the pretrained encoder.
    """
    probe_epochs = _positive_int("lp_ft", "probe_epochs", probe_epochs)
    probe_lr = _positive_float("lp_ft", "probe_lr", probe_lr)
    return [
        Phase("linear_probe", trainable="head", epochs=probe_epochs, head_lr=probe_lr),
        Phase("finetune"),
    ]


@STRATEGIES.register("linear_probe")
def linear_probe(*, epochs: int | None) -> list[Phase]:
    """The linear probe alone: the final linear layer solved on the frozen encoder's vectors by
    L-BFGS, its L2 strength chosen on validation (:mod:`longtail.training.probe`; the probe of
    Kumar et al. 2022, arXiv 2202.10054). The encoder is never trained; short texts only."""
    return [Phase("linear_probe", trainable="classifier", solver="lbfgs")]


@STRATEGIES.register("auto")
def auto(*, epochs: int | None) -> list[Phase]:
    """Choose on the user's validation split between the linear probe and fine-tuning.

    Phase 1 solves the linear probe (seconds: one encoder pass over the rows, then L-BFGS).
    Phase 2 fine-tunes everything from the probe — LP-FT (Kumar et al. 2022) — and scores the
    probe as its epoch 0: early stopping keeps the probe unless a fine-tuned epoch beats it on
    validation with the decision that ships. So the model is never worse on validation than the
    probe, and the report says which one won. With ``--encoder frozen`` phase 2 trains the head
    alone by SGD from the probe, kept only where it beats it.
    """
    return [
        Phase("linear_probe", trainable="classifier", solver="lbfgs"),
        Phase("finetune", keep_start=True),
    ]


@STRATEGIES.register("prefinetune_da")
def prefinetune_da(
    *,
    epochs: int | None,
    top_layers: int = 1,
    prefinetune_epochs: int = 1,
    lr: float = 1e-4,
    per_class: int | None = None,
    augment: str | Mapping[str, Any] = "eda",
    num_aug: int = 4,
) -> list[Phase]:
    """Pre-fine-tuning with data augmentation (Shi et al. 2022, "Pre-trained Language Model
    Fine-tuning for Imbalanced Text Classification with Data Augmentation", LIDTA, PMLR 183).

    Phase 1 trains the top ``top_layers`` encoder layers and the head for
    ``prefinetune_epochs`` epoch(s) at ``lr`` on a class-balanced sample — ``per_class`` rows of
    every class (default: the smallest class's size) — plus ``num_aug`` augmented copies of each
    sampled row (``augment``: an augmentation method, EDA by default). Phase 2 unfreezes all
    and fine-tunes on the original, imbalanced training data at the configured learning rates.
    """
    top_layers = _positive_int("prefinetune_da", "top_layers", top_layers)
    prefinetune_epochs = _positive_int("prefinetune_da", "prefinetune_epochs", prefinetune_epochs)
    lr = _positive_float("prefinetune_da", "lr", lr)
    num_aug = _positive_int("prefinetune_da", "num_aug", num_aug)
    if per_class is not None:
        per_class = _positive_int("prefinetune_da", "per_class", per_class)
    data_params = {"per_class": per_class, "augment": augment, "num_aug": num_aug}
    return [
        Phase(
            "prefinetune", trainable="top_layers", top_layers=top_layers,
            epochs=prefinetune_epochs, lr=lr, head_lr=lr, data="balanced_augmented",
            data_params=data_params,
        ),
        Phase("finetune"),
    ]  # fmt: skip


@STRATEGIES.register("drw")
def drw(
    *, epochs: int | None, reweight_epochs: int = 1, beta: float = 0.9999, lr_factor: float = 0.1
) -> list[Phase]:
    """Deferred re-weighting (Cao et al. 2019, "Learning Imbalanced Datasets with
    Label-Distribution-Aware Margin Loss", arXiv 1906.07413, §3.3).

    The first ``epochs - reweight_epochs`` epochs train with the loss's class re-weighting
    switched off, so the representation is learnt from the natural distribution; the last
    ``reweight_epochs`` re-weight (the configured weights, or class-balanced effective-number
    weights with β = ``beta`` when the loss has none) at ``lr_factor`` × the learning rates, as
    Cao et al. start re-weighting together with the learning-rate decay. With ``train.epochs``
    unset the first phase trains to convergence (early stopping keeps its best epoch) and the
    re-weighted ``reweight_epochs`` follow it: Cao et al. defer re-weighting until the
    representation has been learnt, which is what convergence of the plain phase says.
    """
    reweight_epochs = _positive_int("drw", "reweight_epochs", reweight_epochs)
    lr_factor = _positive_float("drw", "lr_factor", lr_factor)
    if not 0.0 < float(beta) < 1.0:
        raise LongtailError(f"strategy drw: beta must be in (0, 1), got {beta!r}")
    if epochs is not None and epochs <= reweight_epochs:
        raise LongtailError(
            f"strategy drw needs train.epochs > reweight_epochs ({epochs} <= {reweight_epochs}); "
            "raise train.epochs"
        )
    return [
        Phase(
            "plain", epochs=None if epochs is None else epochs - reweight_epochs,
            loss_weighting="none",
        ),
        Phase(
            "reweighted", epochs=reweight_epochs, loss_weighting="class_balanced",
            beta=float(beta), lr_factor=lr_factor,
        ),
    ]  # fmt: skip


def _sampler_spec(strategy: str, sampler: Any) -> str | dict[str, Any]:
    name = sampler.get("name") if isinstance(sampler, Mapping) else sampler
    if not isinstance(name, str) or is_off(name):
        raise LongtailError(
            f"strategy {strategy}: sampler {sampler!r} would re-train the classifier on the same "
            "imbalanced draw the representation saw; use class_balanced (default) or sqrt"
        )
    return dict(sampler) if isinstance(sampler, Mapping) else name


def _representation(epochs: int | None) -> Phase:
    """Decoupling's first stage: end to end, instance-balanced (Kang et al. 2020, §3).

    The loss's class re-weighting (longtail's default loss has some) is switched off here and in
    the re-balancing phases, where class-balanced sampling already re-balances: weighting on top
    would correct twice. A loss without class weights (focal, ldam, ...) is used as configured.
    """
    return Phase("representation", epochs=epochs, sampler="none", loss_weighting="plain")


@STRATEGIES.register("crt")
def crt(
    *,
    epochs: int | None,
    head_epochs: int = 10,
    head_lr: float = 1e-3,
    sampler: str | Mapping[str, Any] = "class_balanced",
) -> list[Phase]:
    """Classifier re-training, cRT (Kang et al. 2020, "Decoupling Representation and Classifier
    for Long-Tailed Recognition", ICLR, arXiv 1910.09217, §4).

    Phase 1 trains everything for ``train.epochs`` (or to convergence) with plain sampling, which
    learns the best representation; phase 2 freezes the encoder (and a document model's
    aggregator), re-initialises the final linear layer and trains it alone for ``head_epochs``
    at ``head_lr`` with ``sampler`` (class-balanced by default; the paper also tries
    square-root). Kang et al. re-train the classifier for 10 epochs, the default here: for short
    texts the head trains on embeddings computed once, so they take seconds (a document model
    runs its encoder each epoch: lower ``head_epochs`` there; early stopping keeps the best). Any loss, with its
    class re-weighting switched off in both phases (see :func:`_representation`). Every task
    (class-balanced sampling is multilabel-aware).
    """
    head_epochs = _positive_int("crt", "head_epochs", head_epochs)
    head_lr = _positive_float("crt", "head_lr", head_lr)
    return [
        _representation(epochs),
        Phase(
            "classifier", trainable="classifier", epochs=head_epochs, head_lr=head_lr,
            sampler=_sampler_spec("crt", sampler), head_init="reset", loss_weighting="plain",
        ),
    ]  # fmt: skip


def _tau_grid(tau: Any) -> tuple[float, ...]:
    values = tau if isinstance(tau, (list, tuple)) else [tau]
    ok = values and all(
        not isinstance(t, bool) and isinstance(t, (int, float)) and 0 <= t < float("inf")
        for t in values
    )
    if not ok:
        raise LongtailError(
            f"strategy tau_norm: tau must be a number >= 0 or a list of them, got {tau!r}; "
            "e.g. strategy.tau=0.5 or strategy.tau=[0,0.5,1]"
        )
    return tuple(sorted({float(t) for t in values}))


@STRATEGIES.register("tau_norm")
def tau_norm(*, epochs: int | None, tau: float | list[float] | None = None) -> list[Phase]:
    """τ-normalisation (Kang et al. 2020, arXiv 1910.09217, §4): after plain end-to-end training,
    ``w_c ← w_c / ‖w_c‖^τ`` for every class vector of the head, no further training.

    τ is chosen on validation, maximising the early-stopping metric, from ``tau`` (a list; a
    single number fixes it; default 0, 0.1, …, 2). The bias is kept (τ = 0 is the trained
    model); the saved head is the rescaled one. Multilabel: per label; with tuned thresholds it
    only moves each label's decision, with one τ for all labels.
    """
    return [
        _representation(epochs),
        Phase("tau_norm", trainable="none", tau_grid=TAU_GRID if tau is None else _tau_grid(tau)),
    ]


@STRATEGIES.register("lws")
def lws(
    *,
    epochs: int | None,
    scale_epochs: int = 10,
    scale_lr: float = 1e-2,
    sampler: str | Mapping[str, Any] = "class_balanced",
) -> list[Phase]:
    """Learnable weight scaling, LWS (Kang et al. 2020, arXiv 1910.09217, §4).

    After plain end-to-end training, the encoder and head are frozen and one scale ``s_c`` per
    class is learnt, ``s_c·(w_c·x + b_c)``, for ``scale_epochs`` at ``scale_lr`` with ``sampler``
    (class-balanced); the scales are then folded into the head. Binary and multiclass only: on a
    multilabel task a positive per-label scale leaves every decision as it was.
    """
    scale_epochs = _positive_int("lws", "scale_epochs", scale_epochs)
    scale_lr = _positive_float("lws", "scale_lr", scale_lr)
    return [
        _representation(epochs),
        Phase(
            "scales", trainable="scales", epochs=scale_epochs, head_lr=scale_lr,
            sampler=_sampler_spec("lws", sampler), tasks=("binary", "multiclass"),
            loss_weighting="plain",
        ),
    ]  # fmt: skip


def build_strategy(
    spec: str | Mapping[str, Any] | list[Phase], *, epochs: int | None
) -> list[Phase]:
    """Phases from a registered name, ``{"name": ..., **params}`` or a ready list of phases."""
    if isinstance(spec, list):
        if not spec or not all(isinstance(p, Phase) for p in spec):
            raise LongtailError("a strategy given as a list must be a non-empty list of Phase")
        return spec
    phases = STRATEGIES.build(spec, epochs=epochs)
    names = [p.name for p in phases]
    if len(set(names)) != len(names):
        raise LongtailError(f"strategy phases need distinct names, got {names}")
    return phases


def strategies_for(task: str) -> list[str]:
    """The registered strategies whose every phase (at their defaults) applies to ``task``."""
    fits = []
    for name in STRATEGIES.names():
        try:
            phases = build_strategy(name, epochs=10)
        except LongtailError:  # a strategy whose defaults need more (none today)
            continue
        if all(task in phase.tasks for phase in phases):
            fits.append(name)
    return fits


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
