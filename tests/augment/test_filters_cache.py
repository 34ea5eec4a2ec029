"""Filters for generated rows and the SQLite cache."""

from __future__ import annotations

import sqlite3

from longtail.augment.cache import AugmentCache, fingerprint, text_hash
from longtail.augment.filters import GeneratedFilter, empty_drop_counts, normalize_text


def test_filter_reasons_and_counts():
    filt = GeneratedFilter(
        ["Win  a FREE prize now"], min_words=3, echo_texts=["Answer with one text per line"]
    )
    dropped = empty_drop_counts()
    keep = [
        filt.keep(t, dropped)
        for t in [
            "",
            "   ",
            "too short",
            "win a free   prize NOW",
            "answer with one text",
            "a brand new text",
            "A brand new  TEXT",
            "Answer with one text per line and nothing else",
            "another fine text",
        ]
    ]
    assert keep == [False, False, False, False, False, True, False, False, True]
    assert dropped == {"empty": 2, "too_short": 1, "duplicate": 2, "prompt_echo": 2}
    assert normalize_text(" A\tB  c ") == "a b c"


def test_cache_roundtrip_and_transactions(tmp_path):
    fp = fingerprint({"b": 1, "a": 2})
    assert fp == fingerprint({"a": 2, "b": 1}) and fp != fingerprint({"a": 2, "b": 2})
    with AugmentCache(tmp_path / "c") as cache:
        cache.put("eda", fp, [(text_hash("x"), 0, "one"), (text_hash("x"), 1, "two")])
        assert cache.get("eda", fp, text_hash("x"), [0, 1, 2]) == {0: "one", 1: "two"}
        assert cache.get("eda", "other", text_hash("x"), [0]) == {}
    with AugmentCache(tmp_path / "c") as cache:  # reopened: still there
        assert len(cache) == 2
        assert cache.path.name == "augment-cache.sqlite"
    rows = (
        sqlite3.connect(tmp_path / "c" / "augment-cache.sqlite")
        .execute("SELECT * FROM generated")
        .fetchall()
    )
    assert len(rows) == 2
