"""The TF-IDF + logistic regression anchor: fitted on the training rows, scored like the model."""

from __future__ import annotations

import numpy as np
import pytest

from longtail.evaluation.anchor import ANCHOR_NAME, anchor_warning, compared, tfidf_anchor

WORDS = {
    "sport": "goal match team score league coach".split(),
    "money": "bank rate loan cash market stock".split(),
    "rare": "storm rain wind snow cloud flood".split(),
}
NAMES = list(WORDS)


def _rows(counts: dict[str, int], seed: int, noise: int = 2):
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    every = sum(WORDS.values(), [])
    for index, (label, count) in enumerate(counts.items()):
        for _ in range(count):
            words = list(rng.choice(WORDS[label], size=4)) + list(rng.choice(every, size=noise))
            texts.append(" ".join(rng.permutation(words)))
            labels.append(index)
    return texts, np.asarray(labels)


def test_multiclass_anchor_learns_the_words_and_scores_each_split():
    train_texts, y_train = _rows({"sport": 60, "money": 30, "rare": 8}, seed=0)
    test_texts, y_test = _rows({"sport": 20, "money": 20, "rare": 20}, seed=1)
    found = tfidf_anchor("multiclass", NAMES, train_texts, y_train,
                         {"validation": (test_texts[:30], y_test[:30]),
                          "test": (test_texts, y_test)})  # fmt: skip
    assert found["name"] == ANCHOR_NAME and found["train_rows"] == 98 and not found["sampled"]
    test = found["metrics"]["test"]
    assert test["f1_macro"] > 0.9 and test["mcc"] > 0.85 and test["num_examples"] == 60
    assert set(test["per_class_f1"]) == set(NAMES) and test["per_class_f1"]["rare"] > 0.8
    assert found["metrics"]["validation"]["num_examples"] == 30


def test_more_rows_than_the_cap_are_sampled_with_the_seed():
    texts, y = _rows({"sport": 40, "money": 40, "rare": 40}, seed=2)
    first = tfidf_anchor("multiclass", NAMES, texts, y, {"test": (texts, y)}, seed=3, max_rows=50)
    again = tfidf_anchor("multiclass", NAMES, texts, y, {"test": (texts, y)}, seed=3, max_rows=50)
    assert first["train_rows"] == 50 and first["sampled"]
    assert first["metrics"] == again["metrics"]


def test_binary_anchor_reports_mcc_and_a_class_missing_from_training_is_never_predicted():
    texts, y = _rows({"sport": 30, "money": 10}, seed=4)
    found = tfidf_anchor("binary", ["sport", "money"], texts, y, {"test": (texts, y)})
    assert found["metrics"]["test"]["mcc"] > 0.8
    # a three-class space whose training rows show two: the third gets probability 0
    test_texts, y_test = _rows({"sport": 5, "money": 5, "rare": 5}, seed=5)
    found = tfidf_anchor("multiclass", NAMES, texts, y, {"test": (test_texts, y_test)})
    assert found["metrics"]["test"]["per_class_f1"]["rare"] == 0.0


def test_multilabel_anchor_fits_one_regression_per_label_and_handles_constant_labels():
    texts, y = _rows({"sport": 30, "money": 30, "rare": 30}, seed=6)
    multi = np.zeros((len(y), 4), dtype=int)
    multi[np.arange(len(y)), y] = 1
    multi[:, 3] = 1  # a label on every training row: predicted everywhere
    names = [*NAMES, "always"]
    test = multi.copy()
    multi[:, 2] = 0  # "rare" never in training: never predicted
    found = tfidf_anchor("multilabel", names, texts, multi, {"test": (texts, test)})
    per_class = found["metrics"]["test"]["per_class_f1"]
    assert per_class["always"] == 1.0 and per_class["rare"] == 0.0
    assert per_class["sport"] > 0.9 and found["metrics"]["test"]["f1_micro"] > 0.7


def test_a_training_split_too_small_for_min_df_two_still_fits():
    texts, y = ["goal match", "bank loan"], np.asarray([0, 1])
    found = tfidf_anchor("binary", ["sport", "money"], texts, y, {"test": (texts, y)})
    assert found["metrics"]["test"]["f1_macro"] == pytest.approx(1.0)


def test_the_warning_names_the_anchor_only_when_it_is_ahead_on_macro_f1():
    anchor = {"metrics": {"test": {"f1_macro": 0.8, "mcc": 0.7, "pr_auc_macro": 0.9}}}
    behind = {"f1_macro": 0.7, "mcc": 0.75, "pr_auc_macro": 0.85}
    assert [m for m, _, _ in compared("multiclass", behind, anchor, "test")] == [
        "f1_macro", "mcc", "pr_auc_macro"
    ]  # fmt: skip
    report = {"task": "multiclass", "split": "test", "metrics": behind, "anchor": anchor}
    line = anchor_warning(report)
    assert line.startswith("the anchor beats this model on test macro-F1") and "0.8000" in line
    assert "mcc 0.7500 against 0.7000" in line
    assert anchor_warning({**report, "metrics": {**behind, "f1_macro": 0.85}}) is None
    assert anchor_warning({**report, "split": "validation"}) is None  # no anchor scores there


def test_texts_without_a_word_skip_the_anchor_and_say_why():
    texts, y = ["🙂 !", "? 🙃", "x y", "! ?"], np.asarray([0, 1, 0, 1])
    found = tfidf_anchor("binary", ["a", "b"], texts, y, {"test": (texts, y)})
    assert found == {
        "name": ANCHOR_NAME,
        "skipped": "the training texts hold no word of 2+ characters",
    }


def test_many_labels_fit_on_fewer_rows(monkeypatch):
    import longtail.evaluation.anchor as anchor

    monkeypatch.setattr(anchor, "MAX_ROWS_X_LABELS", 3 * 2_000)  # 3 labels: 2,000 rows at most
    texts, y = _rows({"sport": 800, "money": 800, "rare": 800}, seed=7)
    found = tfidf_anchor("multiclass", NAMES, texts, y, {"test": (texts[:50], y[:50])})
    assert found["train_rows"] == 2_000 and found["sampled"]


class _OnDisk(list):
    """Texts that count how many of them were read, as ``ArrowTexts`` reads them (``take``)."""

    read = 0

    def take(self, rows=None):
        chosen = list(self) if rows is None else [self[i] for i in rows]
        type(self).read += len(chosen)
        return chosen


def test_texts_on_disk_and_csr_labels_give_the_in_memory_anchor_reading_only_the_sample():
    from longtail.data.arrow import SparseMultiHot

    texts, y = _rows({"sport": 40, "money": 40, "rare": 40}, seed=8)
    multi = np.zeros((len(y), 3), dtype=np.float32)
    multi[np.arange(len(y)), y] = 1
    multi[::4, 2] = 1  # a second label on some rows
    indptr = np.concatenate([[0], np.cumsum(multi.sum(axis=1))]).astype(np.int64)
    csr = SparseMultiHot(indptr, np.flatnonzero(multi.ravel()) % 3, 3)
    test = {"test": (texts[:40], multi[:40])}
    in_memory = tfidf_anchor("multilabel", NAMES, texts, multi, test, seed=1, max_rows=60)
    _OnDisk.read = 0
    on_disk = tfidf_anchor("multilabel", NAMES, _OnDisk(texts), csr,
                           {"test": (_OnDisk(texts[:40]), multi[:40])}, seed=1, max_rows=60)  # fmt: skip
    assert on_disk["metrics"] == in_memory["metrics"] and on_disk["train_rows"] == 60
    assert _OnDisk.read == 60 + 40  # the sample and the scored rows, not the 120 training rows
