"""``--lexical``: the TF-IDF branch fused into a trained model, end to end as a user runs it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_helpers import fast_train_args

from longtail.cli import main
from longtail.errors import LongtailError
from longtail.models.lexical import LEXICAL_META, LEXICAL_WEIGHTS
from longtail.predictor import Classifier


def _train(spam_files, tiny_model_dir, out, lexical: str | None) -> dict:
    """Train on the spam files; ``lexical=None`` leaves the option at its default."""
    chosen = ["--lexical", lexical] if lexical is not None else []
    assert main(["train", "--data", str(spam_files["train"]), "--test-data",
                 str(spam_files["test"]), *chosen,
                 *fast_train_args(tiny_model_dir, out)]) == 0  # fmt: skip
    return json.loads((out / "longtail.json").read_text())


def test_a_fixed_weight_ships_the_branch_and_every_command_fuses_it(
    spam_files, tiny_model_dir, tmp_path
):
    out = tmp_path / "run"
    meta = _train(spam_files, tiny_model_dir, out, "0.5")
    assert meta["lexical"]["weight"] == 0.5 and meta["lexical"]["train_rows"] > 100
    assert meta["lexical"]["chosen_by"] == "fixed by the lexical setting"
    assert {LEXICAL_WEIGHTS, LEXICAL_META} <= set(meta["files"])  # hashed with the weights
    report = json.loads((out / "report.json").read_text())
    assert "fused at weight 0.5, fixed by the lexical setting" in report["model"]["lexical"]
    assert "- lexical: TF-IDF + logistic regression (" in (out / "report.md").read_text()
    card = (out / "README.md").read_text()
    assert (
        "fuse a TF-IDF + logistic regression branch, fitted on the same training rows, at weight 0.5"
        in card
    )
    # the loaded model fuses as training did: `evaluate` gives the report's test scores
    assert main(["evaluate", "--model", str(out), "--data", str(spam_files["test"]),
                 "--output", str(tmp_path / "eval")]) == 0  # fmt: skip
    evaluated = json.loads((tmp_path / "eval" / "report.json").read_text())["metrics"]
    for key in ("f1_macro", "mcc", "pr_auc_macro"):
        assert evaluated[key] == pytest.approx(report["metrics"][key], abs=1e-9)
    # the branch moves the probabilities: without it they differ
    classifier = Classifier.load(out)
    texts = ["win a free prize now", "see you at lunch tomorrow"]
    fused = classifier.predict_proba(texts)
    classifier.lexical_weight = 0.0
    assert not np.allclose(fused, classifier.predict_proba(texts))
    # `decide` keeps the branch: the new directory loads and fuses
    assert main(["decide", "--model", str(out), "--data", str(spam_files["test"]),
                 "--output", str(tmp_path / "decided")]) == 0  # fmt: skip
    decided = Classifier.load(tmp_path / "decided")
    assert decided.lexical_weight == 0.5 and decided.lexical is not None


def test_a_swapped_branch_file_fails_to_load(spam_files, tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    meta = _train(spam_files, tiny_model_dir, out, "1")
    # the branch alone (balanced class weights) reflects equal priors: a target-prior shift
    # starts from them, not from the weighted loss's priors the model alone would have
    assert meta["training"]["model_priors"] == pytest.approx({"ham": 0.5, "spam": 0.5})
    vocabulary = json.loads((out / LEXICAL_META).read_text())
    vocabulary["vocabulary"][0] = "tampered"
    (out / LEXICAL_META).write_text(json.dumps(vocabulary))
    with pytest.raises(LongtailError, match="lexical.json does not match the hash"):
        Classifier.load(out)


def test_the_default_chooses_the_weight_on_validation_and_says_so(
    spam_files, tiny_model_dir, tmp_path, capsys
):
    out = tmp_path / "run"
    meta = _train(spam_files, tiny_model_dir, out, None)  # the default: auto
    lexical = meta["lexical"]
    assert len(lexical["validation_scores"]) == 11
    best = max(lexical["validation_scores"].values())
    assert lexical["validation_scores"][str(lexical["weight"])] == best
    assert "lexical branch: validation f1_macro model alone" in capsys.readouterr().out
    line = json.loads((out / "report.json").read_text())["model"]["lexical"]
    assert f"chosen {lexical['validation_scores'][str(lexical['weight'])]:.4f}" in line
    # a model that does not fuse ships no branch files
    assert ((out / LEXICAL_WEIGHTS).exists()) == bool(lexical["weight"])


def test_off_is_the_model_alone_and_a_bad_weight_is_one_line(
    spam_files, tiny_model_dir, tmp_path, capsys
):
    out = tmp_path / "run"
    meta = _train(spam_files, tiny_model_dir, out, "off")
    assert "lexical" not in meta and not (out / LEXICAL_WEIGHTS).exists()
    # the effective-number loss's own priors are not equal (0.51 for ham on these few rows),
    # so the branch-alone test above can fail
    assert abs(meta["training"]["model_priors"]["ham"] - 0.5) > 0.01
    assert main(["train", "--data", str(spam_files["train"]), "--lexical", "1.5",
                 *fast_train_args(tiny_model_dir, tmp_path / "bad")]) == 2  # fmt: skip
    assert "weight 1.5 is outside [0, 1]" in capsys.readouterr().err
