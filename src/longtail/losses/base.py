"""The loss registry and the small pieces every loss shares.

Each loss module registers a factory ``factory(*, task, class_counts, num_docs, **params)`` with
:func:`register_loss`, which also records the tasks the loss supports, so an unsupported task
fails at build time with the list of losses that do support it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from longtail.errors import LongtailError
from longtail.losses.weights import class_weights
from longtail.registry import Registry
from longtail.tasks import TASKS

LOSSES: Registry[nn.Module] = Registry("loss")
_TASKS_OF: dict[str, tuple[str, ...]] = {}
_HINT_OF: dict[str, str] = {}

#: A class weight choice: a scheme name, explicit per-class floats, or ``None`` for no weights.
WeightSpec = str | Sequence[float] | np.ndarray | None


def register_loss(
    name: str, tasks: Sequence[str], hint: str | None = None
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a loss factory under ``name`` for the given tasks; rejects other tasks.

    ``hint`` is appended to the error for an unsupported task (why, and what to use instead).
    """
    supported = tuple(tasks)

    def decorator(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        def checked(*, task: str, **kwargs: Any) -> nn.Module:
            require_task(name, task)
            return factory(task=task, **kwargs)

        checked.__doc__ = factory.__doc__
        checked.__name__ = getattr(factory, "__name__", name)
        checked.__wrapped__ = factory  # inspect.signature sees the loss's own parameters
        _TASKS_OF[name] = supported
        if hint:
            _HINT_OF[name] = hint
        LOSSES.register(name)(checked)
        return factory

    return decorator


def loss_tasks(name: str) -> tuple[str, ...]:
    """The tasks a registered loss supports."""
    LOSSES.get(name)
    return _TASKS_OF[name]


def require_task(name: str, task: str) -> None:
    if task not in TASKS:
        raise LongtailError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
    if task not in _TASKS_OF[name]:
        able = [loss for loss in LOSSES.names() if task in _TASKS_OF.get(loss, ())]
        hint = f"; {_HINT_OF[name]}" if name in _HINT_OF else ""
        raise LongtailError(
            f"loss {name!r} does not support task {task!r}{hint}; losses for {task}: "
            f"{', '.join(able)}"
        )


def with_named_weights(spec: Any, names: Sequence[str]) -> Any:
    """A loss spec whose ``weights`` are given by label name (``{"spam": 5, "ham": 1}``), with
    them as one float per class in ``names`` order; a name not given weighs 1. A name that is
    not a label is a one-line error listing the labels. Any other spec is returned as it is."""
    if not isinstance(spec, Mapping) or not isinstance(spec.get("weights"), Mapping):
        return spec
    given = {str(name): value for name, value in spec["weights"].items()}
    unknown = [name for name in given if name not in set(names)]
    if unknown:
        shown = ", ".join(list(names)[:20]) + (", ..." if len(names) > 20 else "")
        raise LongtailError(
            f"loss.weights names {', '.join(repr(n) for n in unknown)}, which "
            f"{'is not a label' if len(unknown) == 1 else 'are not labels'}; the labels are: {shown}"
        )
    weights = []
    for name in names:
        value = given.get(name, 1.0)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise LongtailError(f"loss.weights[{name!r}] must be a number, got {value!r}")
        weights.append(float(value))
    return {**spec, "weights": weights}


def resolve_class_weights(
    spec: WeightSpec,
    class_counts: Sequence[float] | np.ndarray,
    *,
    beta: float = 0.999,
    max_weight: float | None = None,
) -> torch.Tensor | None:
    """Per-class weights from a scheme name or explicit floats; ``None``/``"none"`` → ``None``."""
    if spec is None or (isinstance(spec, str) and spec == "none"):
        return None
    counts = np.asarray(class_counts, dtype=np.float64)
    if isinstance(spec, str):
        weights = class_weights(counts, spec, beta=beta, max_weight=max_weight)
    else:
        weights = np.asarray(spec, dtype=np.float64)
        if weights.shape != counts.shape:
            raise LongtailError(
                f"got {weights.size} class weights for {counts.size} classes; give one per class"
            )
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise LongtailError("class weights must be finite and non-negative")
        if max_weight is not None:
            weights = np.minimum(weights, weights[weights > 0].min() * max_weight)
    return as_weight_tensor(weights)


def as_weight_tensor(weights: np.ndarray | float) -> torch.Tensor:
    return torch.tensor(np.asarray(weights, dtype=np.float64), dtype=torch.float32)


def weighted_mean(values: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """``sum(w * v) / sum(w)``: a weighted average, bounded by ``max(v)`` whatever the weights."""
    if weights is None:
        return values.mean()
    weights = weights.expand_as(values)
    # Dividing by the max first keeps both sums far from float32 overflow; the ratio is unchanged.
    weights = weights / weights.detach().max().clamp_min(torch.finfo(weights.dtype).tiny)
    return (weights * values).sum() / weights.sum().clamp_min(torch.finfo(values.dtype).tiny)


def class_count_array(class_counts: Sequence[float] | np.ndarray) -> np.ndarray:
    counts = np.asarray(class_counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size == 0:
        raise LongtailError(f"class_counts must be a non-empty 1-D array, got shape {counts.shape}")
    return counts


def multilabel_reduce(
    pos_loss: torch.Tensor,
    neg_loss: torch.Tensor,
    targets: torch.Tensor,
    pos_weight: torch.Tensor | None,
    neg_weight: torch.Tensor | None,
    normalize: bool,
) -> torch.Tensor:
    """Reduce element-wise multilabel losses ``(N, C)`` to a scalar.

    Element ``(i, c)`` contributes ``W⁺ y · pos_loss + W⁻ (1 - y) · neg_loss``. With
    ``normalize`` the sum is divided by the total weight actually used in the batch,
    ``Σ W⁺ y + W⁻ (1 - y)``: the loss is then a weighted *average* of per-element losses, and the
    gradient w.r.t. the logits has L2 norm at most 1 for any weights (each element's derivative is
    bounded by its weight, and ``‖W‖₂ ≤ ‖W‖₁``). Without it the sum is divided by ``N·C`` (the
    :func:`torch.nn.functional.binary_cross_entropy_with_logits` convention), so weights of 1e6
    give gradients about 1e6 times larger.
    """
    pos = targets if pos_weight is None else targets * pos_weight
    neg = (1.0 - targets) if neg_weight is None else (1.0 - targets) * neg_weight
    if not normalize:
        return (pos * pos_loss + neg * neg_loss).sum() / targets.numel()
    # Dividing by the max first keeps both sums far from float32 overflow; the ratio is unchanged.
    scale = torch.maximum(pos.detach().max(), neg.detach().max()).clamp_min(1e-30)
    pos, neg = pos / scale, neg / scale
    return (pos * pos_loss + neg * neg_loss).sum() / (pos + neg).sum().clamp_min(1e-30)
