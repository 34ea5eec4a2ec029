"""Samplers for imbalanced training data, all registered in :data:`SAMPLERS`.

Build one with :func:`build_sampler` from a name, a ``{"name": ..., **params}`` mapping or a ready
sampler. ``"none"`` returns ``None``: the data loader shuffles as usual. Every other sampler has
``set_epoch(epoch)``; call it at the start of each epoch to get a new, reproducible draw.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch.utils.data import Sampler

# Importing the sampler modules registers them.
from longtail.sampling import resample, weighted  # noqa: F401
from longtail.sampling.base import SAMPLERS, EpochSampler, epoch_generator, epoch_seed, label_groups
from longtail.sampling.resample import ResampledSampler
from longtail.sampling.weighted import GroupWeightedSampler

__all__ = [
    "SAMPLERS",
    "EpochSampler",
    "GroupWeightedSampler",
    "ResampledSampler",
    "build_sampler",
    "epoch_length_note",
    "epoch_generator",
    "epoch_seed",
    "label_groups",
]


@SAMPLERS.register("none")
def no_sampler(*, y: Any, task: str, seed: int) -> None:
    """Plain shuffling by the data loader."""
    return None


def build_sampler(
    spec: str | Mapping[str, Any] | Sampler[int] | None, *, y: Any, task: str, seed: int = 0
) -> Sampler[int] | None:
    """Create a sampler from a registered name, a spec mapping, or pass a sampler through.

    Args:
        spec: ``"class_balanced"``, ``{"name": "undersample", "ratio": 0.5}``, a sampler, or
            ``None`` (same as ``"none"``).
        y: Training labels: int ``(n,)`` single-label or multi-hot ``(n, C)`` multilabel.
        task: ``"binary"``, ``"multiclass"`` or ``"multilabel"``.
        seed: Base seed; epoch ``e`` draws from ``(seed, e)``.

    Returns:
        A sampler over ``range(len(y))``, or ``None`` for plain shuffling.

    Example:
        >>> sampler = build_sampler("sqrt", y=np.array([0, 0, 0, 1]), task="binary", seed=0)
    """
    if spec is None:
        return None
    return SAMPLERS.build(spec, y=y, task=task, seed=seed)


#: An epoch this many times the training rows or more is worth a line in the log.
LONG_EPOCH_FACTOR = 2.0


def epoch_length_note(sampler: Sampler[int] | None, rows: int) -> str | None:
    """A log line when ``sampler`` makes an epoch much longer than the ``rows`` it draws from.

    Oversampling raises every class to the majority's count, so an epoch has about *classes ×
    majority* rows: 4× the data on Reuters R8, about 22× on R52. Training then costs that much
    more per epoch, which a user comparing it with plain training by epochs should know.
    """
    if sampler is None or not hasattr(sampler, "__len__") or rows <= 0:
        return None
    drawn = len(sampler)
    if drawn < LONG_EPOCH_FACTOR * rows:
        return None
    return (
        f"sampler: an epoch draws {drawn:,} rows, {drawn / rows:.1f}x the {rows:,} training rows, "
        "so each epoch costs that much more; class_balanced balances at the training set's size"
    )
