"""Logit-adjusted loss and balanced softmax against hand computations and their limit cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from longtail.errors import LongtailError
from longtail.losses import build_loss, log_priors

COUNTS = np.array([500.0, 120.0, 30.0, 8.0, 1.0])


def _batch(c: int, n: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    return 2 * torch.randn(n, c), torch.randint(0, c, (n,))


def _loss(spec: object, counts: np.ndarray = COUNTS) -> torch.nn.Module:
    task = "binary" if len(counts) == 2 else "multiclass"
    return build_loss(spec, task=task, class_counts=counts, num_docs=int(counts.sum()))


def _numpy_ce(logits: torch.Tensor, targets: torch.Tensor, offsets: np.ndarray) -> float:
    z = logits.double().numpy() + offsets
    z = z - z.max(1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(1, keepdims=True))
    return float(-log_p[np.arange(len(targets)), targets.numpy()].mean())


def _close(a: torch.Tensor, b: float | torch.Tensor) -> None:
    torch.testing.assert_close(a, torch.as_tensor(b, dtype=a.dtype), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0])
def test_logit_adjusted_matches_a_hand_computation(tau: float) -> None:
    logits, targets = _batch(5)
    offsets = tau * np.log(COUNTS / COUNTS.sum())
    got = _loss({"name": "logit_adjusted", "tau": tau})(logits, targets)
    _close(got, _numpy_ce(logits, targets, offsets))


def test_binary_logit_adjusted_matches_a_hand_computation() -> None:
    counts = np.array([95.0, 5.0])
    logits, targets = _batch(2)
    got = _loss("logit_adjusted", counts)(logits, targets)
    _close(got, _numpy_ce(logits, targets, np.log([0.95, 0.05])))


@pytest.mark.parametrize("counts", [COUNTS, np.array([95.0, 5.0])])
def test_logit_adjusted_with_tau_zero_is_cross_entropy(counts: np.ndarray) -> None:
    logits, targets = _batch(len(counts))
    expected = F.cross_entropy(logits, targets)
    _close(_loss({"name": "logit_adjusted", "tau": 0.0}, counts)(logits, targets), expected)
    weighted = {"weights": "sqrt_inverse"}
    _close(
        _loss({"name": "logit_adjusted", "tau": 0, **weighted}, counts)(logits, targets),
        _loss({"name": "ce", **weighted}, counts)(logits, targets),
    )


def test_logit_adjusted_favours_the_tail_in_its_gradient() -> None:
    """Against plain CE, a correct tail example is penalised more and a head example less."""
    logits = torch.zeros(1, 5)
    ce = _loss({"name": "logit_adjusted", "tau": 0.0})
    la = _loss("logit_adjusted")
    assert la(logits, torch.tensor([4])) > ce(logits, torch.tensor([4]))
    assert la(logits, torch.tensor([0])) < ce(logits, torch.tensor([0]))


@pytest.mark.parametrize("tau", [-0.5, float("nan"), float("inf"), "one"])
def test_logit_adjusted_rejects_a_bad_tau_in_one_line(tau: object) -> None:
    with pytest.raises(LongtailError, match="tau must be a finite number >= 0") as info:
        _loss({"name": "logit_adjusted", "tau": tau})
    assert "\n" not in str(info.value)


def test_a_class_without_training_documents_counts_as_one() -> None:
    counts = np.array([50.0, 0.0, 10.0])
    np.testing.assert_allclose(log_priors(counts), np.log(np.array([50, 1, 10]) / 61))
    logits, targets = _batch(3)
    for name in ("logit_adjusted", "balanced_softmax"):
        loss = _loss(name, counts)(logits.requires_grad_(), targets)
        assert torch.isfinite(loss)


def test_balanced_softmax_matches_a_hand_computation() -> None:
    logits, targets = _batch(5)
    got = _loss("balanced_softmax")(logits, targets)
    _close(got, _numpy_ce(logits, targets, np.log(COUNTS)))


@pytest.mark.parametrize("counts", [np.full(5, 40.0), np.array([7.0, 7.0])])
def test_balanced_softmax_with_equal_counts_is_cross_entropy(counts: np.ndarray) -> None:
    logits, targets = _batch(len(counts))
    _close(_loss("balanced_softmax", counts)(logits, targets), F.cross_entropy(logits, targets))


def test_balanced_softmax_is_logit_adjusted_with_tau_one() -> None:
    logits, targets = _batch(5)
    _close(_loss("balanced_softmax")(logits, targets), _loss("logit_adjusted")(logits, targets))
