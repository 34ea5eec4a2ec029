"""Fixtures of the benchmark scripts' tests: a tiny data home of real text."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmark_scripts import write_table

from longtail.datasets import load_dataset


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """4 newsgroups (headers included, as the real posts have them) and 5 Reuters topics."""
    home = tmp_path / "data_home"
    sms = load_dataset("sms_spam").texts
    groups = ["sci.space", "rec.autos", "talk.politics", "comp.graphics"]
    posts = [
        {"text": f"From: someone\nSubject: post {i}\n\n{sms[i]}", "label": groups[i % 4]}
        for i in range(200)
    ]
    write_table(home, "20newsgroups", "train", posts[:160])
    write_table(home, "20newsgroups", "test", posts[160:])
    topics = ["earn", "acq", "grain", "crude", "trade"]
    stories = [
        {"text": sms[300 + i], "label": [topics[i % 5]] + ([topics[(i + 1) % 5]] if i % 3 else [])}
        for i in range(120)
    ]
    write_table(home, "reuters21578", "train", stories[:90])
    write_table(home, "reuters21578", "test", stories[90:])
    monkeypatch.setenv("LONGTAIL_DATA_HOME", str(home))
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    return home
