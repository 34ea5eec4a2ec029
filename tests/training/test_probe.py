"""The L-BFGS linear probe: the solution it finds, the L2 path it walks, the head it leaves."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from longtail.errors import LongtailError
from longtail.losses import build_loss
from longtail.training.probe import fit_linear_probe


def _blobs(rows: int, classes: int = 3, width: int = 6, seed: int = 0, scale: float = 3.0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=1.5, size=(classes, width))
    y = rng.integers(0, classes, size=rows)
    x = centres[y] + rng.normal(size=(rows, width))
    return torch.tensor(x * scale + 5.0, dtype=torch.float32), y  # off-centre, wide: standardised


def _argmax_accuracy(y):
    return lambda logits: float((np.asarray(logits).argmax(1) == y).mean())


def test_one_l2_gives_scikit_learns_penalised_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    x, y = _blobs(400)
    head = nn.Linear(6, 3)
    l2 = 1e-2
    fit_linear_probe(head, nn.CrossEntropyLoss(), x, y, x[:50], _argmax_accuracy(y[:50]),
                     l2_grid=(l2,), log=lambda line: None)  # fmt: skip
    z = (x - x.mean(0)) / x.std(0, unbiased=False)
    reference = LogisticRegression(C=1 / (l2 * len(y)), tol=1e-10, max_iter=10_000).fit(z, y)
    with torch.no_grad():
        ours = torch.softmax(head(x), dim=1).numpy()  # the raw vectors: standardisation folded in
    np.testing.assert_allclose(ours, reference.predict_proba(z.numpy()), atol=2e-3)


def test_the_path_keeps_the_l2_that_scores_best_on_validation_and_ties_go_to_the_stronger():
    x, y = _blobs(300, seed=1)
    scores = iter([0.2, 0.7, 0.7, 0.5, 0.4, 0.3, 0.9])
    seen = []

    def score(logits):
        seen.append(np.asarray(logits).copy())
        return next(scores)

    head = nn.Linear(6, 3)
    fit = fit_linear_probe(head, nn.CrossEntropyLoss(), x, y, x[:40], score,
                           l2_grid=(1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7),
                           log=lambda line: None)  # fmt: skip
    assert fit.l2 == 1e-2 and fit.val_score == 0.7  # 1e-3 only tied it
    assert [p["l2"] for p in fit.path] == [1e-1, 1e-2, 1e-3, 1e-4, 1e-5]  # 3 worse: stopped
    with torch.no_grad():  # the head left behind is the chosen one, on raw vectors
        np.testing.assert_allclose(head(x[:40]).numpy(), seen[1], atol=1e-4)


def test_weaker_penalty_fits_the_training_rows_more_tightly():
    x, y = _blobs(300, seed=2, scale=0.4)
    objective = []
    for l2 in (1.0, 1e-4):
        head = nn.Linear(6, 3)
        fit_linear_probe(head, nn.CrossEntropyLoss(), x, y, x[:10], lambda logits: 0.0,
                         l2_grid=(l2,), log=lambda line: None)  # fmt: skip
        with torch.no_grad():
            objective.append(float(nn.functional.cross_entropy(head(x), torch.tensor(y))))
            norm = float(head.weight.norm())
        assert norm > 0
    assert objective[1] < objective[0] - 0.05


def test_class_weights_from_the_loss_move_the_rare_class_boundary():
    rng = np.random.default_rng(3)
    y = np.r_[np.zeros(380, int), np.ones(20, int)]
    x = torch.tensor(rng.normal(size=(400, 4)) + np.outer(y, [1.0, 0.5, 0, 0]), dtype=torch.float32)
    predicted = {}
    for weights in ("none", "inverse"):
        loss = build_loss({"name": "ce", "weights": weights}, task="binary",
                          class_counts=np.bincount(y), num_docs=len(y))  # fmt: skip
        head = nn.Linear(4, 2)
        fit_linear_probe(head, loss, x, y, x, lambda logits: 0.0, l2_grid=(1e-3,),
                         log=lambda line: None)  # fmt: skip
        with torch.no_grad():
            predicted[weights] = int((head(x).argmax(1) == 1).sum())
    assert predicted["inverse"] > predicted["none"] + 20  # balanced weights predict the rare class


def test_multilabel_bce_starts_from_the_heads_prior_bias():
    rng = np.random.default_rng(4)
    x = torch.tensor(rng.normal(size=(200, 5)), dtype=torch.float32)
    y = np.c_[(x[:, 0] > 0.8).numpy(), (x[:, 1] < -1.0).numpy()].astype(np.float32)
    head = nn.Linear(5, 2)
    fit = fit_linear_probe(head, nn.BCEWithLogitsLoss(), x, y, x, lambda logits: 1.0,
                           l2_grid=(1e-3,), log=lambda line: None)  # fmt: skip
    with torch.no_grad():
        predicted = (head(x) > 0).numpy()
    assert fit.iterations > 0
    assert (predicted == y.astype(bool)).mean() > 0.9


def test_wrong_shapes_and_grids_are_one_line_errors():
    head = nn.Linear(6, 3)
    x, y = _blobs(20)
    with pytest.raises(LongtailError, match=r"needs \(rows, 6\) vectors"):
        fit_linear_probe(head, nn.CrossEntropyLoss(), x[:, :4], y, x, lambda logits: 0.0)
    with pytest.raises(LongtailError, match="l2 grid"):
        fit_linear_probe(head, nn.CrossEntropyLoss(), x, y, x, lambda logits: 0.0, l2_grid=())
