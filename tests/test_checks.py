"""check_loss / check_sampler catch the broken components they promise to catch, each in one
line naming the check (the registered components pass: see the loss and sampler contracts)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from longtail.checks import ContractError, check_loss, check_sampler
from longtail.errors import LongtailError
from longtail.sampling import build_sampler


class PlainCE(nn.Module):
    def forward(self, logits, targets):
        return F.cross_entropy(logits.float(), targets)


def test_a_plain_cross_entropy_passes():
    assert check_loss(PlainCE(), "multiclass") == [
        "scalar_finite_gradients", "one_class_batch", "extreme_logits", "low_precision",
        "inputs_unchanged", "deterministic",
    ]  # fmt: skip


class Unreduced(nn.Module):
    def forward(self, logits, targets):
        return F.cross_entropy(logits.float(), targets, reduction="none")


class NaiveLogSoftmax(nn.Module):  # exp overflows at logits of 1e4
    def forward(self, logits, targets):
        probs = logits.float().exp() / logits.float().exp().sum(1, keepdim=True)
        return -probs[torch.arange(len(targets)), targets].log().mean()


class KeepsBf16(nn.Module):
    def forward(self, logits, targets):
        return F.cross_entropy(logits, targets)


class InPlace(nn.Module):
    def forward(self, logits, targets):
        if not logits.requires_grad:
            logits.mul_(0.5)
        return F.cross_entropy(logits.float(), targets)


class Detached(nn.Module):
    def forward(self, logits, targets):
        return F.cross_entropy(logits.detach().float(), targets).requires_grad_()


class Noisy(nn.Module):
    def forward(self, logits, targets):
        return F.cross_entropy(logits.float(), targets) + torch.rand(())


@pytest.mark.parametrize(
    ("loss", "check"),
    [
        (Unreduced(), "scalar_finite_gradients"),
        (Detached(), "scalar_finite_gradients"),
        (NaiveLogSoftmax(), "extreme_logits"),
        (KeepsBf16(), "low_precision"),
        (InPlace(), "inputs_unchanged"),
        (Noisy(), "deterministic"),
    ],
)
def test_a_broken_loss_is_named_with_the_check_it_fails(loss, check):
    with pytest.raises(ContractError) as info:
        check_loss(loss, "multiclass")
    message = str(info.value)
    assert message.startswith(f"{type(loss).__name__}: check {check!r} failed: ")
    assert "\n" not in message and isinstance(info.value, LongtailError)


def test_an_unknown_task_is_refused():
    with pytest.raises(LongtailError, match="valid tasks"):
        check_loss(PlainCE(), "regression")


class GlobalRandom(torch.utils.data.Sampler):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(torch.randperm(self.n).tolist())

    def __len__(self):
        return self.n


class SameEveryEpoch(torch.utils.data.Sampler):
    def __init__(self, n, seed):
        self.n, self.seed = n, seed

    def set_epoch(self, epoch):
        pass

    def __iter__(self):
        return iter(np.random.default_rng(self.seed).permutation(self.n).tolist())

    def __len__(self):
        return self.n


class OffByOne(SameEveryEpoch):
    def __iter__(self):
        return iter(range(1, self.n + 1))


class WrongLength(SameEveryEpoch):
    def __len__(self):
        return self.n + 1


@pytest.mark.parametrize(
    ("make", "check"),
    [
        (lambda y, task, seed: WrongLength(len(y), seed), "length"),
        (lambda y, task, seed: OffByOne(len(y), seed), "in_range"),
        (lambda y, task, seed: GlobalRandom(len(y)), "global_rng_untouched"),
        (lambda y, task, seed: SameEveryEpoch(len(y), seed), "seeded"),
    ],
)
def test_a_broken_sampler_is_named_with_the_check_it_fails(make, check):
    with pytest.raises(ContractError, match=rf"check {check!r} failed: "):
        check_sampler(make, "multiclass")


def test_a_registered_sampler_passes_for_multilabel_too():
    make = lambda y, task, seed: build_sampler("sqrt", y=y, task=task, seed=seed)  # noqa: E731
    assert "seeded" in check_sampler(make, "multilabel")
