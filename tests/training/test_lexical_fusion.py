"""Choosing the lexical branch's weight on validation."""

from __future__ import annotations

import numpy as np

from longtail.models.lexical import fuse_logits
from longtail.training.lexical import WEIGHTS, choose_fusion, fusion_line


def test_auto_keeps_the_best_validation_score_and_a_tie_goes_to_the_smaller_weight():
    y = np.asarray([0, 1, 2, 0, 1, 2])
    model = np.eye(3)[[0, 1, 0, 0, 1, 0]] * 2.0  # wrong on the two rows of class 2
    branch = np.eye(3)[[0, 1, 2, 1, 1, 2]] * 2.0  # wrong on row 3
    calls = []

    def accuracy(logits):
        calls.append(logits)
        return float((logits.argmax(axis=1) == y).mean())

    fusion = choose_fusion("auto", "multiclass", model, branch, accuracy, "accuracy")
    assert len(calls) == len(WEIGHTS) == 11 and list(fusion.scores) == list(WEIGHTS)
    best = max(fusion.scores.values())
    assert fusion.scores[fusion.weight] == best
    assert all(fusion.scores[w] < best for w in WEIGHTS if w < fusion.weight)
    # the two logits are tied wherever the model and the branch disagree at weight 0.5
    assert fusion.weight > 0.5 and fusion.scores[0.0] == 4 / 6 and fusion.scores[1.0] == 5 / 6
    line = fusion_line(fusion, "accuracy")
    assert "model alone 0.6667, branch alone 0.8333" in line and f"weight {fusion.weight}" in line


def test_a_branch_that_adds_nothing_is_not_fused():
    y = np.asarray([0, 1, 0, 1])
    model = np.eye(2)[y] * 3.0

    def accuracy(logits):
        return float((logits.argmax(axis=1) == y).mean())

    fusion = choose_fusion("auto", "binary", model, np.zeros((4, 2)), accuracy, "accuracy")
    assert fusion.weight == 0.0  # every weight below 1 ties: the smallest wins
    assert "the model alone is best; nothing fused" in fusion_line(fusion, "accuracy")
    fixed = choose_fusion(0.3, "binary", model, np.zeros((4, 2)), accuracy, "accuracy")
    assert fixed.weight == 0.3 and not fixed.scores
    np.testing.assert_allclose(
        fuse_logits("binary", model, np.zeros((4, 2)), fixed.weight).argmax(axis=1), y
    )


def test_the_default_is_auto_and_yaml_spellings_of_off_are_read():
    import yaml

    from longtail.config import build_config

    assert build_config({"data": {"train": "x.csv"}}).lexical == "auto"
    off = build_config({"data": {"train": "x.csv"}, **yaml.safe_load("lexical: off")})
    assert off.lexical == "off"  # YAML reads a bare off as false
    assert build_config({"data": {"train": "x.csv"}, "lexical": "0.4"}).lexical == 0.4
