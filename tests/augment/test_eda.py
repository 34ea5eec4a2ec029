"""EDA operations with a dict synonym source, seeds, and the no-WordNet fallback."""

from __future__ import annotations

import random
import warnings

import pytest

from longtail.augment import eda as eda_module
from longtail.augment.eda import EDAAugmenter, random_deletion, random_swap
from longtail.augment.wordnet import DictSynonyms
from longtail.errors import LongtailError

SYN = DictSynonyms({"cash": ["money"], "prize": ["award"], "win": ["gain"]})
TEXT = "win cash and a prize today"


def test_synonym_replacement_only():
    eda = EDAAugmenter(alpha_sr=0.5, alpha_ri=0, alpha_rs=0, p_rd=0, synonyms=SYN)
    (out,) = eda.augment([TEXT], 3, seed=0)
    assert len(out) == 3
    for text in out:
        words = text.split()
        assert len(words) == 6 and words[2:4] == ["and", "a"] and words[5] == "today"
        assert (
            sum(a != b for a, b in zip(words, TEXT.split(), strict=True)) == 3
        )  # n = int(0.5 * 6)
        assert set(words) - set(TEXT.split()) <= {"money", "award", "gain"}


def test_replacement_keeps_punctuation_and_every_occurrence():
    eda = EDAAugmenter(
        alpha_sr=0.1, alpha_ri=0, alpha_rs=0, p_rd=0, synonyms=DictSynonyms({"cash": ["money"]})
    )
    assert eda.augment(["Cash! get cash now"], 1, seed=0) == [["money! get money now"]]


def test_random_insertion_only_adds_synonyms():
    eda = EDAAugmenter(alpha_sr=0, alpha_ri=0.4, alpha_rs=0, p_rd=0, synonyms=SYN)
    for text in eda.augment([TEXT], 2, seed=3)[0]:
        words = text.split()
        assert len(words) == 6 + 2  # n = int(0.4 * 6)
        extra = list(words)
        for w in TEXT.split():
            extra.remove(w)
        assert set(extra) <= {"money", "award", "gain"}


def test_swap_and_deletion():
    rng = random.Random(0)
    words = TEXT.split()
    swapped = random_swap(words, 2, rng)
    assert sorted(swapped) == sorted(words) and swapped != words
    assert random_swap(["one"], 3, rng) == ["one"]
    assert random_deletion(words, 1.0, rng) in [[w] for w in words]  # never empty
    assert random_deletion(words, 0.0, rng) == words


def test_seeded_and_per_text_independent():
    eda = EDAAugmenter(synonyms=SYN)
    a = eda.augment([TEXT, "call now to claim the prize"], 4, seed=7)
    b = eda.augment([TEXT, "call now to claim the prize"], 4, seed=7)
    assert a == b and all(len(x) == 4 for x in a)
    assert eda.augment([TEXT], 4, seed=7)[0] == a[0]  # batch does not change a text's edits
    assert eda.augment([TEXT], 4, seed=8) != a[:1]


def test_without_wordnet_warns_once_and_swaps_deletes(tmp_path, monkeypatch):
    monkeypatch.setattr(eda_module, "_warned", set())
    with pytest.warns(UserWarning, match="synonym replacement and insertion are off"):
        eda = EDAAugmenter(wordnet_dir=str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EDAAugmenter(wordnet_dir=str(tmp_path))  # second time: silent
    for text in eda.augment([TEXT], 6, seed=0)[0]:
        assert set(text.split()) <= set(TEXT.split())
    assert eda.cache_params()["synonyms"] is None


@pytest.mark.parametrize(
    "bad", [{"alpha_sr": 1.5}, {"p_rd": -0.1}, {"num_aug": 0}, {"synonyms": "thesaurus"}]
)
def test_bad_parameters(bad):
    with pytest.raises(LongtailError):
        EDAAugmenter(**{"synonyms": SYN, **bad})
