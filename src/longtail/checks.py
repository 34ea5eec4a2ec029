"""The contracts longtail's own losses and samplers pass, as functions you can run on yours.

In the spirit of scikit-learn's ``check_estimator`` (and imbalanced-learn's use of it): a
component you register (``LOSSES.register``, ``SAMPLERS.register``) meets longtail's training
loop only after many steps; these checks meet it with the batches that break imbalanced
training first — a batch of one class, weights and logits at the extremes, bf16 logits, a new
epoch — and say in one line which promise failed.

    >>> from longtail.checks import check_loss, check_sampler
    >>> check_loss(MyLoss(), task="multiclass", num_classes=5)          # doctest: +SKIP
    ['scalar', 'finite_gradients', 'one_class_batch', 'extreme_logits', ...]
    >>> check_sampler(lambda y, task, seed: MySampler(y, seed=seed), task="multiclass")  # doctest: +SKIP

Every registered loss and sampler runs through these in longtail's own tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from longtail.errors import LongtailError
from longtail.tasks import TASKS


class ContractError(LongtailError):
    """A component broke one of the promises a check tests; the message names which."""


def _fail(component: Any, check: str, why: str) -> ContractError:
    name = getattr(component, "__name__", None) or type(component).__name__
    return ContractError(f"{name}: check {check!r} failed: {why}")


def _batch(
    task: str, num_classes: int, rows: int, generator: torch.Generator, one_class: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    logits = 3 * torch.randn(rows, num_classes, generator=generator)
    if task == "multilabel":
        targets = (torch.rand(rows, num_classes, generator=generator) < 0.3).float()
        if one_class:
            targets = torch.zeros(rows, num_classes)
            targets[:, -1] = 1.0
    elif one_class:
        targets = torch.full((rows,), num_classes - 1)
    else:
        targets = torch.randint(0, num_classes, (rows,), generator=generator)
    return logits, targets


def _loss_and_grad(loss_fn: Any, logits: torch.Tensor, targets: torch.Tensor, check: str):
    leaf = logits.detach().clone().requires_grad_()
    value = loss_fn(leaf, targets)
    if not isinstance(value, torch.Tensor) or value.dim() != 0:
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise _fail(loss_fn, check, f"returned {shape}, not a scalar tensor (reduce the batch)")
    if not torch.isfinite(value):
        raise _fail(loss_fn, check, f"the loss is {value.item()}")
    value.backward()
    if leaf.grad is None or not torch.isfinite(leaf.grad).all():
        raise _fail(loss_fn, check, "no finite gradient reaches the logits")
    if leaf.grad.abs().sum() == 0:
        raise _fail(loss_fn, check, "the gradient with respect to the logits is all zero")
    return value.detach(), leaf.grad


def check_loss(
    loss_fn: Any, task: str, num_classes: int | None = None, *, rows: int = 16, seed: int = 0
) -> list[str]:
    """Run ``loss_fn(logits, targets)`` through every check; returns the names of those passed.

    Args:
        loss_fn: a module or callable taking ``logits (B, C)`` and targets: class indices
            ``(B,)`` for ``binary`` / ``multiclass``, a float multi-hot ``(B, C)`` for
            ``multilabel`` (longtail's binary models have two logits).
        task: one of :data:`longtail.tasks.TASKS`.
        num_classes: logits per row (default: 2 for binary, 5 otherwise).

    Raises:
        ContractError: the first check that fails, and why.
    """
    if task not in TASKS:
        raise LongtailError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
    c = num_classes or (2 if task == "binary" else 5)
    generator = torch.Generator().manual_seed(seed)
    logits, targets = _batch(task, c, rows, generator)
    passed = []

    value, _ = _loss_and_grad(loss_fn, logits, targets, "scalar_finite_gradients")
    passed.append("scalar_finite_gradients")

    one_logits, one_targets = _batch(task, c, rows, generator, one_class=True)
    _loss_and_grad(loss_fn, one_logits, one_targets, "one_class_batch")
    passed.append("one_class_batch")

    extreme = 1e4 * torch.sign(logits + 0.1)
    _loss_and_grad(loss_fn, extreme, targets, "extreme_logits")
    passed.append("extreme_logits")

    low = loss_fn(logits.bfloat16(), targets)
    if low.dtype != torch.float32 or not torch.isfinite(low):
        raise _fail(loss_fn, "low_precision", f"bf16 logits gave {low.dtype} {low.item()}, not a finite float32 loss")  # fmt: skip
    passed.append("low_precision")

    kept_logits, kept_targets = logits.clone(), targets.clone()
    again = loss_fn(logits, targets).detach()
    if not torch.equal(logits, kept_logits) or not torch.equal(targets, kept_targets):
        raise _fail(loss_fn, "inputs_unchanged", "the loss changed its logits or targets in place")
    passed.append("inputs_unchanged")
    if not torch.allclose(again, value, rtol=1e-5, atol=1e-6):
        raise _fail(loss_fn, "deterministic", f"the same batch gave {value.item()} then {again.item()}")  # fmt: skip
    passed.append("deterministic")
    return passed


def _labels(task: str, rng: np.random.Generator) -> np.ndarray:
    """600 rows, class sizes 400 / 120 / 60 / 20 (or label rates 0.6 / 0.2 / 0.05 / 0.02)."""
    if task == "multilabel":
        y = (rng.random((600, 4)) < np.array([0.6, 0.2, 0.05, 0.02])).astype(np.float32)
        y[:3, 3] = 1.0
        return y
    sizes = [500, 100] if task == "binary" else [400, 120, 60, 20]
    return rng.permutation(np.repeat(np.arange(len(sizes)), sizes)).astype(np.int64)


def _draw(make: Callable[..., Any], y: np.ndarray, task: str, seed: int, epoch: int) -> np.ndarray:
    sampler = make(y, task, seed)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
    return np.asarray(list(sampler))


def check_sampler(
    make: Callable[[np.ndarray, str, int], Any], task: str, *, seed: int = 0
) -> list[str]:
    """Run a sampler through every check; returns the names of those passed.

    Args:
        make: ``(labels, task, seed) → sampler``: a ``torch.utils.data.Sampler`` of row indices,
            with ``set_epoch(epoch)`` if it draws anew each epoch (as longtail's do). Labels are
            class indices ``(n,)`` or a multi-hot ``(n, C)`` for ``multilabel``.
        task: one of :data:`longtail.tasks.TASKS`.

    Raises:
        ContractError: the first check that fails, and why.
    """
    if task not in TASKS:
        raise LongtailError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
    y = _labels(task, np.random.default_rng(seed))
    passed = []

    sampler = make(y, task, seed)
    indices = np.asarray(list(sampler))
    if len(indices) != len(sampler):
        raise _fail(make, "length", f"len(sampler) is {len(sampler)} but it yields {len(indices)} indices")  # fmt: skip
    if len(indices) == 0 or indices.dtype.kind not in "iu":
        raise _fail(make, "length", "it yields no integer row indices")
    if indices.min() < 0 or indices.max() >= len(y):
        raise _fail(make, "in_range", f"indices span {indices.min()}..{indices.max()} for {len(y)} rows")  # fmt: skip
    passed += ["length", "in_range"]

    before = torch.random.get_rng_state(), np.random.get_state()[1].copy()
    first = _draw(make, y, task, seed + 3, 1)
    after = torch.random.get_rng_state(), np.random.get_state()[1]
    if not torch.equal(before[0], after[0]) or not np.array_equal(before[1], after[1]):
        raise _fail(make, "global_rng_untouched", "drawing changed torch's or numpy's global random state; seed a generator from (seed, epoch)")  # fmt: skip
    passed.append("global_rng_untouched")
    if not np.array_equal(first, _draw(make, y, task, seed + 3, 1)):
        raise _fail(make, "seeded", "the same seed and epoch gave different indices")
    if np.array_equal(first, _draw(make, y, task, seed + 4, 1)):
        raise _fail(make, "seeded", "another seed gave the same indices")
    if hasattr(sampler, "set_epoch") and np.array_equal(first, _draw(make, y, task, seed + 3, 2)):
        raise _fail(make, "seeded", "a new epoch (set_epoch) gave the same indices")
    passed.append("seeded")

    loader = DataLoader(TensorDataset(torch.as_tensor(y)), batch_size=64, sampler=make(y, task, seed))  # fmt: skip
    if sum(len(batch) for (batch,) in loader) != len(sampler):
        raise _fail(make, "data_loader", "a DataLoader over it does not yield len(sampler) rows")
    passed.append("data_loader")
    return passed
