"""The predictions CSV is opened in spreadsheets: label cells that would run as formulas get a '."""

from __future__ import annotations

import csv
import io

from longtail.cli.predict import _format


def _records() -> list[dict]:
    return [
        {
            "row": 2,
            "prediction": '=HYPERLINK("http://x","y")',
            "probabilities": {"a": 0.9, "b": 0.1},
        },
        {"row": 3, "prediction": "-1", "probabilities": {"a": 0.25, "b": 0.75}},
        {"row": 4, "prediction": ["+cmd", "ham"], "probabilities": {"a": 0.5, "b": 0.5}},
        {"row": 5, "prediction": "@ham", "probabilities": {"a": 0.0, "b": 1.0}},
        {"row": 6, "prediction": "spam", "probabilities": {"a": 1e-7, "b": 1.0}},
    ]


def test_formula_cells_are_quoted_numbers_and_plain_labels_are_not():
    text = _format(_records(), as_csv=True, names=["a", "b"], header=True)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["row", "prediction", "p_a", "p_b"]
    assert [r[1] for r in rows[1:]] == [
        '\'=HYPERLINK("http://x","y")',
        "-1",
        "'+cmd|ham",
        "'@ham",
        "spam",
    ]
    assert [r[0] for r in rows[1:]] == ["2", "3", "4", "5", "6"]
    assert rows[1][2:] == ["0.9", "0.1"] and rows[5][2] == "1e-07"


def test_jsonl_predictions_keep_the_exact_labels():
    text = _format(_records()[:1], as_csv=False, names=["a", "b"], header=True)
    assert '"prediction": "=HYPERLINK(\\"http://x\\",\\"y\\")"' in text
