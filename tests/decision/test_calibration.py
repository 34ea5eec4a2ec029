"""Temperature scaling (Guo et al., 2017) and numerically stable probabilities."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from longtail.decision import fit_temperature, negative_log_likelihood, probabilities
from longtail.errors import LongtailError


def _sample_single_label(t_star: float, n: int = 20000, classes: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, classes)) * 3.0
    p = probabilities(z, "multiclass", temperature=t_star)
    u = rng.random((n, 1))
    y = np.minimum((p.cumsum(axis=1) < u).sum(axis=1), classes - 1)
    return z, y.astype(np.int64)


@pytest.mark.parametrize("t_star", [0.5, 1.0, 2.5])
def test_recovers_known_temperature_multiclass(t_star):
    z, y = _sample_single_label(t_star)
    t = fit_temperature(z, y, "multiclass")
    assert isinstance(t, float)
    assert abs(t - t_star) / t_star < 0.1
    assert negative_log_likelihood(z, y, "multiclass", t) <= negative_log_likelihood(
        z, y, "multiclass", 1.0
    )


def test_recovers_known_temperature_binary_and_multilabel():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(20000, 2)) * 4.0
    y = (rng.random(20000) < probabilities(z, "binary", 2.0)[:, 1]).astype(np.int64)
    assert fit_temperature(z, y, "binary") == pytest.approx(2.0, rel=0.1)
    zm = rng.normal(size=(5000, 4)) * 4.0
    ym = (rng.random(zm.shape) < probabilities(zm, "multilabel", 0.6)).astype(np.float32)
    t = fit_temperature(zm, ym, "multilabel")
    assert t == pytest.approx(0.6, rel=0.1)
    assert negative_log_likelihood(zm, ym, "multilabel", t) <= negative_log_likelihood(
        zm, ym, "multilabel"
    )


def test_nll_matches_torch_cross_entropy():
    z, y = _sample_single_label(1.0, n=300)
    expected = torch.nn.functional.cross_entropy(torch.tensor(z / 1.7), torch.tensor(y)).item()
    assert negative_log_likelihood(z, y, "multiclass", 1.7) == pytest.approx(expected, rel=1e-9)


def test_degenerate_inputs_return_one():
    z = np.random.default_rng(0).normal(size=(50, 3))
    assert fit_temperature(z, np.zeros(50, dtype=np.int64), "multiclass") == 1.0
    assert fit_temperature(z, np.zeros((50, 3)), "multilabel") == 1.0
    assert fit_temperature(z, np.ones((50, 3)), "multilabel") == 1.0
    assert fit_temperature(np.zeros((0, 3)), np.zeros(0, dtype=np.int64), "multiclass") == 1.0


def test_separable_data_gives_bounded_temperature():
    y = np.repeat([0, 1], 50)
    z = np.stack([-5.0 * (2 * y - 1), 5.0 * (2 * y - 1)], axis=1)
    t = fit_temperature(z, y, "binary")
    assert 1e-2 <= t < 1.0


def test_probabilities_are_stable_and_match_torch():
    z = np.array([[1000.0, -1000.0, 0.0], [1e-3, 2e-3, 3e-3], [-800.0, -800.0, -801.0]])
    p = probabilities(z, "multiclass")
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p, torch.softmax(torch.tensor(z), dim=1).numpy(), atol=1e-12)
    s = probabilities(z, "multilabel", temperature=2.0)
    np.testing.assert_allclose(s, torch.sigmoid(torch.tensor(z / 2.0)).numpy(), atol=1e-12)
    assert np.all(np.isfinite(s)) and s.min() >= 0.0 and s.max() <= 1.0


def test_binary_accepts_one_logit_column():
    z = np.array([[-2.0], [0.0], [3.0]])
    p = probabilities(z, "binary")
    assert p.shape == (3, 2)
    np.testing.assert_allclose(p[:, 1], 1 / (1 + np.exp(-z[:, 0])))
    # Two logits [0, z] give the same softmax as one sigmoid logit z.
    two = probabilities(np.concatenate([np.zeros_like(z), z], axis=1), "binary")
    np.testing.assert_allclose(p, two)


def test_bad_inputs_raise_longtail_error():
    z = np.zeros((3, 2))
    with pytest.raises(LongtailError, match="temperature"):
        probabilities(z, "multiclass", temperature=0.0)
    with pytest.raises(LongtailError, match="task"):
        probabilities(z, "ranking")
    with pytest.raises(LongtailError, match="labels"):
        fit_temperature(z, np.array([0, 1, 5]), "multiclass")
    with pytest.raises(LongtailError, match="finite"):
        fit_temperature(np.full((3, 2), np.nan), np.array([0, 1, 1]), "binary")
