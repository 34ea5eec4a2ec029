"""The contract of every SAM variant in :data:`longtail.training.sam.SAM_WRAPPERS`.

The parameter lists come from the registry (and each variant's signature), so a newly
registered variant is covered at once: built from its name with defaults for every task, one
step on a tiny linear model lowers the loss, leaves no NaN and puts the weights back where they
were before the optimizer moves them; every radius at 0 is a plain gradient step; bad radii and
unknown options are one-line errors. ``"none"`` (no wrapper) is handled by :func:`build_sam`.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from torch import nn

from longtail.cli import build_parser
from longtail.config import OFF
from longtail.errors import LongtailError
from longtail.training.sam import SAM_WRAPPERS, SharpnessAwareMinimization, build_sam

VARIANTS = [name for name in SAM_WRAPPERS.names() if name != OFF]  # the wrappers; `none` below
CONTEXT = {"class_counts", "task"}  # what build_sam passes; the rest are the user's options

# task -> (class counts with a minority, targets of an 8-row batch)
PROBLEMS = {
    "binary": (np.array([6, 2]), torch.tensor([0, 0, 1, 0, 0, 1, 0, 0])),
    "multiclass": (np.array([5, 2, 1]), torch.tensor([0, 0, 1, 0, 2, 1, 0, 0])),
    "multilabel": (
        np.array([6, 3, 1]),
        torch.tensor(
            [
                [1, 0, 0],
                [1, 1, 0],
                [0, 1, 0],
                [1, 0, 1],
                [1, 0, 0],
                [0, 0, 0],
                [1, 1, 0],
                [1, 0, 0],
            ],
            dtype=torch.float32,
        ),
    ),
}


def _options(name: str) -> dict[str, inspect.Parameter]:
    parameters = inspect.signature(SAM_WRAPPERS.get(name)).parameters
    return {k: p for k, p in parameters.items() if k not in CONTEXT}


def _radii(name: str) -> list[str]:
    """The variant's numeric options (the ascent radii): default a number, not a bool."""
    return [
        k
        for k, p in _options(name).items()
        if isinstance(p.default, (int, float)) and not isinstance(p.default, bool)
    ]


def _loss(task: str, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if task == "multilabel":
        return nn.functional.binary_cross_entropy_with_logits(outputs, target)
    return nn.functional.cross_entropy(outputs, target)


def _sam_step(sam, model, x, target, task):
    def loss_of_rows(outputs, rows):
        return _loss(task, outputs[rows], target[rows])

    return sam.step(
        list(model.parameters()), lambda: model(x), loss_of_rows, target,
        backward=lambda loss, **kw: loss.backward(**kw),
    )  # fmt: skip


def _problem(task: str):
    counts, target = PROBLEMS[task]
    torch.manual_seed(0)
    model = nn.Linear(4, len(counts))
    x = torch.randn(len(target), 4)
    return counts, target, model, x


def test_every_variant_has_a_radius_option():
    for name in VARIANTS:
        assert _radii(name), f"{name}: no numeric option; extend this contract"


@pytest.mark.parametrize("task", sorted(PROBLEMS))
@pytest.mark.parametrize("adaptive", [False, True])
@pytest.mark.parametrize("name", VARIANTS)
def test_one_step_lowers_the_loss_and_restores_the_weights(name, adaptive, task):
    counts, target, model, x = _problem(task)
    spec = {"name": name, **({"adaptive": True} if adaptive else {})}
    if adaptive and "adaptive" not in _options(name):
        pytest.fail(f"{name} has no adaptive option; drop it from this parametrisation")
    sam = build_sam(spec, class_counts=counts, task=task)
    assert isinstance(sam, SharpnessAwareMinimization)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    before = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        start = float(_loss(task, model(x), target))

    loss = _sam_step(sam, model, x, target, task)
    assert float(loss) == pytest.approx(start, rel=1e-6)  # the loss at w, not at w + ε
    for p, b in zip(model.parameters(), before, strict=True):
        assert torch.equal(p.detach(), b)  # the ascent is undone before the optimizer steps
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    optimizer.step()

    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert any(
        not torch.equal(p.detach(), b) for p, b in zip(model.parameters(), before, strict=True)
    )
    with torch.no_grad():
        assert float(_loss(task, model(x), target)) < start


@pytest.mark.parametrize("name", VARIANTS)
def test_name_spec_and_object_build_the_same_wrapper(name):
    counts, _, _, _ = _problem("binary")
    by_name = build_sam(name, class_counts=counts, task="binary")
    by_spec = build_sam({"name": name}, class_counts=counts, task="binary")
    assert np.array_equal(by_name.class_radius, by_spec.class_radius)
    assert by_name.class_radius.shape == counts.shape and (by_name.class_radius > 0).all()
    assert build_sam(by_name, class_counts=counts, task="binary") is by_name


@pytest.mark.parametrize("name", VARIANTS)
def test_every_radius_at_zero_is_a_plain_gradient_step(name):
    counts, target, model, x = _problem("multiclass")
    sam = build_sam(
        {"name": name, **dict.fromkeys(_radii(name), 0.0)}, class_counts=counts, task="multiclass"
    )
    _sam_step(sam, model, x, target, "multiclass")
    got = [p.grad.clone() for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    _loss("multiclass", model(x), target).backward()
    for g, p in zip(got, model.parameters(), strict=True):
        assert torch.allclose(g, p.grad, atol=1e-6)


@pytest.mark.parametrize("name", VARIANTS)
def test_bad_radius_is_one_line_naming_the_option(name):
    counts, _, _, _ = _problem("binary")
    for key in _radii(name):
        for value in (-0.1, float("nan"), float("inf"), "abc"):
            with pytest.raises(LongtailError) as exc:
                build_sam({"name": name, key: value}, class_counts=counts, task="binary")
            message = str(exc.value)
            assert "\n" not in message and key in message, (key, value, message)


@pytest.mark.parametrize("name", VARIANTS)
def test_unknown_option_is_one_line_naming_the_variant(name):
    with pytest.raises(LongtailError) as exc:
        build_sam({"name": name, "no_such_option": 1}, class_counts=[6, 2], task="binary")
    message = str(exc.value)
    assert "\n" not in message and repr(name) in message and "no_such_option" in message


@pytest.mark.parametrize("spec", [None, "none", {"name": "none"}])
def test_none_returns_no_wrapper(spec):
    assert build_sam(spec, class_counts=[6, 2], task="binary") is None


def test_unknown_variant_is_one_line_naming_every_registered_one():
    with pytest.raises(LongtailError) as exc:
        build_sam("sharp", class_counts=[6, 2], task="binary")
    message = str(exc.value)
    assert "\n" not in message and "'sharp'" in message
    assert all(name in message for name in VARIANTS), message


def test_unknown_variant_error_names_none_as_a_choice():
    with pytest.raises(LongtailError, match="none"):
        build_sam("sharp", class_counts=[6, 2], task="binary")


def test_train_help_names_every_variant():
    train = next(a for a in build_parser()._actions if a.dest == "command").choices["train"]
    printed = " ".join(train.format_help().split())  # the registered names join when printed
    assert all(name in printed for name in [*VARIANTS, OFF]), printed


@pytest.mark.parametrize("spec", [OFF, None, {"name": OFF}])
def test_off_is_a_registered_name_that_builds_no_wrapper(spec):
    assert OFF in SAM_WRAPPERS.names()
    assert build_sam(spec, class_counts=np.array([5, 1]), task="binary") is None
