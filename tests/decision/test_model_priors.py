"""The priors a trained model's probabilities reflect: the training counts moved by its remedies."""

from __future__ import annotations

import numpy as np
import pytest

from longtail.decision.model_priors import implied_priors
from longtail.losses import build_loss
from longtail.sampling import build_sampler

COUNTS = np.array([900, 100])


def _loss(spec):
    return build_loss(spec, task="binary", class_counts=COUNTS, num_docs=int(COUNTS.sum()))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("ce", [0.9, 0.1]),
        ("focal", [0.9, 0.1]),  # no class weights: the focusing term is not a prior
        ({"name": "ce", "weights": "inverse"}, [0.5, 0.5]),
        ("balanced_softmax", [0.5, 0.5]),
        ({"name": "logit_adjusted", "tau": 0.5}, [0.75, 0.25]),  # pi^(1 - tau): 3 to 1
    ],
)
def test_a_loss_moves_the_priors_by_its_weights_and_offsets(spec, expected):
    np.testing.assert_allclose(implied_priors("binary", _loss(spec), COUNTS), expected, atol=1e-9)


def test_effective_number_weights_flatten_the_priors_by_their_ratio():
    loss = _loss({"name": "ce", "weights": "effective_number", "beta": 0.999})
    effective = (1 - 0.999**COUNTS) / (1 - 0.999)
    expected = (COUNTS / effective) / (COUNTS / effective).sum()
    np.testing.assert_allclose(implied_priors("binary", loss, COUNTS), expected)


def test_a_class_balanced_sampler_shows_the_loss_the_classes_it_draws():
    y = np.repeat([0, 1], COUNTS)
    sampler = build_sampler("class_balanced", y=y, task="multiclass", seed=0)
    drawn = np.bincount(y[sampler.indices().numpy()], minlength=2)
    priors = implied_priors("binary", _loss("ce"), COUNTS, sampler, y)
    np.testing.assert_allclose(priors, drawn / drawn.sum())
    assert abs(priors[0] - 0.5) < 0.05


def test_ldam_with_deferred_reweighting_ends_on_its_reweighting_weights():
    loss = build_loss("ldam", task="multiclass", class_counts=COUNTS, num_docs=1000)
    weights = loss.drw_weights.double().numpy()
    expected = COUNTS * weights / (COUNTS * weights).sum()
    np.testing.assert_allclose(implied_priors("multiclass", loss, COUNTS), expected)


def test_multilabel_has_no_single_prior():
    loss = build_loss("bce", task="multilabel", class_counts=COUNTS, num_docs=1000)
    assert implied_priors("multilabel", loss, COUNTS) is None
