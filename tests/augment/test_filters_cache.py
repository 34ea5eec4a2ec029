"""Filters for generated rows and the SQLite cache."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from longtail.augment import cache as cache_module
from longtail.augment.cache import AugmentCache, fingerprint, text_hash
from longtail.augment.filters import GeneratedFilter, empty_drop_counts, normalize_text
from longtail.errors import LongtailError


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


_WRITER = """
import sys
from longtail.augment.cache import AugmentCache
who = sys.argv[2]
with AugmentCache(sys.argv[1]) as cache:
    for batch in range(40):
        cache.put("eda", "fp", [(f"{who}-{batch}", i, f"text {who} {batch} {i}") for i in range(25)])
        assert len(cache.get("eda", "fp", f"{who}-{batch}", list(range(25)))) == 25
"""


def test_processes_sharing_a_cache_keep_every_batch(tmp_path):
    """What ``compare --shard`` does on one machine: several processes write one file at once."""
    AugmentCache(tmp_path / "shared").close()  # created (WAL mode) before the writers start
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(tmp_path / "shared"), f"w{k}"],
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(3)
    ]
    errors = [w.communicate(timeout=120)[1] for w in writers]
    assert [w.returncode for w in writers] == [0, 0, 0], errors
    with AugmentCache(tmp_path / "shared") as cache:
        assert len(cache) == 3 * 40 * 25
        assert cache.get("eda", "fp", "w2-39", [24]) == {24: "text w2 39 24"}


def _hold_write_lock(path, seconds: float) -> threading.Thread:
    other = sqlite3.connect(path, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process in the middle of a transaction

    def release() -> None:
        time.sleep(seconds)
        other.commit()
        other.close()

    thread = threading.Thread(target=release)
    thread.start()
    return thread


def test_a_writer_waits_for_another_transaction(tmp_path):
    with AugmentCache(tmp_path / "c") as cache:
        holder = _hold_write_lock(cache.path, 0.5)
        started = time.perf_counter()
        cache.put("eda", "fp", [("src", 0, "waited")])
        assert time.perf_counter() - started >= 0.4  # it did wait, and then it wrote
        holder.join()
        assert cache.get("eda", "fp", "src", [0]) == {0: "waited"}


def test_a_lock_held_too_long_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_module, "LOCK_TIMEOUT_S", 0.2)
    with AugmentCache(tmp_path / "c") as cache:
        holder = _hold_write_lock(cache.path, 1.5)
        with pytest.raises(
            LongtailError,
            match=r"cannot write to augmentation cache .*c/"
            r"augment-cache.sqlite: database is locked; .*own augment.cache_dir",
        ):
            cache.put("eda", "fp", [("src", 0, "lost")])
        holder.join()
        assert cache.get("eda", "fp", "src", [0]) == {}  # nothing half-written
