"""SAM and asymmetric SAM: the ascent radius per class, the step against a hand computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from longtail.config import TrainConfig
from longtail.data.tokenized import TokenizedSplit
from longtail.errors import LongtailError
from longtail.training.loop import train_model
from longtail.training.sam import SAM_WRAPPERS, build_sam, minority_classes


def _problem(seed: int = 0):
    torch.manual_seed(seed)
    model = nn.Linear(4, 2)
    x = torch.randn(8, 4)
    target = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1])
    return model, x, target


def _step(sam, model, x, target, record=None):
    start = [p.detach().clone() for p in model.parameters()]

    def forward():
        if record is not None:
            shift = torch.cat(
                [
                    (p.detach() - s).flatten()
                    for p, s in zip(model.parameters(), start, strict=False)
                ]
            )
            record.append(float(shift.norm()))
        return model(x)

    def loss_of_rows(outputs, rows):
        return nn.functional.cross_entropy(outputs[rows], target[rows])

    return sam.step(
        list(model.parameters()),
        forward,
        loss_of_rows,
        target,
        backward=lambda loss, **kw: loss.backward(**kw),
    )


def test_minority_classes_are_those_below_the_mean_count():
    assert minority_classes([95, 5]).tolist() == [False, True]
    assert minority_classes([50, 30, 15, 5]).tolist() == [False, False, True, True]
    assert not minority_classes([10, 10, 10]).any()


def test_asymmetric_radius_is_larger_for_minority_rows_single_and_multilabel():
    sam = build_sam(
        {"name": "asymmetric_sam", "rho": 0.05, "minority_rho": 0.2},
        class_counts=np.array([95, 5]),
        task="binary",
    )
    radius = sam.row_radius(torch.tensor([0, 1, 0, 1])).tolist()
    assert radius == pytest.approx([0.05, 0.2, 0.05, 0.2])
    multilabel = build_sam(
        {"name": "asymmetric_sam", "rho": 0.05, "minority_rho": 0.2},
        class_counts=np.array([80, 60, 3]),
        task="multilabel",
    )
    y = torch.tensor([[1, 0, 0], [1, 0, 1], [0, 0, 0]], dtype=torch.float32)
    assert multilabel.row_radius(y).tolist() == pytest.approx([0.05, 0.2, 0.05])


def test_plain_sam_step_matches_the_gradient_at_the_ascent_point():
    model, x, target = _problem()
    sam = build_sam({"name": "sam", "rho": 0.1}, class_counts=np.array([6, 2]), task="binary")
    before = [p.detach().clone() for p in model.parameters()]
    loss = _step(sam, model, x, target)
    got = [p.grad.clone() for p in model.parameters()]
    # by hand: g at w, ε = ρ g/‖g‖, gradient at w + ε
    reference, _, _ = _problem()
    reference.load_state_dict(
        {k: v.clone() for k, v in zip(["weight", "bias"], before, strict=False)}
    )
    first = nn.functional.cross_entropy(reference(x), target)
    grads = torch.autograd.grad(first, list(reference.parameters()))
    norm = torch.cat([g.flatten() for g in grads]).norm()
    with torch.no_grad():
        for p, g in zip(reference.parameters(), grads, strict=False):
            p.add_(0.1 * g / norm)
    second = nn.functional.cross_entropy(reference(x), target)
    expected = torch.autograd.grad(second, list(reference.parameters()))
    for g, e in zip(got, expected, strict=False):
        assert torch.allclose(g, e, atol=1e-6)
    assert float(loss) == pytest.approx(float(first.detach()))
    for p, b in zip(
        model.parameters(), before, strict=False
    ):  # the weights are back where they were
        assert torch.equal(p.detach(), b)


def test_asymmetric_step_perturbs_each_class_by_its_own_radius():
    model, x, target = _problem()
    sam = build_sam(
        {"name": "asymmetric_sam", "rho": 0.05, "minority_rho": 0.3},
        class_counts=np.array([6, 2]),
        task="binary",
    )
    shifts: list[float] = []
    _step(sam, model, x, target, record=shifts)
    # one forward at w, then one per radius group: majority at 0.05, minority at 0.3
    assert shifts[0] == pytest.approx(0.0)
    assert sorted(shifts[1:]) == pytest.approx([0.05, 0.3], abs=1e-6)


def test_asymmetric_gradient_is_the_sum_of_group_shares_at_their_ascent_points():
    model, x, target = _problem(3)
    rho = {0: 0.05, 1: 0.3}
    sam = build_sam(
        {"name": "asymmetric_sam", "rho": rho[0], "minority_rho": rho[1]},
        class_counts=np.array([6, 2]),
        task="binary",
    )
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    _step(sam, model, x, target)
    got = [p.grad.clone() for p in model.parameters()]
    total = [torch.zeros_like(p) for p in model.parameters()]
    for cls, radius in rho.items():
        rows = torch.nonzero(target == cls).flatten()
        share = len(rows) / len(target)
        reference = nn.Linear(4, 2)
        reference.load_state_dict(before)
        loss = nn.functional.cross_entropy(reference(x)[rows], target[rows]) * share
        grads = torch.autograd.grad(loss, list(reference.parameters()))
        norm = torch.cat([g.flatten() for g in grads]).norm()
        with torch.no_grad():
            for p, g in zip(reference.parameters(), grads, strict=False):
                p.add_(radius * g / norm)
        loss = nn.functional.cross_entropy(reference(x)[rows], target[rows]) * share
        for t, g in zip(
            total, torch.autograd.grad(loss, list(reference.parameters())), strict=False
        ):
            t += g
    for g, e in zip(got, total, strict=False):
        assert torch.allclose(g, e, atol=1e-6)


def test_rho_zero_is_a_plain_gradient_step():
    model, x, target = _problem()
    sam = build_sam({"name": "sam", "rho": 0.0}, class_counts=np.array([6, 2]), task="binary")
    _step(sam, model, x, target)
    got = [p.grad.clone() for p in model.parameters()]
    for p in model.parameters():
        p.grad = None
    nn.functional.cross_entropy(model(x), target).backward()
    for g, p in zip(got, model.parameters(), strict=False):
        assert torch.allclose(g, p.grad, atol=1e-7)


def test_bad_specs_are_one_line_errors():
    with pytest.raises(LongtailError, match="valid names: asymmetric_sam, none, sam"):
        build_sam("sharp", class_counts=np.array([1, 2]), task="binary")
    with pytest.raises(LongtailError, match="sam.rho must be a number >= 0"):
        build_sam({"name": "sam", "rho": -0.1}, class_counts=np.array([1, 2]), task="binary")
    with pytest.raises(LongtailError, match="minority_rho"):
        build_sam(
            {"name": "asymmetric_sam", "minority_rho": -1},
            class_counts=np.array([1, 2]),
            task="binary",
        )
    assert build_sam("none", class_counts=np.array([1, 2]), task="binary") is None
    assert set(SAM_WRAPPERS.names()) == {"none", "sam", "asymmetric_sam"}


def test_sam_refuses_gradient_accumulation():
    sam = build_sam("sam", class_counts=np.array([6, 2]), task="binary")
    split = TokenizedSplit([[1, 2]], np.array([0]))
    with pytest.raises(LongtailError, match="grad_accum=1"):
        train_model(
            nn.Linear(2, 2), nn.CrossEntropyLoss(), split, split, TrainConfig(grad_accum=2),
            score=lambda logits: 0.0, sam=sam,
        )  # fmt: skip


def test_every_level_runs_one_pass_per_radius_even_without_minority_rows():
    """Data-parallel ranks must agree on the number of forward passes; the gradient is unchanged."""
    model, x, _ = _problem()
    target = torch.zeros(8, dtype=torch.long)  # this shard has no minority row
    sam = build_sam("asymmetric_sam", class_counts=np.array([6, 2]), task="binary")
    assert [len(rows) for _, rows in sam.groups(target, every_level=True)] == [8, 0]
    calls: list[float] = []
    _step(sam, model, x, target, record=calls)
    plain = [p.grad.clone() for p in model.parameters()]
    for p in model.parameters():
        p.grad = None
    calls_every: list[float] = []
    start = [p.detach().clone() for p in model.parameters()]

    def forward():
        calls_every.append(1.0)
        return model(x)

    sam.step(
        list(model.parameters()), forward,
        lambda outputs, rows: nn.functional.cross_entropy(outputs[rows], target[rows]), target,
        backward=lambda loss, **kw: loss.backward(**kw), every_level=True,
    )  # fmt: skip
    assert len(calls) == 2 and len(calls_every) == 3
    for g, p in zip(plain, model.parameters(), strict=True):
        assert torch.allclose(g, p.grad, atol=1e-7)
    for p, s in zip(model.parameters(), start, strict=True):
        assert torch.equal(p.detach(), s)


@pytest.mark.parametrize("name", ["sam", "asymmetric_sam"])
def test_the_weights_are_restored_bit_for_bit_after_large_ascents(name):
    """Undoing ``w + ε`` by subtraction rounds ((w + ε) - ε != w in float32 for most weights);
    the step copies the saved weights back, so they are exact on every machine."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 2))
    x = torch.randn(32, 16)
    target = (torch.arange(32) % 5 == 0).long()
    sam = build_sam(
        {"name": name, "rho": 0.7, **({"minority_rho": 1.3} if name != "sam" else {})},
        class_counts=np.array([26, 6]),
        task="binary",
    )
    before = [p.detach().clone() for p in model.parameters()]
    shifted: list[float] = []
    _step(sam, model, x, target, record=shifted)
    assert max(shifted) > 0.5  # the ascent did move the weights far
    shifts = [0.01 * torch.randn_like(b) for b in before]  # ascents of this size round:
    assert not all(torch.equal((b + e) - e, b) for b, e in zip(before, shifts, strict=True))
    for p, b in zip(model.parameters(), before, strict=True):
        assert torch.equal(p.detach(), b)
