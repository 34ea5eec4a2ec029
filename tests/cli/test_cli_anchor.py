"""The TF-IDF + logistic regression anchor in every ``longtail train`` report, as a user sees it."""

from __future__ import annotations

import json

import numpy as np
from cli_helpers import fast_train_args, make_rows, write_csv

from longtail.cli import main
from longtail.evaluation.anchor import tfidf_anchor


def test_the_report_puts_the_anchor_beside_the_model_on_the_same_rows(
    spam_files, tiny_model_dir, tmp_path, capsys
):
    out = tmp_path / "run"
    validation = write_csv(tmp_path / "validation.csv", make_rows(40, 0.15, seed=3))
    assert main(["train", "--data", str(spam_files["train"]), "--validation-data",
                 str(validation), "--test-data", str(spam_files["test"]),
                 *fast_train_args(tiny_model_dir, out)]) == 0  # fmt: skip
    report = json.loads((out / "report.json").read_text())
    anchor = report["anchor"]
    assert anchor["train_rows"] == 160 and not anchor["sampled"]
    assert anchor["metrics"]["test"]["num_examples"] == report["metrics"]["num_examples"] == 60
    assert anchor["metrics"]["validation"]["num_examples"] == 40
    # the same rows fitted directly give the same scores: nothing else enters the anchor
    rows = {name: make_rows(n, 0.15, seed) for name, n, seed in
            (("train", 160, 1), ("validation", 40, 3), ("test", 60, 2))}  # fmt: skip
    names = report["labels"]

    def split(name):
        return [t for t, _ in rows[name]], np.asarray([names.index(y) for _, y in rows[name]])

    direct = tfidf_anchor("binary", names, *split("train"),
                          {"validation": split("validation"), "test": split("test")})  # fmt: skip
    assert anchor["metrics"] == json.loads(json.dumps(direct["metrics"]))
    markdown = (out / "report.md").read_text()
    assert "## Anchor on the same rows" in markdown and "| anchor F1 |" in markdown
    assert "scored on the same test rows as the model" in markdown
    assert "Anchor on the same rows" in (out / "report.html").read_text()
    card = (out / "README.md").read_text()  # the model card carries it too
    assert "### Against TF-IDF + logistic regression on the same rows" in card
    assert card.index("| macro-F1 | ") < card.index("| class | support |")
    assert "anchor: TF-IDF + logistic regression (balanced) on 160 training rows" in (
        capsys.readouterr().out
    )


def test_a_model_that_learned_nothing_opens_its_report_with_the_anchor(
    spam_files, tiny_model_dir, tmp_path, capsys
):
    out = tmp_path / "run"
    args = fast_train_args(tiny_model_dir, out)
    args[args.index("--lr") + 1] = args[args.index("--head-lr") + 1] = "1e-12"  # learns nothing
    assert main(["train", "--data", str(spam_files["train"]), "--test-data",
                 str(spam_files["test"]), *args]) == 0  # fmt: skip
    report = json.loads((out / "report.json").read_text())
    assert report["anchor"]["metrics"]["test"]["f1_macro"] > report["metrics"]["f1_macro"]
    markdown = (out / "report.md").read_text()
    assert "WARNING: the anchor beats this model on test macro-F1" in markdown
    assert markdown.index("the anchor beats") < markdown.index("## Headline")
    assert "note: the anchor beats this model" in capsys.readouterr().out
    assert "**Note: the anchor beats this model on test macro-F1" in (out / "README.md").read_text()


def test_anchor_none_leaves_it_out(spam_files, tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--data", str(spam_files["train"]), "--anchor", "none",
                 *fast_train_args(tiny_model_dir, out)]) == 0  # fmt: skip
    assert "anchor" not in json.loads((out / "report.json").read_text())
    assert "Anchor" not in (out / "report.md").read_text()
    assert "TF-IDF" not in (out / "README.md").read_text()
