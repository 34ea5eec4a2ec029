"""The saved-activation ledger: counts what autograd keeps, each storage once, no parameters."""

from __future__ import annotations

import torch
from torch import nn

from longtail.models.saved_activations import SavedActivations


def test_counts_activations_not_weights_nor_their_autocast_copies() -> None:
    layer = nn.Linear(64, 64)
    x = torch.randn(32, 64, requires_grad=True)
    ledger = SavedActivations(layer.parameters())
    with torch.autocast("cpu", dtype=torch.bfloat16), ledger:
        y = torch.relu(layer(x))
    # saved: x's bf16 copy (input of the matmul) and relu's bf16 output; the bf16 copy of the
    # weight (64 x 64, saved transposed) is a parameter in disguise and is not counted
    assert ledger.total == 2 * 32 * 64 * 2, ledger.total
    y.float().sum().backward()
    assert layer.weight.grad is not None


def test_each_storage_counts_once_over_every_block() -> None:
    x = torch.randn(100, requires_grad=True)
    ledger = SavedActivations()
    with ledger:
        a = x.exp()  # saves its output
    assert ledger.last == ledger.total == 400
    with ledger:
        b = a * a  # saves `a` twice: already counted
    assert ledger.last == 0 and ledger.total == 400
    with ledger:
        c = (b + 1).sin()  # a new tensor
    assert ledger.last == 400 and ledger.total == 800
    c.sum().backward()
    expected = (2 * x).exp().add(1).cos() * 2 * (2 * x).exp()
    torch.testing.assert_close(x.grad, expected, rtol=1e-4, atol=1e-5)


def test_a_frozen_parameter_is_not_an_activation() -> None:
    layer = nn.Linear(16, 16).requires_grad_(False)
    x = torch.randn(4, 16, requires_grad=True)
    ledger = SavedActivations(layer.parameters())
    with ledger:
        layer(x).sum().backward()
    assert ledger.total == 0, "a linear layer saves only its weight for the input's gradient"
