"""The lexical branch: scikit-learn's TF-IDF + logistic regression, kept as arrays, fused."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from longtail.errors import LongtailError
from longtail.models.lexical import (
    LEXICAL_META,
    LEXICAL_WEIGHTS,
    LexicalModel,
    TfidfFeatures,
    fuse_logits,
    fused_priors,
)

WORDS = {
    "sport": "goal match team score league coach".split(),
    "money": "bank rate loan cash market stock".split(),
    "rare": "storm rain wind snow cloud flood".split(),
}


def _rows(counts: dict[str, int], seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    every = sum(WORDS.values(), [])
    texts, labels = [], []
    for index, (label, count) in enumerate(counts.items()):
        for _ in range(count):
            words = [*rng.choice(WORDS[label], size=4), *rng.choice(every, size=3)]
            texts.append(" ".join(rng.permutation(words)) + " Ünïcode, PUNCT!")
            labels.append(index)
    return texts, np.asarray(labels)


def test_the_features_are_scikit_learns_tfidf_recomputed_from_the_saved_arrays():
    train, _ = _rows({"sport": 30, "money": 20, "rare": 6}, seed=0)
    unseen, _ = _rows({"sport": 5, "money": 5, "rare": 5}, seed=1)
    features, x = TfidfFeatures.fit(train)
    reference = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2).fit(train)
    assert features.vocabulary == sorted(reference.vocabulary_, key=reference.vocabulary_.get)
    for texts in (train, unseen):
        expected = reference.transform(texts).toarray()
        np.testing.assert_allclose(features.transform(texts).toarray(), expected, atol=1e-12)
    np.testing.assert_allclose(x.toarray(), reference.transform(train).toarray(), atol=1e-12)


def test_texts_without_a_word_give_no_branch():
    assert TfidfFeatures.fit(["a", "b", "😀"]) is None
    assert LexicalModel.fit("multiclass", 2, ["a", "b"], np.asarray([0, 1])) is None


def test_multiclass_probabilities_are_the_regressions_and_an_unseen_class_is_never_predicted():
    train, y = _rows({"sport": 30, "money": 20}, seed=0)  # class 2 ("rare") never seen
    test, _ = _rows({"sport": 5, "money": 5, "rare": 5}, seed=1)
    branch = LexicalModel.fit("multiclass", 3, train, y)
    x = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2).fit(train)
    reference = LogisticRegression(max_iter=2000, class_weight="balanced").fit(
        x.transform(train), y
    )
    probs = branch.probabilities(test)
    np.testing.assert_allclose(probs[:, :2], reference.predict_proba(x.transform(test)), atol=1e-6)
    assert np.all(probs[:, 2] < 1e-30) and np.all(probs.argmax(axis=1) != 2)
    three = LexicalModel.fit("multiclass", 3, *_rows({"sport": 30, "money": 20, "rare": 9}, 0))
    reference3 = LogisticRegression(max_iter=2000, class_weight="balanced")
    train3, y3 = _rows({"sport": 30, "money": 20, "rare": 9}, 0)
    x3 = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2).fit(train3)
    reference3.fit(x3.transform(train3), y3)
    np.testing.assert_allclose(
        three.probabilities(test), reference3.predict_proba(x3.transform(test)), atol=1e-6
    )


def test_binary_logits_are_zero_and_the_decision_function():
    train, y = _rows({"sport": 30, "money": 10}, seed=2)
    branch = LexicalModel.fit("binary", 2, train, y)
    logits = branch.logits(train[:5])
    assert np.all(logits[:, 0] == 0)
    x = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2).fit(train)
    reference = LogisticRegression(max_iter=2000, class_weight="balanced").fit(
        x.transform(train), y
    )
    np.testing.assert_allclose(
        logits[:, 1], reference.decision_function(x.transform(train[:5])), atol=1e-5
    )


def test_multilabel_fits_a_regression_per_label_and_pins_constant_labels():
    train, y = _rows({"sport": 20, "money": 20, "rare": 6}, seed=3)
    multi = np.zeros((len(y), 4), dtype=int)
    multi[np.arange(len(y)), y] = 1
    multi[:, 3] = 1  # every row has label 3
    multi[:, 2] = 0  # no row has label 2
    multi[0, 2] = 0
    branch = LexicalModel.fit("multilabel", 4, train, multi)
    probs = branch.probabilities(train)
    assert np.all(probs[:, 3] == 1.0) and np.all(probs[:, 2] == 0.0)
    assert ((probs[:, :2] >= 0.5) == multi[:, :2].astype(bool)).mean() > 0.9


def test_save_and_load_give_the_same_logits_without_pickle(tmp_path):
    train, y = _rows({"sport": 30, "money": 20, "rare": 6}, seed=0)
    branch = LexicalModel.fit("multiclass", 3, train, y)
    assert sorted(branch.save(tmp_path)) == sorted([LEXICAL_WEIGHTS, LEXICAL_META])
    loaded = LexicalModel.load(tmp_path)
    assert loaded.train_rows == len(train) and loaded.task == "multiclass"
    np.testing.assert_array_equal(loaded.logits(train), branch.logits(train))
    meta = json.loads((tmp_path / LEXICAL_META).read_text())
    meta["vocabulary"] = meta["vocabulary"][:-1]  # one n-gram fewer than the weights have
    (tmp_path / LEXICAL_META).write_text(json.dumps(meta))
    with pytest.raises(LongtailError, match="do not match .* n-grams"):
        LexicalModel.load(tmp_path)
    (tmp_path / LEXICAL_WEIGHTS).write_bytes(b"not safetensors")
    with pytest.raises(LongtailError, match="cannot be read"):
        LexicalModel.load(tmp_path)


def test_fusion_at_weight_0_is_the_model_and_at_1_the_branch():
    rng = np.random.default_rng(0)
    model, branch = rng.normal(size=(6, 3)) * 3, rng.normal(size=(6, 3)) * 3
    np.testing.assert_allclose(
        softmax(fuse_logits("multiclass", model, branch, 0.0), axis=1), softmax(model, axis=1),
        atol=1e-6,
    )  # fmt: skip
    np.testing.assert_allclose(
        softmax(fuse_logits("multiclass", model, branch, 1.0), axis=1), softmax(branch, axis=1),
        atol=1e-6,
    )  # fmt: skip
    # halfway: the normalised geometric mean of the two distributions
    geometric = np.sqrt(softmax(model, axis=1) * softmax(branch, axis=1))
    np.testing.assert_allclose(
        softmax(fuse_logits("multiclass", model, branch, 0.5), axis=1),
        geometric / geometric.sum(axis=1, keepdims=True), atol=1e-6,
    )  # fmt: skip
    np.testing.assert_allclose(
        fuse_logits("multilabel", model, branch, 0.25), 0.75 * model + 0.25 * branch, atol=1e-5
    )
    with pytest.raises(ValueError, match="differ"):
        fuse_logits("multiclass", model, branch[:, :2], 0.5)


def test_the_fused_priors_average_the_log_priors_with_the_branchs_equal_ones():
    priors = np.array([0.8, 0.15, 0.05])
    assert fused_priors(priors, 0.0) == pytest.approx(priors)
    assert fused_priors(priors, 1.0) == pytest.approx(np.full(3, 1 / 3))
    half = np.sqrt(priors) / np.sqrt(priors).sum()
    assert fused_priors(priors, 0.5) == pytest.approx(half)
