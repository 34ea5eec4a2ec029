"""augment_minority: class targets, round-robin over rows, multilabel grouping, cache, filters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from longtail.augment import AUGMENTERS, AugmentCache, augment_minority, build_augmenter
from longtail.augment.eda import EDAAugmenter
from longtail.augment.wordnet import DictSynonyms
from longtail.errors import LongtailError


class Counting:
    """Deterministic fake: '<text> v<k>' for k = 0, 1, ...; counts calls; can fail."""

    name = "counting"
    batch_size = 2

    def __init__(self, fail_after: int | None = None, bad_every: int = 0) -> None:
        self.calls = 0
        self.fail_after = fail_after
        self.bad_every = bad_every
        self.serial = 0

    def cache_params(self) -> dict:
        return {"bad_every": self.bad_every}

    def augment(self, texts, n_per_text, *, seed):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise RuntimeError("endpoint went away")
        self.calls += 1
        out = []
        for text in texts:
            rows = []
            for _ in range(n_per_text):
                self.serial += 1
                bad = self.bad_every and self.serial % self.bad_every == 0
                rows.append("" if bad else f"{text} v{self.serial}")
            out.append(rows)
        return out


def _data():
    texts = [f"majority text number {i}" for i in range(20)] + [
        f"minority row {i} here" for i in range(3)
    ]
    return texts, np.array([0] * 20 + [1] * 3)


def test_single_label_reaches_target_and_uses_every_row():
    texts, y = _data()
    result = augment_minority(texts, y, "binary", augmenter=Counting(), target_ratio=0.5, seed=0)
    assert len(result.texts) == math.ceil(0.5 * 20) - 3
    assert set(result.source_index.tolist()) == {20, 21, 22}  # round-robin: every row used
    assert (
        np.bincount(result.source_index)[20:].max() - np.bincount(result.source_index)[20:].min()
        <= 1
    )
    assert (result.y == 1).all()
    cls = result.stats["classes"]
    assert cls[0]["requested"] == 0 and cls[1]["after"] == 10 and cls[1]["kept"] == 7
    all_texts, all_y = result.merged(texts, y)
    assert len(all_texts) == len(all_y) == 30


def test_dropped_rows_are_asked_again_and_counted():
    texts, y = _data()
    result = augment_minority(
        texts, y, "binary", augmenter=Counting(bad_every=3), target_ratio=0.5, seed=0
    )
    entry = result.stats["classes"][1]
    assert entry["kept"] == 7 and entry["dropped"]["empty"] >= 2
    assert entry["generated"] == entry["kept"] + sum(entry["dropped"].values())


def test_multilabel_groups_by_rarest_label_and_copies_vectors():
    texts = [f"some text number {i}" for i in range(12)]
    y = np.zeros((12, 3), dtype=np.float32)
    y[:10, 0] = 1  # label 0: 10 rows
    y[8:12, 1] = 1  # label 1: 4 rows -> rows 8..11 grouped by label 1
    y[11, 2] = 1  # label 2: 1 row -> row 11 grouped by label 2
    result = augment_minority(
        texts, y, "multilabel", augmenter=Counting(), target_ratio=0.5, seed=1
    )
    before = {c["class"]: c["before"] for c in result.stats["classes"]}
    assert before == {0: 8, 1: 3, 2: 1}
    assert {c["class"]: c["after"] for c in result.stats["classes"]} == {0: 8, 1: 4, 2: 4}
    for src, row in zip(result.source_index, result.y, strict=True):
        np.testing.assert_array_equal(row, y[src])


@pytest.mark.parametrize("ratio", [0, -0.1, 1.01, float("nan")])
def test_target_ratio_outside_range(ratio):
    texts, y = _data()
    with pytest.raises(LongtailError, match="target_ratio"):
        augment_minority(texts, y, "binary", augmenter=Counting(), target_ratio=ratio)


def test_cache_reused_across_runs_and_partial_cache_kept(tmp_path):
    texts, y = _data()
    with AugmentCache(tmp_path) as cache:
        with pytest.raises(RuntimeError):
            augment_minority(
                texts, y, "binary", augmenter=Counting(fail_after=1), target_ratio=0.5, cache=cache
            )
        assert len(cache) > 0  # the first batch survived the failure
        again = Counting()
        first = augment_minority(texts, y, "binary", augmenter=again, target_ratio=0.5, cache=cache)
        assert first.stats["cache"]["hits"] >= 1 and again.calls >= 1
    with AugmentCache(tmp_path) as cache:  # a new run: everything comes from the cache
        unused = Counting(fail_after=0)
        second = augment_minority(
            texts, y, "binary", augmenter=unused, target_ratio=0.5, cache=cache
        )
    assert second.texts == first.texts and unused.calls == 0


def test_registry_and_contract():
    assert AUGMENTERS.names() == ["back_translation", "eda", "llm", "none"]
    with pytest.raises(LongtailError, match="valid names: back_translation, eda, llm, none"):
        build_augmenter("nope")
    eda = build_augmenter({"name": "eda", "num_aug": 2, "synonyms": DictSynonyms({})})
    assert isinstance(eda, EDAAugmenter) and eda.max_per_text == 2


def test_eda_end_to_end_no_duplicates_of_training_rows():
    texts, y = _data()
    eda = EDAAugmenter(synonyms=DictSynonyms({"minority": ["rare", "small"], "row": ["line"]}))
    result = augment_minority(texts, y, "binary", augmenter=eda, target_ratio=1.0, seed=0)
    norm = {" ".join(t.split()).casefold() for t in texts}
    assert all(" ".join(t.split()).casefold() not in norm for t in result.texts)
    assert len(set(result.texts)) == len(result.texts)
