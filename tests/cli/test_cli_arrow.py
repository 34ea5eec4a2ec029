"""``longtail train --arrow``: the memory-mapped data path, end to end."""

from __future__ import annotations

import json

import pytest
from cli_helpers import fast_train_args, make_rows, write_csv

from longtail.cli import main


def test_arrow_binary_matches_in_memory_labels_and_learns(spam_files, tiny_model_dir, tmp_path):
    validation = write_csv(tmp_path / "validation.csv", make_rows(50, 0.15, seed=3))
    common = ["train", "--data", str(spam_files["train"]), "--test-data", str(spam_files["test"]),
              "--validation-data", str(validation)]  # fmt: skip
    arrow = tmp_path / "arrow"
    cache = ["--arrow", "--arrow-cache-dir", str(tmp_path / "arrow-cache")]
    assert main([*common, *cache, *fast_train_args(tiny_model_dir, arrow)]) == 0
    memory = tmp_path / "memory"
    assert main([*common, *fast_train_args(tiny_model_dir, memory)]) == 0
    a = json.loads((arrow / "longtail.json").read_text())
    m = json.loads((memory / "longtail.json").read_text())
    assert a["labels"] == m["labels"] and a["task"] == "binary"
    assert a["training"]["train_class_counts"] == m["training"]["train_class_counts"]
    assert a["config"]["data"]["arrow"] is True
    report = json.loads((arrow / "report.json").read_text())
    assert report["metrics"]["positive_f1"] > 0.8
    assert any((tmp_path / "arrow-cache").rglob("*.arrow")), "the tokenised table lives on disk"
    # the anchor reads its rows from the Arrow table: the same rows, the same scores as in memory
    in_memory = json.loads((memory / "report.json").read_text())["anchor"]
    assert report["anchor"]["metrics"] == in_memory["metrics"]
    assert report["anchor"]["train_rows"] == in_memory["train_rows"] == 160
    assert in_memory["metrics"]["test"]["num_examples"] == report["metrics"]["num_examples"]
    assert "## Anchor on the same rows" in (arrow / "report.md").read_text()


def test_arrow_multilabel_jsonl(tmp_path, tiny_model_dir):
    rows = []
    for i, (text, label) in enumerate(make_rows(150, 0.3, 21)):
        tags = [label] + (["flagged"] if i % 5 == 0 else [])
        rows.append(json.dumps({"text": text, "label": tags}))
    data = tmp_path / "ml.jsonl"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "ml"
    args = ["train", "--data", str(data), "--arrow", "--arrow-cache-dir", str(tmp_path / "c"),
            "--sampler", "class_balanced", *fast_train_args(tiny_model_dir, out), "--epochs", "1"]  # fmt: skip
    assert main(args) == 0
    meta = json.loads((out / "longtail.json").read_text())
    assert meta["task"] == "multilabel" and meta["labels"]["names"] == ["flagged", "ham", "spam"]
    assert len(meta["thresholds"]) == 3
    # the anchor, on the stratified split's rows read back from the table (labels kept as CSR)
    report = json.loads((out / "report.json").read_text())
    assert report["anchor"]["train_rows"] == report["data"]["train_rows"] == 135
    assert report["anchor"]["metrics"]["validation"]["num_examples"] == 15


def _jsonl(path, rows, label):
    lines = [json.dumps({"text": t, "label": label(i, lab)}) for i, (t, lab) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# name -> (file name, rows -> file, extra flags): label columns that train refuses
_BAD_LABELS = {
    "delimiter-in-no-label": ("d.csv", lambda p, rows: write_csv(p, rows), ["--label-delimiter", "|"]),
    "regression-target": ("r.csv", lambda p, rows: write_csv(p, [(t, f"{(i * 0.1373) % 5:.3f}") for i, (t, _) in enumerate(rows)]), []),
    "id-column": ("ids.csv", lambda p, rows: write_csv(p, [(t, str(1000 + i)) for i, (t, _) in enumerate(rows)]), []),
    "label-in-every-row": ("all.jsonl", lambda p, rows: _jsonl(p, rows, lambda i, lab: [lab, "all"]), []),
    "label-in-every-row-delimited": ("all.csv", lambda p, rows: write_csv(p, [(t, f"{lab}|all|") for t, lab in rows]), ["--label-delimiter", "|"]),
    "identical-label-sets": ("same.jsonl", lambda p, rows: _jsonl(p, rows, lambda i, lab: ["a", "b"]), []),
    "task-binary-but-delimited": ("b.csv", lambda p, rows: write_csv(p, [(t, f"{lab}|x") for t, lab in rows]), ["--label-delimiter", "|", "--task", "binary"]),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(_BAD_LABELS))
def test_arrow_refuses_bad_label_columns_with_the_in_memory_error(
    case, tmp_path, tiny_model_dir, capsys
):
    name, write, flags = _BAD_LABELS[case]
    data = write(tmp_path / name, make_rows(40, 0.25, 5))
    errors = []
    for arrow in ([], ["--arrow", "--arrow-cache-dir", str(tmp_path / "cache")]):
        out = tmp_path / ("arrow" if arrow else "memory")
        args = ["train", "--data", str(data), *flags, *arrow, *fast_train_args(tiny_model_dir, out)]
        assert main(args) == 2
        errors.append(capsys.readouterr().err.strip())
        assert not out.exists()
    memory, arrow = errors
    assert memory.startswith("error: ") and "\n" not in memory, memory
    assert arrow == memory
