"""BCE with per-label weights spanning 1..1e6 (the 485-label, million-row seed case)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from longtail.losses import build_loss

NUM_LABELS, NUM_DOCS, NUM_FEATURES, NUM_ROWS = 485, 2_000_000, 32, 4096
POS_COUNTS = np.round(np.logspace(0, 6, NUM_LABELS))  # 1 .. 1e6 positive documents per label
HEAVY = {"name": "bce", "weights": "inverse", "pos_weight": "ratio"}  # 1..1e6 and 1..2e6


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    """Random features; labels drawn at the seed case's rates, every label positive at least once
    so the heaviest weights (rarest labels' positives) are really used."""
    features = torch.randn(NUM_ROWS, NUM_FEATURES)
    rates = torch.tensor(POS_COUNTS / NUM_DOCS, dtype=torch.float32)
    targets = (torch.rand(NUM_ROWS, NUM_LABELS) < rates).float()
    targets[torch.randint(0, NUM_ROWS, (NUM_LABELS,)), torch.arange(NUM_LABELS)] = 1.0
    return features, targets


def _loss(**params: object) -> nn.Module:
    return build_loss(
        {**HEAVY, **params}, task="multilabel", class_counts=POS_COUNTS, num_docs=NUM_DOCS
    )


def _logit_grad_norm(loss_fn: nn.Module, features: torch.Tensor, targets: torch.Tensor) -> float:
    logits = nn.Linear(NUM_FEATURES, NUM_LABELS)(features).detach().requires_grad_()
    loss_fn(logits, targets).backward()
    assert logits.grad is not None
    return float(logits.grad.norm())


def test_bce_with_extreme_label_weights_trains_stably() -> None:
    features, targets = _data()
    loss_fn = _loss()
    model = nn.Linear(NUM_FEATURES, NUM_LABELS)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        start = float(loss_fn(model(features), targets))
    for _ in range(100):
        batch = torch.randint(0, NUM_ROWS, (256,), generator=generator)
        loss = loss_fn(model(features[batch]), targets[batch])
        assert torch.isfinite(loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        end = float(loss_fn(model(features), targets))
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert np.isfinite(end) and end < 0.8 * start


def test_normalisation_is_what_bounds_the_gradient() -> None:
    features, targets = _data()
    normalised = _logit_grad_norm(_loss(), features, targets)
    unnormalised = _logit_grad_norm(_loss(normalize=False), features, targets)
    unweighted = _logit_grad_norm(_loss(weights="none", pos_weight="none"), features, targets)
    # The weighted average's logit gradient has L2 norm <= 1 for any weights ...
    assert normalised <= 1.0
    # ... while dividing by N*C lets 1e6-scale weights through: orders of magnitude larger,
    # and orders of magnitude above the unweighted loss's gradient too.
    assert unnormalised > 1e3 * normalised
    assert unnormalised > 1e3 * unweighted
