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
from typing import Any

from longtail.config import is_off
from longtail.errors import LongtailError
from longtail.registry import Registry
from longtail.training.phase import TAU_GRID, Phase

STRATEGIES: Registry[list] = Registry("strategy")


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
