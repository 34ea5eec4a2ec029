"""Auxiliary contrastive losses: NumPy references, gradients, degenerate batches, validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from longtail.errors import LongtailError
from longtail.losses.contrastive import AUX_LOSSES, SimCSELoss, SupConLoss, build_aux_loss

B, H, C = 12, 8, 4
SINGLE_TASKS = ("binary", "multiclass")


def _unit(z: np.ndarray) -> np.ndarray:
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def _simcse_ref(z1: np.ndarray, z2: np.ndarray, tau: float) -> float:
    """Symmetric InfoNCE: row i of one view against every row of the other view."""
    s = _unit(z1) @ _unit(z2).T / tau

    def ce(m: np.ndarray) -> float:
        return float(np.mean([np.log(np.exp(m[i]).sum()) - m[i, i] for i in range(len(m))]))

    return 0.5 * (ce(s) + ce(s.T))


def _supcon_ref(views: list[np.ndarray], related: np.ndarray, tau: float) -> float:
    """Khosla et al. L_out by loops; ``related[i, j]``: rows i and j are positives."""
    f = _unit(np.concatenate(views))
    row = np.tile(np.arange(len(views[0])), len(views))
    losses = []
    for i in range(len(f)):
        others = [a for a in range(len(f)) if a != i]
        log_denom = np.log(sum(np.exp(f[i] @ f[a] / tau) for a in others))
        pos = [p for p in others if row[p] == row[i] or related[row[i], row[p]]]
        if pos:
            losses.append(-np.mean([f[i] @ f[p] / tau - log_denom for p in pos]))
    return float(np.mean(losses)) if losses else 0.0


def _targets(task: str, n: int = B) -> torch.Tensor:
    if task == "multilabel":
        target = (torch.rand(n, C) < 0.3).float()
        target[0] = 0.0  # a row without labels: positive of nothing but its own other view
        return target
    return torch.randint(0, 2 if task == "binary" else 2 * C, (n,))  # some singleton classes


def _related(task: str, target: torch.Tensor) -> np.ndarray:
    y = target.numpy()
    if task == "multilabel":
        return (y @ y.T) > 0
    return y[:, None] == y[None, :]


def _views(requires_grad: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    z1, z2 = torch.randn(B, H), torch.randn(B, H)
    return z1.requires_grad_(requires_grad), z2.requires_grad_(requires_grad)


def _backward_ok(loss: torch.Tensor, *tensors: torch.Tensor) -> None:
    assert loss.dim() == 0 and loss.dtype == torch.float32
    assert torch.isfinite(loss)
    loss.backward()
    for t in tensors:
        assert t.grad is not None
        assert torch.isfinite(t.grad).all()


@pytest.mark.parametrize("tau", [0.05, 0.5])
def test_simcse_matches_numpy_reference(tau: float) -> None:
    z1, z2 = _views()
    got = SimCSELoss(temperature=tau)(z1, z2, torch.zeros(B))
    np.testing.assert_allclose(
        got.item(), _simcse_ref(z1.double().numpy(), z2.double().numpy(), tau), atol=1e-5
    )


@pytest.mark.parametrize("two_views", [False, True])
@pytest.mark.parametrize("task", [*SINGLE_TASKS, "multilabel"])
def test_supcon_matches_numpy_reference(task: str, two_views: bool) -> None:
    z1, z2 = _views()
    target = _targets(task)
    got = SupConLoss(task, temperature=0.1)(z1, z2 if two_views else None, target)
    views = [z1.double().numpy()] + ([z2.double().numpy()] if two_views else [])
    np.testing.assert_allclose(
        got.item(), _supcon_ref(views, _related(task, target), 0.1), atol=1e-5
    )


def test_multilabel_positives_share_at_least_one_label() -> None:
    """Rows 0 and 1 share label 1, row 2 shares nothing: only 0 and 1 are anchors."""
    target = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    z = torch.randn(3, H)
    got = SupConLoss("multilabel")(z, None, target)
    related = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=bool)
    np.testing.assert_allclose(
        got.item(), _supcon_ref([z.double().numpy()], related, 0.1), atol=1e-5
    )


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_any_input_dtype_is_computed_in_float32(dtype: torch.dtype) -> None:
    z1, z2 = _views()
    target = _targets("multiclass")
    for loss_fn in (SimCSELoss(), SupConLoss("multiclass")):
        got = loss_fn(z1.to(dtype), z2.to(dtype), target)
        assert got.dtype == torch.float32
        expected = loss_fn(z1.to(dtype).float(), z2.to(dtype).float(), target)
        torch.testing.assert_close(got, expected)


CASES = [
    ("simcse", "multiclass", True),
    *[("supcon", task, two) for task in (*SINGLE_TASKS, "multilabel") for two in (False, True)],
]


@pytest.mark.parametrize(("name", "task", "two_views"), CASES)
def test_gradients_flow_to_both_views(name: str, task: str, two_views: bool) -> None:
    z1, z2 = _views(requires_grad=True)
    loss = build_aux_loss(name, task=task)(z1, z2 if two_views else None, _targets(task))
    _backward_ok(loss, z1, *([z2] if two_views else []))
    assert z1.grad.abs().sum() > 0
    if two_views:
        assert z2.grad.abs().sum() > 0


@pytest.mark.parametrize(("name", "task", "two_views"), CASES)
def test_identical_embeddings_give_a_finite_loss(name: str, task: str, two_views: bool) -> None:
    z1 = torch.randn(1, H).repeat(B, 1).requires_grad_()
    z2 = z1.detach().clone().requires_grad_()
    loss = build_aux_loss(name, task=task)(z1, z2 if two_views else None, _targets(task))
    _backward_ok(loss, z1, *([z2] if two_views else []))


@pytest.mark.parametrize("two_views", [False, True])
@pytest.mark.parametrize("task", [*SINGLE_TASKS, "multilabel"])
def test_supcon_batch_of_one_class_is_finite(task: str, two_views: bool) -> None:
    z1, z2 = _views(requires_grad=True)
    target = torch.ones(B, C) if task == "multilabel" else torch.ones(B, dtype=torch.long)
    loss = SupConLoss(task)(z1, z2 if two_views else None, target)
    _backward_ok(loss, z1, *([z2] if two_views else []))
    # Every other embedding is a positive, so by Jensen each anchor's loss is >= log(n - 1).
    assert loss.item() >= np.log(B * (2 if two_views else 1) - 1) - 1e-5


@pytest.mark.parametrize("task", [*SINGLE_TASKS, "multilabel"])
def test_supcon_without_any_positive_is_a_zero_that_backpropagates(task: str) -> None:
    n = 2 if task == "binary" else C
    z1 = torch.randn(n, H, requires_grad=True)
    target = torch.eye(n) if task == "multilabel" else torch.arange(n)
    loss = SupConLoss(task)(z1, None, target)
    assert loss.item() == 0.0
    _backward_ok(loss, z1)
    assert torch.equal(z1.grad, torch.zeros_like(z1))


def test_supcon_single_row_is_a_zero_that_backpropagates() -> None:
    z1 = torch.randn(1, H, requires_grad=True)
    loss = SupConLoss("multiclass")(z1, None, torch.tensor([3]))
    assert loss.item() == 0.0
    _backward_ok(loss, z1)


def test_simcse_single_row_is_a_zero_that_backpropagates() -> None:
    z1, z2 = torch.randn(1, H, requires_grad=True), torch.randn(1, H, requires_grad=True)
    loss = SimCSELoss()(z1, z2, torch.zeros(1))
    assert loss.item() == 0.0
    _backward_ok(loss, z1, z2)


def test_simcse_is_lower_when_the_views_agree() -> None:
    z1, z2 = _views()
    loss_fn = SimCSELoss()
    assert loss_fn(z1, z1, torch.zeros(B)) < loss_fn(z1, z2, torch.zeros(B)) - 1.0


def test_simcse_ignores_the_target() -> None:
    z1, z2 = _views()
    loss_fn = build_aux_loss("simcse", task="multilabel")
    assert loss_fn(z1, z2, torch.zeros(B, C)) == loss_fn(z1, z2, torch.ones(B, C))


@pytest.mark.parametrize("two_views", [False, True])
def test_supcon_decreases_when_classes_are_pulled_together(two_views: bool) -> None:
    target = torch.arange(B) % C
    centers = 3.0 * torch.randn(C, H)
    z1, z2 = _views()
    loss_fn = SupConLoss("multiclass")
    losses = []
    for pull in (0.0, 0.5, 0.9):  # move every embedding towards its class center
        p1, p2 = (torch.lerp(z, centers[target], pull) for z in (z1, z2))
        losses.append(loss_fn(p1, p2 if two_views else None, target).item())
    assert losses[0] > losses[1] > losses[2]


def test_supcon_with_distinct_labels_and_two_views_is_nt_xent() -> None:
    """With all labels distinct, the only positive is the other view: SupCon is NT-Xent."""
    z1, z2 = _views()
    got = SupConLoss("multiclass")(z1, z2, torch.arange(B))
    none_related = np.zeros((B, B), dtype=bool)
    expected = _supcon_ref([z1.double().numpy(), z2.double().numpy()], none_related, 0.1)
    np.testing.assert_allclose(got.item(), expected, atol=1e-5)


@pytest.mark.parametrize("name", ["simcse", "supcon"])
def test_negative_weight_is_rejected_with_the_key_and_the_fix(name: str) -> None:
    with pytest.raises(LongtailError) as info:
        build_aux_loss({"name": name, "weight": -1.0}, task="binary")
    assert str(info.value) == (
        "aux_loss.weight (λ) must be >= 0, got -1.0; 0 switches the auxiliary loss off"
    )


@pytest.mark.parametrize("temperature", [0.0, -0.1, float("nan"), float("inf")])
@pytest.mark.parametrize("name", ["simcse", "supcon"])
def test_bad_temperature_is_rejected_with_the_key(name: str, temperature: float) -> None:
    with pytest.raises(LongtailError, match=r"aux_loss\.temperature"):
        build_aux_loss({"name": name, "temperature": temperature}, task="multiclass")


def test_weight_zero_is_allowed_and_stored_as_float() -> None:
    aux = build_aux_loss({"name": "supcon", "weight": 0}, task="multilabel")
    assert aux.weight == 0.0 and isinstance(aux.weight, float)


def test_unknown_name_lists_the_valid_ones() -> None:
    assert AUX_LOSSES.names() == ["none", "simcse", "supcon"]
    with pytest.raises(LongtailError, match="valid names: none, simcse, supcon"):
        build_aux_loss("simclr", task="multiclass")


@pytest.mark.parametrize("spec", ["none", None, {"name": "none"}])
def test_off_builds_no_auxiliary_loss(spec) -> None:
    assert build_aux_loss(spec, task="multiclass") is None


def test_unknown_parameter_is_a_longtail_error() -> None:
    with pytest.raises(LongtailError, match="bad parameters"):
        build_aux_loss({"name": "simcse", "tau": 0.1}, task="binary")


def test_build_defaults_and_pass_through() -> None:
    simcse = build_aux_loss("simcse", task="multilabel")
    supcon = build_aux_loss("supcon", task="binary")
    assert isinstance(simcse, SimCSELoss) and simcse.needs_second_view
    assert (simcse.temperature, simcse.weight) == (0.05, 0.1)
    assert isinstance(supcon, SupConLoss) and not supcon.needs_second_view
    assert (supcon.task, supcon.temperature, supcon.weight) == ("binary", 0.1, 0.1)
    custom = nn.Identity()
    assert build_aux_loss(custom, task="binary") is custom


def test_supcon_rejects_an_unknown_task() -> None:
    with pytest.raises(LongtailError, match="valid tasks: binary, multiclass, multilabel"):
        build_aux_loss("supcon", task="regression")


@pytest.mark.parametrize(
    ("loss_fn", "z1", "z2", "target", "match"),
    [
        (SimCSELoss(), torch.randn(B, H), None, torch.zeros(B), "second view z2"),
        (SimCSELoss(), torch.randn(B, H), torch.randn(B, H + 1), torch.zeros(B), "shape of z1"),
        (SupConLoss("multiclass"), torch.randn(B), None, torch.zeros(B), r"\(batch, hidden\)"),
        (SupConLoss("multiclass"), torch.randn(B, H), torch.randn(B - 1, H), torch.zeros(B), "z2"),
        (SupConLoss("multiclass"), torch.randn(B, H), None, torch.zeros(B, C), "class indices"),
        (SupConLoss("binary"), torch.randn(B, H), None, torch.zeros(B - 1), "class indices"),
        (SupConLoss("multilabel"), torch.randn(B, H), None, torch.zeros(B), "multi-hot"),
    ],
)
def test_mismatched_shapes_are_rejected(
    loss_fn: nn.Module,
    z1: torch.Tensor,
    z2: torch.Tensor | None,
    target: torch.Tensor,
    match: str,
) -> None:
    with pytest.raises(LongtailError, match=match):
        loss_fn(z1, z2, target)
