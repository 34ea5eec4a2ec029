"""`longtail augment`: output file, stats table, cache reuse, and one-line errors with exit code 2."""

from __future__ import annotations

import csv
import json

import pytest
from cli_helpers import make_rows, write_csv

from longtail.cli import main


@pytest.fixture
def train_csv(tmp_path):
    return write_csv(tmp_path / "train.csv", make_rows(60, 0.15, seed=0))


def _augment(train_csv, out, *extra):
    return main(
        [
            "augment",
            "--data",
            str(train_csv),
            "--text-column",
            "text",
            "--label-column",
            "label",
            "--method",
            "eda",
            "--target-ratio",
            "0.5",
            "--output",
            str(out),
            *extra,
        ]
    )


def test_writes_originals_plus_new_rows(train_csv, tmp_path, capsys):
    out = tmp_path / "aug.csv"
    assert (
        _augment(
            train_csv,
            out,
            "--seed",
            "0",
            "--cache-dir",
            str(tmp_path / "c"),
            "num_aug=8",
            "alpha_sr=0.1",
        )
        == 0
    )
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(rows[0]) == ["text", "label", "augmented", "source_row"]
    original = [r for r in rows if r["augmented"] == "false"]
    new = [r for r in rows if r["augmented"] == "true"]
    assert len(original) == 60 and len(new) == 26 - 9
    assert all(r["label"] == "spam" for r in new)
    by_row = {r["source_row"]: r["label"] for r in original}
    assert all(by_row[r["source_row"]] == "spam" for r in new)
    printed = capsys.readouterr().out
    assert "spam   9       26" in printed and "wrote 60 original + 17 new rows" in printed
    assert (
        _augment(
            train_csv,
            tmp_path / "again.csv",
            "--cache-dir",
            str(tmp_path / "c"),
            "num_aug=8",
            "alpha_sr=0.1",
        )
        == 0
    )
    assert (tmp_path / "again.csv").read_text() == out.read_text()


def test_jsonl_output(train_csv, tmp_path):
    out = tmp_path / "aug.jsonl"
    assert _augment(train_csv, out) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records[-1]["augmented"] is True and isinstance(records[-1]["source_row"], int)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--method", "magic"],
            "unknown augmentation method 'magic'; valid names: back_translation, eda, llm",
        ),
        (["--target-ratio", "0"], "--target-ratio must be in (0, 1]"),
        (["--target-ratio", "1.5"], "--target-ratio must be in (0, 1]"),
        (
            [
                "--method",
                "back_translation",
                "forward_model=/no/such/dir",
                "backward_model=/no/such/dir",
            ],
            "forward_model '/no/such/dir': no such model directory",
        ),
        (["--method", "back_translation"], "back_translation needs forward_model="),
        (
            [
                "--method",
                "llm",
                "model=m",
                "base_url=http://127.0.0.1:9/v1",
                "max_retries=1",
                "retry_backoff=0",
            ],
            "LLM endpoint http://127.0.0.1:9/v1/chat/completions unreachable after 2 attempts",
        ),
        (["num_aug"], "must look like key=value"),
        (["bogus=1"], "bad parameters for augmentation method 'eda'"),
    ],
)
def test_bad_input_is_one_line_exit_2(train_csv, tmp_path, capsys, args, message):
    base = [
        "augment",
        "--data",
        str(train_csv),
        "--method",
        "eda",
        "--target-ratio",
        "0.5",
        "--output",
        str(tmp_path / "aug.csv"),
    ]
    assert main(base + args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "aug.csv").exists()


def test_augment_refuses_the_method_that_generates_nothing(tmp_path, capsys):
    data = tmp_path / "train.csv"
    data.write_text("text,label\nwin cash now,spam\nhello there,ham\n", encoding="utf-8")
    code = main(
        ["augment", "--data", str(data), "--method", "none", "--target-ratio", "0.5"]
        + ["--output", str(tmp_path / "a.csv")]
    )
    assert code == 2
    assert (
        "--method none generates nothing; pick one of back_translation, eda, llm"
        in capsys.readouterr().err
    )
    assert not (tmp_path / "a.csv").exists()
