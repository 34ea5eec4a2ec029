"""Probabilities from logits, and temperature scaling.

Temperature scaling (Guo, Pleiss, Sun, Weinberger, 2017, arXiv 1706.04599) divides all logits by one
scalar ``T > 0`` fitted on validation data by minimising the negative log-likelihood. It changes
confidence but never the ranking within a row, so argmax accuracy is untouched; thresholds should be
tuned *after* calibration, on the calibrated probabilities. Multilabel tasks share one ``T`` over all
labels and minimise binary cross-entropy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from longtail.errors import LongtailError
from longtail.tasks import ByTask

# T is kept inside [1/100, 100]: beyond that the validation set is separable (NLL keeps falling as
# T -> 0) or carries no signal, and an extreme T would only hide that.
MIN_TEMPERATURE = 1e-2
MAX_TEMPERATURE = 1e2


def probabilities(logits: np.ndarray, task: str, temperature: float = 1.0) -> np.ndarray:
    """Softmax (binary/multiclass) or element-wise sigmoid (multilabel) of ``logits / temperature``.

    Args:
        logits: ``(n, C)`` raw model outputs. For ``binary`` a single logit column (or a 1-D array)
            is also accepted and read as the positive-class logit.
        task: ``"binary"``, ``"multiclass"`` or ``"multilabel"``.
        temperature: ``T > 0``; 1.0 leaves the logits unchanged.

    Returns:
        ``float64`` probabilities of shape ``(n, C)`` (``(n, 2)`` for binary), computed without
        overflow for any finite logits.
    """
    return _PROBABILITIES[task](logits, temperature)


def binary_probabilities(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """``(n, 2)`` probabilities: the softmax of ``(n, 2)`` logits, or from one positive-class
    logit column (``(n, 1)`` or ``(n,)``) its sigmoid and one minus it."""
    z = _scaled(logits, temperature)
    if z.ndim == 1 or z.shape[-1] == 1:
        positive = _sigmoid(z.reshape(-1))
        return np.stack([1.0 - positive, positive], axis=1)
    return _softmax(z)


def multiclass_probabilities(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """The row-wise softmax of ``(n, C)`` logits divided by ``temperature``."""
    return _softmax(_scaled(logits, temperature))


def multilabel_probabilities(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """The element-wise sigmoid of ``(n, C)`` logits divided by ``temperature``."""
    return _sigmoid(_two_dimensional(_scaled(logits, temperature)))


def fit_temperature(logits: np.ndarray, y_true: np.ndarray, task: str) -> float:
    """Fit one temperature on validation logits by minimising NLL (Guo et al., 2017).

    The optimisation is over ``log T`` (so ``T`` stays positive) with L-BFGS and a strong-Wolfe line
    search in float64; the NLL is convex in ``1/T``, so this finds the global minimum. The result
    is clipped to ``[MIN_TEMPERATURE, MAX_TEMPERATURE]`` and never has a higher NLL than ``T = 1``.

    Args:
        logits: validation logits ``(n, C)``.
        y_true: validation labels, ``(n,)`` class indices or ``(n, C)`` multi-hot.
        task: ``"binary"``, ``"multiclass"`` or ``"multilabel"``.

    Returns:
        The temperature as a float; ``1.0`` for degenerate inputs (no rows, or a single class,
        or a multilabel matrix that is all zeros or all ones) where NLL cannot be judged.

    References:
        Guo, Pleiss, Sun, Weinberger (2017). On Calibration of Modern Neural Networks.
        arXiv 1706.04599.

    Example:
        >>> T = fit_temperature(val_logits, val_labels, "multiclass")
        >>> probs = probabilities(test_logits, "multiclass", temperature=T)
    """
    problem = _prepare(logits, y_true, task)
    if problem is None:
        return 1.0
    nll = problem.nll
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [log_t], lr=1.0, max_iter=100, tolerance_grad=1e-10, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = nll(log_t)
        loss.backward()
        return loss

    optimizer.step(closure)
    bounds = (np.log(MIN_TEMPERATURE), np.log(MAX_TEMPERATURE))
    fitted = float(np.clip(log_t.detach().item(), *bounds)) if torch.isfinite(log_t).all() else 0.0
    with torch.no_grad():
        zero = torch.zeros(1, dtype=torch.float64)
        if nll(zero + fitted) > nll(zero):
            return 1.0
    return float(np.exp(fitted))


def negative_log_likelihood(
    logits: np.ndarray, y_true: np.ndarray, task: str, temperature: float = 1.0
) -> float:
    """Mean NLL (cross-entropy, or binary cross-entropy for multilabel) at a given temperature."""
    problem = _prepare(logits, y_true, task, allow_degenerate=True)
    if problem is None:
        return float("nan")
    log_t = torch.tensor([np.log(temperature)], dtype=torch.float64)
    with torch.no_grad():
        return float(problem.nll(log_t))


@dataclass(frozen=True)
class _Problem:
    """Validation logits and targets as tensors, and the loss temperature scaling minimises."""

    logits: torch.Tensor
    targets: torch.Tensor
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    #: one class only (multilabel: every target 0, or every target 1): NLL cannot judge ``T``
    degenerate: bool

    def nll(self, log_t: torch.Tensor) -> torch.Tensor:
        return self.loss(self.logits * torch.exp(-log_t), self.targets)


def _prepare(
    logits: np.ndarray, y_true: np.ndarray, task: str, allow_degenerate: bool = False
) -> _Problem | None:
    """Validate and convert; ``None`` for inputs temperature cannot be fitted on."""
    problem = _PROBLEMS[task](logits, y_true)
    if problem is None or (problem.degenerate and not allow_degenerate):
        return None
    return problem


def _binary_problem(logits: np.ndarray, y_true: np.ndarray) -> _Problem | None:
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim == 1 or z.shape[-1] == 1:  # one positive-class logit
        z = np.stack([np.zeros(len(z)), z.reshape(-1)], axis=1)
    return _single_label_problem(z, y_true)


def _single_label_problem(logits: np.ndarray, y_true: np.ndarray) -> _Problem | None:
    """Class indices ``(n,)`` against the softmax: cross-entropy."""
    z, y = _checked_logits(logits, y_true)
    if len(z) == 0:
        return None
    y = y.astype(np.int64).reshape(-1)
    if y.min() < 0 or y.max() >= z.shape[1]:
        raise LongtailError(f"labels must be in [0, {z.shape[1]}), got {y.min()}..{y.max()}")
    degenerate = len(np.unique(y)) < 2
    return _Problem(torch.from_numpy(z), torch.from_numpy(y), F.cross_entropy, degenerate)


def _multilabel_problem(logits: np.ndarray, y_true: np.ndarray) -> _Problem | None:
    """A multi-hot ``(n, C)`` against element-wise sigmoids: binary cross-entropy."""
    z, y = _checked_logits(logits, y_true)
    if len(z) == 0:
        return None
    if y.shape != z.shape:
        raise LongtailError(f"multilabel y_true shape {y.shape} != logits shape {z.shape}")
    y = (y > 0.5).astype(np.float64)
    degenerate = bool(y.min() == y.max())
    loss = F.binary_cross_entropy_with_logits
    return _Problem(torch.from_numpy(z), torch.from_numpy(y), loss, degenerate)


def _checked_logits(logits: np.ndarray, y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y_true)
    if z.ndim != 2 or not np.all(np.isfinite(z)):
        raise LongtailError(f"logits must be a finite (n, C) array, got shape {z.shape}")
    if len(y) != len(z):
        raise LongtailError(f"{len(y)} labels but {len(z)} rows of logits")
    return z, y


def _scaled(logits: np.ndarray, temperature: float) -> np.ndarray:
    if not temperature > 0 or not np.isfinite(temperature):
        raise LongtailError(f"temperature must be a finite number > 0, got {temperature}")
    return np.asarray(logits, dtype=np.float64) / float(temperature)


def _two_dimensional(z: np.ndarray) -> np.ndarray:
    if z.ndim != 2:
        raise LongtailError(f"logits must have shape (n, C), got {z.shape}")
    return z


def _softmax(z: np.ndarray) -> np.ndarray:
    z = _two_dimensional(z)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # exp(-log(1 + exp(-z))) never overflows: logaddexp is stable for both signs of z.
    return np.exp(-np.logaddexp(0.0, -z))


_PROBABILITIES = ByTask(
    binary=binary_probabilities,
    multiclass=multiclass_probabilities,
    multilabel=multilabel_probabilities,
)
_PROBLEMS = ByTask(
    binary=_binary_problem,
    multiclass=_single_label_problem,
    multilabel=_multilabel_problem,
)
