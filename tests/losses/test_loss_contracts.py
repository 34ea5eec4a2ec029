"""Contract tests run over every registered loss and every task it supports."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from longtail.checks import check_loss
from longtail.errors import LongtailError
from longtail.losses import LOSSES, build_loss, loss_tasks, resolved_loss_spec
from longtail.tasks import TASKS

NUM_CLASSES = {"binary": 2, "multiclass": 5, "multilabel": 6}
CASES = [(name, task) for name in LOSSES.names() for task in loss_tasks(name)]
UNSUPPORTED = [
    (name, task) for name in LOSSES.names() for task in TASKS if task not in loss_tasks(name)
]

# The heaviest weighting each loss offers; a newly registered loss must add its entry here.
EXTREME_PARAMS = {
    "ce": {"weights": "inverse", "label_smoothing": 0.2, "class_conditional_smoothing": True},
    "bce": {"weights": "inverse", "pos_weight": "ratio"},
    "focal": {"weights": "inverse", "alpha": "inverse"},
    "asymmetric": {"weights": "inverse"},
    "ldam": {"drw_beta": 0.999999},
    "logit_adjusted": {"tau": 3.0, "weights": "inverse"},
    "balanced_softmax": {"weights": "inverse"},
    "distribution_balanced": {
        "smooth_alpha": 0.0,
        "smooth_beta": 100.0,
        "kappa": 1.0,
        "neg_scale": 10.0,
    },
    "cb_ntr": {"cb_beta": 0.999999, "kappa": 1.0, "neg_scale": 10.0},
}

# Losses whose weights come from the class counts only (no ``weights`` parameter to override).
NO_USER_WEIGHTS = {"ldam", "distribution_balanced", "cb_ntr"}


def _counts(task: str) -> np.ndarray:
    """Class counts spanning 1..1e6 (log-spaced), so inverse weights span 1..1e6."""
    return np.round(np.logspace(6, 0, NUM_CLASSES[task]))


def _batch(task: str, n: int = 16, one_class: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    c = NUM_CLASSES[task]
    logits = (3 * torch.randn(n, c)).requires_grad_()
    if task == "multilabel":
        targets = (torch.rand(n, c) < 0.3).float()
        if one_class:
            targets = torch.zeros(n, c)
            targets[:, c - 1] = 1.0
    else:
        targets = torch.full((n,), c - 1) if one_class else torch.randint(0, c, (n,))
    return logits, targets


def _build(name: str, task: str, **params: object) -> nn.Module:
    counts = _counts(task)
    return build_loss({"name": name, **params}, task=task, class_counts=counts, num_docs=2_000_000)


def _check(loss: torch.Tensor, logits: torch.Tensor) -> None:
    assert loss.dim() == 0
    assert torch.isfinite(loss)
    loss.backward()
    assert logits.grad is not None
    assert torch.isfinite(logits.grad).all()
    assert logits.grad.abs().sum() > 0


def test_every_loss_has_extreme_params() -> None:
    assert sorted(EXTREME_PARAMS) == LOSSES.names()


@pytest.mark.parametrize(("name", "task"), CASES)
def test_every_registered_loss_passes_check_loss(name: str, task: str) -> None:
    """The public contract (:func:`longtail.checks.check_loss`): a finite scalar with gradients,
    a one-class batch, extreme and bf16 logits, inputs untouched, deterministic."""
    passed = check_loss(_build(name, task), task, NUM_CLASSES[task])
    assert len(passed) == 6


@pytest.mark.parametrize(("name", "task"), CASES)
def test_weights_spanning_one_to_a_million_stay_finite(name: str, task: str) -> None:
    loss_fn = _build(name, task, **EXTREME_PARAMS[name])
    if hasattr(loss_fn, "set_epoch"):
        loss_fn.set_epoch(9, 10)
    logits, targets = _batch(task)
    _check(loss_fn(logits, targets), logits)
    assert loss_fn(logits, targets) < 1e3


@pytest.mark.parametrize(("name", "task"), CASES)
def test_explicit_weights_spanning_one_to_a_million(name: str, task: str) -> None:
    if name in NO_USER_WEIGHTS:  # their count-derived weights are checked above
        return
    weights = np.logspace(0, 6, NUM_CLASSES[task]).tolist()
    logits, targets = _batch(task)
    _check(_build(name, task, weights=weights)(logits, targets), logits)


@pytest.mark.parametrize(("name", "task"), CASES)
def test_extreme_logits_stay_finite(name: str, task: str) -> None:
    logits, targets = _batch(task)
    wrong = (1e4 * torch.sign(logits.detach() + 0.1)).requires_grad_()
    _check(_build(name, task, **EXTREME_PARAMS[name])(wrong, targets), wrong)


@pytest.mark.parametrize(("name", "task"), CASES)
def test_spec_forms_agree(name: str, task: str) -> None:
    logits, targets = _batch(task)
    counts = _counts(task)
    by_name = build_loss(name, task=task, class_counts=counts, num_docs=2_000_000)
    by_mapping = _build(name, task)
    assert build_loss(by_name, task=task, class_counts=counts, num_docs=1) is by_name
    torch.testing.assert_close(by_name(logits, targets), by_mapping(logits, targets))


@pytest.mark.parametrize(("name", "task"), UNSUPPORTED)
def test_unsupported_task_names_the_losses_that_support_it(name: str, task: str) -> None:
    with pytest.raises(LongtailError) as info:
        _build(name, task)
    able = [other for other in LOSSES.names() if task in loss_tasks(other)]
    assert task in str(info.value) and all(other in str(info.value) for other in able)


def test_every_task_has_a_loss_and_unsupported_cases_exist() -> None:
    assert {task for _, task in CASES} == set(TASKS)
    assert UNSUPPORTED  # otherwise the test above silently checks nothing


def test_unknown_loss_lists_valid_names() -> None:
    with pytest.raises(LongtailError) as info:
        build_loss("focall", task="multiclass", class_counts=[5, 1], num_docs=6)
    assert all(name in str(info.value) for name in LOSSES.names())


def test_unknown_task_lists_valid_tasks() -> None:
    with pytest.raises(LongtailError, match="multiclass"):
        build_loss("ce", task="regression", class_counts=[5, 1], num_docs=6)


@pytest.mark.parametrize("name", ["ce", "bce", "focal", "asymmetric"])
def test_unknown_weight_scheme_lists_valid_schemes(name: str) -> None:
    task = loss_tasks(name)[-1]
    with pytest.raises(LongtailError) as info:
        _build(name, task, weights="inverse_square")
    assert "effective_number" in str(info.value) and "sqrt_inverse" in str(info.value)


def test_unknown_pos_weight_scheme_lists_valid_schemes() -> None:
    with pytest.raises(LongtailError, match="sqrt_ratio"):
        _build("bce", "multilabel", pos_weight="balanced")


def test_unknown_parameter_is_a_longtail_error() -> None:
    with pytest.raises(LongtailError, match="gama"):
        _build("focal", "multiclass", gama=2.0)


def test_wrong_number_of_explicit_weights_is_a_longtail_error() -> None:
    with pytest.raises(LongtailError, match="one per class"):
        _build("ce", "multiclass", weights=[1.0, 2.0])


def test_multiclass_focal_rejects_a_single_float_alpha() -> None:
    with pytest.raises(LongtailError, match="one float per class"):
        _build("focal", "multiclass", alpha=0.25)


@pytest.mark.parametrize("name", LOSSES.names())
def test_resolved_spec_builds_the_same_loss(name: str) -> None:
    task = loss_tasks(name)[-1]
    resolved = resolved_loss_spec(name)
    assert resolved["name"] == name and "task" not in resolved
    logits, targets = _batch(task)
    torch.testing.assert_close(
        _build(name, task)(logits, targets), _build(**resolved, task=task)(logits, targets)
    )


def test_resolved_spec_keeps_the_users_parameters() -> None:
    assert resolved_loss_spec({"name": "logit_adjusted", "tau": 0.5})["tau"] == 0.5
    assert resolved_loss_spec("distribution_balanced")["neg_scale"] == 2.0
