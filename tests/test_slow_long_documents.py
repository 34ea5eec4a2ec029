"""Real long documents: Gutenberg novels (~13k tokens each) with the real offline encoder, frozen mode."""

from __future__ import annotations

import csv
import json

import pytest

from longtail.cli import main
from longtail.datasets import load_shared_jsonl


@pytest.mark.slow
def test_frozen_hierarchical_model_on_real_novels(tmp_path, capsys):
    table = load_shared_jsonl("gutenberg_fiction", "train")
    literary = [i for i, label in enumerate(table.labels) if label == "Literary"][:6]
    other = [i for i, label in enumerate(table.labels) if label != "Literary"][:6]
    data = tmp_path / "novels.csv"
    with data.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in literary + other:
            writer.writerow([table.texts[i], "Literary" if i in literary else "genre"])
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
    assert (
        main(
            [
                "predict",
                "--model",
                str(out),
                "--data",
                str(data),
                "--output",
                str(preds),
                "--explain",
                "2",
                "--no-progress",
            ]
        )
        == 0
    )
    records = [json.loads(line) for line in preds.read_text().splitlines()]
    assert len(records) == 12
    assert all(
        len(r["explanation"]) == 2 and len(r["explanation"][0]["text"].split()) > 50
        for r in records
    )
