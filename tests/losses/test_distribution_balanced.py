"""Distribution-balanced loss and CB-NTR against hand computations and their limit cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from longtail.errors import LongtailError
from longtail.losses import build_loss, class_weights, rebalance_weights
from longtail.losses.distribution_balanced import ntr_offsets
from longtail.models.classifier import init_bias_from_priors

COUNTS = np.array([600.0, 150.0, 40.0, 6.0, 1.0])
NUM_DOCS = 1000
OFF = {"reweight": "none", "kappa": 0.0, "neg_scale": 1.0, "gamma": 0.0}


def _batch(n: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    targets = (torch.rand(n, len(COUNTS)) < 0.3).float()
    targets[0] = 0.0  # a document without labels
    return 3 * torch.randn(n, len(COUNTS)), targets


def _loss(spec: object, task: str = "multilabel") -> nn.Module:
    return build_loss(spec, task=task, class_counts=COUNTS, num_docs=NUM_DOCS)


def _close(a: torch.Tensor, b: float | torch.Tensor) -> None:
    torch.testing.assert_close(a, torch.as_tensor(b, dtype=a.dtype), rtol=1e-5, atol=1e-6)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _numpy_db(
    logits: torch.Tensor, targets: torch.Tensor, weights: np.ndarray, normalize: bool = True
) -> float:
    """The DB loss with the defaults (κ 0.05, λ 2, γ 2), written out element by element."""
    x, y = logits.double().numpy(), targets.double().numpy()
    p = COUNTS / NUM_DOCS
    z = x + 0.05 * np.log(p / (1 - p))
    pos = _sigmoid(-z) ** 2 * _softplus(-z)
    neg = _sigmoid(2 * z) ** 2 * _softplus(2 * z) / 2
    total = (weights * (y * pos + (1 - y) * neg)).sum()
    return float(total / (weights.sum() if normalize else y.size))


def test_rebalance_weights_match_a_hand_computation() -> None:
    inverse = torch.tensor([0.01, 0.1, 1.0])
    targets = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    got = rebalance_weights(targets, inverse, alpha=0.1, beta=10.0, mu=0.9)
    with np.errstate(divide="ignore"):
        ratio = np.array([[0.01, 0.1, 1.0]]) / np.array([[0.11], [1.0], [0.0]])
        expected = 0.1 + _sigmoid(10.0 * (ratio - 0.9))
    # the head label riding along with a rarer one is weighted down, the rare one kept near 1
    assert got[0, 0] < 0.2 and got[0, 1] > 0.5
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float32))


@pytest.mark.parametrize("normalize", [True, False])
def test_distribution_balanced_matches_a_hand_computation(normalize: bool) -> None:
    logits, targets = _batch()
    got = _loss({"name": "distribution_balanced", "normalize": normalize})(logits, targets)
    y = targets.double().numpy()
    drawn = (y / COUNTS).sum(1, keepdims=True)
    with np.errstate(divide="ignore"):
        weights = 0.1 + _sigmoid(10.0 * ((1 / COUNTS) / drawn - 0.9))
    _close(got, _numpy_db(logits, targets, weights, normalize))


def test_cb_ntr_matches_a_hand_computation() -> None:
    logits, targets = _batch()
    got = _loss("cb_ntr")(logits, targets)
    cb = (1 - 0.9) / (1 - 0.9**COUNTS)
    # the effective-number weights are rescaled, which a weighted average does not see
    _close(got, _numpy_db(logits, targets, np.broadcast_to(cb, targets.shape)))
    same = _loss({"name": "distribution_balanced", "reweight": "class_balanced"})
    _close(got, same(logits, targets))
    scale = class_weights(COUNTS, "effective_number", beta=0.9) / cb
    np.testing.assert_allclose(scale, scale[0], rtol=1e-6)


def test_with_its_components_off_it_is_bce() -> None:
    logits, targets = _batch()
    got = _loss({"name": "distribution_balanced", **OFF})(logits, targets)
    _close(got, F.binary_cross_entropy_with_logits(logits, targets))


def test_with_only_the_focal_factor_on_it_is_the_focal_loss() -> None:
    logits, targets = _batch()
    got = _loss({"name": "distribution_balanced", **OFF, "gamma": 2.0})(logits, targets)
    _close(got, _loss({"name": "focal", "gamma": 2.0})(logits, targets))


def test_ntr_tolerates_negatives_below_zero() -> None:
    """λ > 1 flattens the loss of a negative whose logit is already below 0, not above."""
    targets = torch.zeros(1, len(COUNTS))
    for value, fewer in ((-2.0, True), (2.0, False)):
        grads = []
        for neg_scale in (1.0, 2.0):
            logits = torch.full((1, len(COUNTS)), value, requires_grad=True)
            spec = {"name": "distribution_balanced", **OFF, "neg_scale": neg_scale}
            _loss(spec)(logits, targets).backward()
            grads.append(logits.grad.abs().sum())
        assert (grads[1] < grads[0]) == fewer


def test_ntr_shift_is_kappa_times_the_heads_prior_bias() -> None:
    """ν is κ times the very bias the trainer starts a multilabel head at (documented choice)."""
    head = nn.Linear(4, len(COUNTS))
    init_bias_from_priors(head, COUNTS / NUM_DOCS)
    np.testing.assert_allclose(
        ntr_offsets(COUNTS, NUM_DOCS, kappa=0.05), 0.05 * head.bias.detach().double().numpy(),
        rtol=1e-5,
    )  # fmt: skip
    logits, targets = _batch()
    no_shift = {"name": "distribution_balanced", "kappa": 0.0}
    other_docs = build_loss(no_shift, task="multilabel", class_counts=COUNTS, num_docs=10**6)
    _close(_loss(no_shift)(logits, targets), other_docs(logits, targets))


@pytest.mark.parametrize("task", ["multiclass", "binary"])
@pytest.mark.parametrize("name", ["distribution_balanced", "cb_ntr"])
def test_single_label_use_is_a_one_line_error_naming_the_fix(name: str, task: str) -> None:
    with pytest.raises(LongtailError) as info:
        _loss(name, task)
    message = str(info.value)
    assert "\n" not in message and "multilabel loss" in message
    assert "--loss balanced_softmax" in message


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"reweight": "cb"}, "valid: rebalance, class_balanced, none"),
        ({"neg_scale": 0.0}, "neg_scale must be a finite number > 0"),
        ({"kappa": -0.1}, "kappa must be a finite number >= 0"),
        ({"gamma": float("nan")}, "gamma must be"),
        ({"cb_beta": 1.0}, r"cb_beta must be in \[0, 1\)"),
    ],
)
def test_bad_parameters_are_one_line_errors(params: dict[str, object], match: str) -> None:
    with pytest.raises(LongtailError, match=match):
        _loss({"name": "distribution_balanced", **params})


def test_initial_bias_with_the_parts_off_is_the_heads_prior_start() -> None:
    rates = COUNTS / NUM_DOCS
    loss_fn = _loss({"name": "distribution_balanced", **OFF})
    head = nn.Linear(4, len(COUNTS))
    init_bias_from_priors(head, rates)
    np.testing.assert_allclose(loss_fn.initial_bias(rates), head.bias.detach().numpy(), atol=1e-5)


@pytest.mark.parametrize("name", ["distribution_balanced", "cb_ntr"])
def test_initial_bias_is_where_the_loss_rests_for_a_constant_model(name: str) -> None:
    rates = COUNTS / NUM_DOCS
    loss_fn = _loss(name)
    bias = torch.tensor(loss_fn.initial_bias(rates), requires_grad=True)
    pos_loss, neg_loss = loss_fn.elements(bias)
    p = torch.tensor(rates)
    (p * pos_loss + (1 - p) * neg_loss).sum().backward()
    assert bias.grad.abs().max() < 1e-6
    # for the rare labels NTR and the focal factor rest above the prior log-odds of the trainer
    rare = rates < 0.5
    assert np.all(bias.detach().numpy()[rare] > np.log(rates / (1 - rates))[rare])
