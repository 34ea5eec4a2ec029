"""Sharpness-aware minimisation, plain and asymmetric (a larger ascent radius for minority classes).

SAM (Foret et al. 2021, arXiv 2010.01412) replaces the gradient at the weights ``w`` by the gradient
at the worst nearby point ``w + ε``, ``ε = ρ g / ‖g‖``: it seeks flat minima. Shwartz-Ziv et al.
(2023, "Simplifying Neural Network Training Under Class Imbalance", arXiv 2312.02517) found that a
*larger* ascent radius for minority-class examples (their SAM-A) widens the margin around the few
minority examples instead of letting the network memorise them.

How one step works here, with the rows of the batch split into radius groups (one group for
``sam``; majority and minority rows for ``asymmetric_sam``):

1. one forward pass at ``w``; for each group ``g`` the gradient ``g_g`` of that group's share of
   the loss (rows of other groups contribute nothing);
2. for each group: move to ``w + ρ_g g_g / ‖g_g‖``, forward, backward of the group's share of the
   loss (gradients accumulate), move back by copying the saved ``w`` (as the reference
   implementations of Foret et al. and davda54's ``sam.py`` do: subtracting ``ε`` again rounds,
   so the weights would drift from ``w`` in the last bits, differently on each machine);
3. the optimizer steps with the accumulated gradient — the gradient of the whole batch's loss,
   each row evaluated at the worst point of *its own* class's radius.

A group's share is ``loss(rows of g) × |g| / B``, so with a mean-reduced loss the shares add up to
the batch loss. Cost: one extra forward and backward per group (two groups: about 2× SAM, 3× plain
training). Under data parallelism the ascent gradients stay local to each process (m-sharpness, as
in Foret et al.), and only the last backward pass synchronises the accumulated gradients.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from typing import Any

import numpy as np
import torch
from torch import nn

from longtail.config import OFF
from longtail.errors import LongtailError
from longtail.registry import Registry

SAM_WRAPPERS: Registry[Any] = Registry("optimizer wrapper")


def minority_classes(class_counts: Sequence[float] | np.ndarray) -> np.ndarray:
    """Boolean ``(C,)``: classes with fewer training documents than the mean class count.

    Binary 95 / 5 → the positive class; a long tail → every class below the average size. With
    equal counts no class is a minority (asymmetric SAM then equals SAM).
    """
    counts = np.asarray(class_counts, dtype=np.float64)
    return counts < counts.mean()


class SharpnessAwareMinimization:
    """SAM with one ascent radius ``ρ`` per class.

    Args:
        class_radius: ``(C,)`` ascent radius per class (C = number of classes / labels).
        task: ``"binary"``, ``"multiclass"`` or ``"multilabel"``; a multilabel row takes the
            largest radius among its positive labels (rows without labels take the smallest).
        adaptive: scale the ascent by ``|w|`` per parameter (ASAM, Kwon et al. 2021,
            arXiv 2102.11600); ρ is then typically ~10× larger.

    References:
        Foret et al., 2021. Sharpness-Aware Minimization for Efficiently Improving
        Generalization. arXiv 2010.01412.
        Shwartz-Ziv et al., 2023. Simplifying Neural Network Training Under Class Imbalance.
        arXiv 2312.02517.

    Example:
        >>> sam = asymmetric_sam(class_counts=np.array([950, 50]), task="binary", rho=0.05)
        >>> loss = sam.step(params, forward, loss_of_rows, target, backward=torch.Tensor.backward)
    """

    def __init__(
        self, class_radius: Sequence[float] | np.ndarray, *, task: str, adaptive: bool = False
    ) -> None:
        radius = np.asarray(class_radius, dtype=np.float64)
        if radius.ndim != 1 or radius.size == 0 or not np.all(np.isfinite(radius)):
            raise LongtailError(f"the SAM radius needs one finite value per class, got {radius!r}")
        if np.any(radius < 0):
            raise LongtailError(
                f"sam.rho must be >= 0, got {radius.min()}; 0 switches the ascent off"
            )
        self.class_radius = radius
        self.task = task
        self.adaptive = adaptive

    def row_radius(self, target: torch.Tensor) -> torch.Tensor:
        """The ascent radius of each row of a batch, ``(B,)``."""
        radius = torch.as_tensor(self.class_radius, dtype=torch.float64, device=target.device)
        if target.ndim == 1:
            return radius[target.long()]
        positive = target > 0
        per_label = torch.where(positive, radius, torch.full_like(radius, -1.0))
        best = per_label.max(dim=1).values
        return torch.where(best < 0, radius.min(), best)

    def groups(
        self, target: torch.Tensor, *, every_level: bool = False
    ) -> list[tuple[float, torch.Tensor]]:
        """``(radius, row indices)`` per distinct radius present in the batch, or with
        ``every_level`` per distinct radius of any class (some groups then have no rows)."""
        radius = self.row_radius(target)
        levels = np.unique(self.class_radius) if every_level else torch.unique(radius).tolist()
        return [(float(value), torch.nonzero(radius == value).flatten()) for value in levels]

    def step(
        self,
        params: Sequence[nn.Parameter],
        forward: Callable[[], Any],
        loss_of_rows: Callable[[Any, torch.Tensor], torch.Tensor],
        target: torch.Tensor,
        *,
        backward: Callable[[torch.Tensor], None],
        no_sync: Callable[[], Any] = nullcontext,
        every_level: bool = False,
    ) -> torch.Tensor:
        """Leave in ``p.grad`` the sharpness-aware gradient; return the loss at ``w`` (detached).

        Args:
            params: the trainable parameters (gradients must be zero on entry).
            forward: runs the model on the batch and returns its outputs.
            loss_of_rows: ``(outputs, rows) → loss`` of those rows (mean-reduced).
            target: the batch's targets, to find each row's radius.
            backward: ``accelerator.backward`` (scales for fp16) or ``Tensor.backward``.
            no_sync: context manager that suspends gradient synchronisation across processes.
            every_level: one pass per radius level even when the batch has no row of it, so
                that every process runs the same number of forward passes (data parallelism
                synchronises buffers in each one; unequal counts would deadlock).
        """
        params = [p for p in params if p.requires_grad]
        batch = target.shape[0]
        groups = self.groups(target, every_level=every_level)
        if not every_level:
            groups = [(r, rows) for r, rows in groups if len(rows)]
        outputs = forward()
        full = loss_of_rows(outputs, torch.arange(batch, device=target.device))
        ascents: list[tuple[float, list[torch.Tensor | None]]] = []
        for i, (radius, rows) in enumerate(groups):
            share = full if len(groups) == 1 else self._share(outputs, rows, batch, loss_of_rows)
            with no_sync():
                backward(share, retain_graph=i < len(groups) - 1)
            ascents.append((radius, [None if p.grad is None else p.grad.clone() for p in params]))
            for p in params:
                p.grad = None
        del outputs
        saved: dict[int, torch.Tensor] = {}  # w of each parameter an ascent moves, copied once
        for i, ((radius, grads), (_, rows)) in enumerate(zip(ascents, groups, strict=True)):
            shifts = self._ascent(params, grads, radius)
            with torch.no_grad():
                for j, (p, e) in enumerate(zip(params, shifts, strict=True)):
                    if e is not None:
                        if j not in saved:
                            saved[j] = p.detach().clone()
                        p.add_(e)
            outputs = forward()
            share = self._share(outputs, rows, batch, loss_of_rows)
            context = no_sync if i < len(groups) - 1 else nullcontext
            with context():
                backward(share)
            with torch.no_grad():
                for j, (p, e) in enumerate(zip(params, shifts, strict=True)):
                    if e is not None:
                        p.copy_(saved[j])
        return full.detach()

    @staticmethod
    def _share(
        outputs: Any, rows: torch.Tensor, batch: int, loss_of_rows: Callable
    ) -> torch.Tensor:
        """The group's share of the batch loss; a zero still wired to the graph for no rows."""
        if len(rows) == 0:
            first = outputs[0] if isinstance(outputs, tuple) else outputs
            return first.float().sum() * 0.0
        return loss_of_rows(outputs, rows) * (len(rows) / batch)

    def _ascent(
        self, params: list[nn.Parameter], grads: list[torch.Tensor | None], radius: float
    ) -> list[torch.Tensor | None]:
        """``ε = ρ g / ‖g‖`` (ASAM: ``ρ |w|² g / ‖|w| g‖``), or nothing for ρ = 0 or g = 0."""
        scaled = [
            None if g is None else (g * p.detach().abs() if self.adaptive else g)
            for p, g in zip(params, grads, strict=True)
        ]
        norms = [s.float().norm() for s in scaled if s is not None]
        norm = torch.stack(norms).norm() if norms else torch.tensor(0.0)
        if radius == 0.0 or not torch.isfinite(norm) or float(norm) == 0.0:
            return [None] * len(params)
        shifts: list[torch.Tensor | None] = []
        for p, s in zip(params, scaled, strict=True):
            if s is None:
                shifts.append(None)
                continue
            e = s * (radius / (float(norm) + 1e-12))
            shifts.append(e * p.detach().abs() if self.adaptive else e)
        return shifts


def _check_rho(name: str, value: float) -> float:
    if not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
        raise LongtailError(f"sam.{name} must be a number >= 0, got {value!r}")
    return float(value)


@SAM_WRAPPERS.register(OFF)
def no_sam(*, class_counts: Sequence[float] | np.ndarray, task: str) -> None:
    """``none``: plain optimizer steps, no wrapper (the default)."""
    del class_counts, task


@SAM_WRAPPERS.register("sam")
def sam(
    *, class_counts: Sequence[float] | np.ndarray, task: str, rho: float = 0.05,
    adaptive: bool = False,
) -> SharpnessAwareMinimization:  # fmt: skip
    """Plain SAM: the same radius ``rho`` for every row (Foret et al. 2021, arXiv 2010.01412)."""
    rho = _check_rho("rho", rho)
    counts = np.asarray(class_counts, dtype=np.float64)
    return SharpnessAwareMinimization(np.full(counts.shape, rho), task=task, adaptive=adaptive)


@SAM_WRAPPERS.register("asymmetric_sam")
def asymmetric_sam(
    *, class_counts: Sequence[float] | np.ndarray, task: str, rho: float = 0.05,
    minority_rho: float = 0.1, adaptive: bool = False,
) -> SharpnessAwareMinimization:  # fmt: skip
    """SAM-A: radius ``minority_rho`` for rows of minority classes, ``rho`` for the others.

    Minority classes are those below the mean class count (:func:`minority_classes`); a
    multilabel row is a minority row when any of its labels is. Shwartz-Ziv et al. 2023,
    arXiv 2312.02517.
    """
    rho, minority_rho = _check_rho("rho", rho), _check_rho("minority_rho", minority_rho)
    minority = minority_classes(class_counts)
    radius = np.where(minority, minority_rho, rho)
    return SharpnessAwareMinimization(radius, task=task, adaptive=adaptive)


def build_sam(
    spec: str | Mapping[str, Any] | SharpnessAwareMinimization | None,
    *,
    class_counts: Sequence[float] | np.ndarray,
    task: str,
) -> SharpnessAwareMinimization | None:
    """A registered name (``"none"``, or ``None``: plain steps, no wrapper), a spec or an
    object."""
    spec = OFF if spec is None else spec
    return SAM_WRAPPERS.build(spec, class_counts=np.asarray(class_counts), task=task)
