"""Each loss against its parent at the neutral parameters and against independent references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from longtail.losses import build_loss, class_weights, label_aware_smoothing, ldam_margins

COUNTS = np.array([500.0, 120.0, 30.0, 8.0, 1.0])
LABEL_COUNTS = np.array([900.0, 300.0, 40.0, 5.0, 1.0, 0.0])
NUM_DOCS = 1000


def _single(task: str = "multiclass", n: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    c = 2 if task == "binary" else len(COUNTS)
    return 2 * torch.randn(n, c), torch.randint(0, c, (n,))


def _multi(n: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    c = len(LABEL_COUNTS)
    return 3 * torch.randn(n, c), (torch.rand(n, c) < 0.3).float()


def _loss(spec: object, task: str = "multiclass") -> torch.nn.Module:
    counts = {"binary": COUNTS[:2], "multiclass": COUNTS, "multilabel": LABEL_COUNTS}[task]
    return build_loss(spec, task=task, class_counts=counts, num_docs=NUM_DOCS)


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b.to(a.dtype), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_focal_gamma_zero_is_cross_entropy(task: str) -> None:
    logits, targets = _single(task)
    expected = F.cross_entropy(logits, targets)
    _close(_loss({"name": "focal", "gamma": 0.0}, task)(logits, targets), expected)
    _close(_loss("ce", task)(logits, targets), expected)


def test_focal_gamma_zero_with_weights_is_weighted_cross_entropy() -> None:
    logits, targets = _single()
    spec = {"weights": "effective_number", "beta": 0.99}
    _close(
        _loss({"name": "focal", "gamma": 0.0, **spec})(logits, targets),
        _loss({"name": "ce", **spec})(logits, targets),
    )


def test_focal_matches_a_numpy_reference() -> None:
    logits, targets = _single()
    alpha = [0.1, 0.2, 0.3, 0.4, 1.0]
    got = _loss({"name": "focal", "gamma": 2.0, "alpha": alpha})(logits, targets)
    x, y = logits.double().numpy(), targets.numpy()
    p = np.exp(x - x.max(1, keepdims=True))
    p_t = (p / p.sum(1, keepdims=True))[np.arange(len(y)), y]
    a = np.asarray(alpha)[y]
    expected = (a * -((1 - p_t) ** 2) * np.log(p_t)).sum() / a.sum()
    _close(got, torch.tensor(expected))


def test_binary_focal_float_alpha_weights_class_one() -> None:
    logits, targets = _single("binary")
    got = _loss({"name": "focal", "gamma": 0.0, "alpha": 0.75}, "binary")(logits, targets)
    _close(got, F.cross_entropy(logits, targets, weight=torch.tensor([0.25, 0.75])))


def test_multilabel_focal_gamma_zero_is_bce() -> None:
    logits, targets = _multi()
    expected = F.binary_cross_entropy_with_logits(logits, targets)
    _close(_loss({"name": "focal", "gamma": 0.0}, "multilabel")(logits, targets), expected)
    _close(_loss("bce", "multilabel")(logits, targets), expected)
    weighted = {"weights": "sqrt_inverse"}
    _close(
        _loss({"name": "focal", "gamma": 0.0, **weighted}, "multilabel")(logits, targets),
        _loss({"name": "bce", **weighted}, "multilabel")(logits, targets),
    )


def test_multilabel_focal_matches_the_sigmoid_focal_reference() -> None:
    """The torchvision ``sigmoid_focal_loss(reduction="mean")`` formula, written out."""
    logits, targets = _multi()
    spec = {"name": "focal", "gamma": 2.0, "alpha": 0.25, "normalize": False}
    p = torch.sigmoid(logits.double())
    ce = F.binary_cross_entropy_with_logits(logits.double(), targets.double(), reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    alpha_t = 0.25 * targets + 0.75 * (1 - targets)
    _close(_loss(spec, "multilabel")(logits, targets), (alpha_t * ce * (1 - p_t) ** 2).mean())


def test_asymmetric_at_zero_gammas_and_clip_is_bce() -> None:
    logits, targets = _multi()
    neutral = {"name": "asymmetric", "gamma_pos": 0.0, "gamma_neg": 0.0, "clip": 0.0}
    _close(
        _loss(neutral, "multilabel")(logits, targets), _loss("bce", "multilabel")(logits, targets)
    )
    weights = {"weights": "inverse", "max_weight": 50.0}
    _close(
        _loss({**neutral, **weights}, "multilabel")(logits, targets),
        _loss({"name": "bce", **weights}, "multilabel")(logits, targets),
    )


def test_asymmetric_matches_the_papers_formula() -> None:
    logits, targets = _multi()
    got = _loss({"name": "asymmetric", "normalize": False}, "multilabel")(logits, targets)
    p = torch.sigmoid(logits.double())
    p_m = (p - 0.05).clamp(min=0)
    y = targets.double()
    expected = -(y * torch.log(p) + (1 - y) * p_m**4 * torch.log(1 - p_m)).mean()
    _close(got, expected)


def test_ldam_at_zero_margin_and_unit_scale_is_cross_entropy() -> None:
    logits, targets = _single()
    loss_fn = _loss({"name": "ldam", "max_margin": 0.0, "s": 1.0, "drw_start": None})
    _close(loss_fn(logits, targets), F.cross_entropy(logits, targets))
    loss_fn.set_epoch(9, 10)  # no DRW configured: nothing changes
    _close(loss_fn(logits, targets), F.cross_entropy(logits, targets))


def test_ldam_margins_and_deferred_reweighting() -> None:
    logits, targets = _single()
    margins = COUNTS**-0.25 * (0.5 / COUNTS.min() ** -0.25)
    np.testing.assert_allclose(ldam_margins(COUNTS, 0.5), margins)
    shifted = 30 * (logits - F.one_hot(targets, 5) * torch.tensor(margins, dtype=torch.float32))
    loss_fn = _loss("ldam")
    _close(loss_fn(logits, targets), F.cross_entropy(shifted, targets))  # before set_epoch
    loss_fn.set_epoch(4, 10)  # drw_start 0.5: epochs 0-4 unweighted
    _close(loss_fn(logits, targets), F.cross_entropy(shifted, targets))
    loss_fn.set_epoch(5, 10)
    weight = torch.tensor(class_weights(COUNTS, "effective_number", beta=0.9999))
    _close(loss_fn(logits, targets), F.cross_entropy(shifted, targets, weight=weight.float()))


@pytest.mark.parametrize("scheme", ["inverse", "sqrt_inverse", "effective_number"])
def test_weighted_ce_is_torch_weighted_cross_entropy(scheme: str) -> None:
    logits, targets = _single()
    weight = torch.tensor(class_weights(COUNTS, scheme), dtype=torch.float32)
    got = _loss({"name": "ce", "weights": scheme})(logits, targets)
    _close(got, F.cross_entropy(logits, targets, weight=weight))
    explicit = _loss({"name": "ce", "weights": [5.0, 4.0, 3.0, 2.0, 1.0]})(logits, targets)
    _close(explicit, F.cross_entropy(logits, targets, weight=torch.tensor([5.0, 4, 3, 2, 1])))


def test_ce_label_smoothing_is_torch_label_smoothing() -> None:
    logits, targets = _single()
    got = _loss({"name": "ce", "label_smoothing": 0.1})(logits, targets)
    _close(got, F.cross_entropy(logits, targets, label_smoothing=0.1))


def test_class_conditional_smoothing_follows_mislas() -> None:
    logits, targets = _single()
    eps = label_aware_smoothing(COUNTS, head=0.3, tail=0.05)
    expected_eps = 0.05 + 0.25 * np.sin(math.pi * (COUNTS - 1) / (2 * 499))
    np.testing.assert_allclose(eps, expected_eps)
    assert eps[0] == pytest.approx(0.3) and eps[-1] == pytest.approx(0.05)
    spec = {"name": "ce", "label_smoothing": 0.3, "tail_smoothing": 0.05}
    got = _loss({**spec, "class_conditional_smoothing": True})(logits, targets)
    log_p = F.log_softmax(logits.double(), -1)
    e = torch.tensor(expected_eps)[targets]
    per_row = (1 - e) * -log_p[torch.arange(len(targets)), targets] - e * log_p.mean(-1)
    _close(got, per_row.mean())


def test_class_conditional_smoothing_with_equal_counts_is_plain_smoothing() -> None:
    logits, targets = _single()
    loss_fn = build_loss(
        {"name": "ce", "label_smoothing": 0.2, "class_conditional_smoothing": True},
        task="multiclass",
        class_counts=np.full(5, 40.0),
        num_docs=200,
    )
    _close(loss_fn(logits, targets), F.cross_entropy(logits, targets, label_smoothing=0.2))


def test_unnormalised_bce_is_torch_bce_with_weights() -> None:
    logits, targets = _multi()
    spec = {"name": "bce", "weights": "sqrt_inverse", "pos_weight": "ratio", "normalize": False}
    label_w = torch.tensor(class_weights(LABEL_COUNTS, "sqrt_inverse"), dtype=torch.float32)
    pos_w = torch.tensor(np.maximum(NUM_DOCS - LABEL_COUNTS, 1) / np.maximum(LABEL_COUNTS, 1))
    expected = F.binary_cross_entropy_with_logits(
        logits, targets, weight=label_w, pos_weight=pos_w.float()
    )
    _close(_loss(spec, "multilabel")(logits, targets), expected)


def test_normalised_bce_is_the_weighted_average_of_element_losses() -> None:
    logits, targets = _multi()
    spec = {"name": "bce", "weights": "inverse", "pos_weight": 3.0}
    w = torch.tensor(class_weights(LABEL_COUNTS, "inverse")) * (1 + 2 * targets.double())
    element = F.binary_cross_entropy_with_logits(
        logits.double(), targets.double(), reduction="none"
    )
    _close(_loss(spec, "multilabel")(logits, targets), (w * element).sum() / w.sum())
