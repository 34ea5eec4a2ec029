"""The WordNet 3.0 file reader. Needs the Debian package wordnet-base (/usr/share/wordnet)."""

from __future__ import annotations

from longtail.augment.eda import EDAAugmenter
from longtail.augment.wordnet import WordNetSynonyms, wordnet_available


def test_wordnet_files_are_installed():
    assert wordnet_available(), "install WordNet: apt-get install -y wordnet-base"


def test_synonyms_match_wordnet():
    wn = WordNetSynonyms()
    assert {"speedy", "fast", "nimble"} <= set(wn.synonyms("quick"))
    cars = wn.synonyms("cars")  # morphy: plural -> car
    assert {"auto", "automobile", "motorcar"} <= set(cars) and "car" not in cars
    assert "mouse" in wn.base_forms("mice", "noun")  # exception list
    assert "run" in wn.base_forms("running", "verb")
    assert {"award", "trophy"} <= set(wn.synonyms("prize"))
    assert wn.synonyms("qwzxv") == [] and wn.synonyms("") == []
    assert all(s == s.lower() and "_" not in s for s in wn.synonyms("good"))


def test_eda_uses_wordnet_by_default():
    eda = EDAAugmenter(alpha_sr=0.5, alpha_ri=0, alpha_rs=0, p_rd=0)
    assert eda.cache_params()["synonyms"] == "wordnet"
    out = eda.augment(["claim your prize"], 2, seed=0)[0]
    assert out and all(text != "claim your prize" for text in out)
