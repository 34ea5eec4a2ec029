"""``longtail decide``: a trained model's decision refitted on new labelled rows, its weights
untouched, written as a new model directory that predicts with the new decision."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "cli"))
from cli_helpers import make_rows, write_csv  # noqa: E402

from longtail.cli import main  # noqa: E402
from longtail.predictor import Classifier  # noqa: E402


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir):
    tmp = tmp_path_factory.mktemp("decide")
    train = write_csv(tmp / "train.csv", make_rows(160, 0.2, seed=1))
    # another world: twice the spam rate of training
    recent = write_csv(tmp / "recent.csv", make_rows(80, 0.4, seed=5))
    assert main(["train", "--data", str(train), "--model", str(tiny_model_dir), "--output",
                 str(tmp / "model"), "--max-length", "32", "--encoder", "frozen",
                 "--cache-dir", str(tmp / "cache"), "--epochs", "6"]) == 0  # fmt: skip
    return tmp, recent


def test_decide_refits_the_decision_and_keeps_the_weights(trained, capsys):
    tmp, recent = trained
    meta_before = (tmp / "model" / "longtail.json").read_bytes()
    args = ["decide", "--model", str(tmp / "model"), "--data", str(recent), "--output",
            str(tmp / "mcc"), "--objective", "mcc", "--calibrate", "none"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "decision refitted on 80 rows" in out and "(weights unchanged)" in out
    assert (tmp / "model" / "longtail.json").read_bytes() == meta_before  # the source is untouched
    for weights in ("head.safetensors", "encoder/model.safetensors"):
        assert _digest(tmp / "mcc" / weights) == _digest(tmp / "model" / weights)
    meta = json.loads((tmp / "mcc" / "longtail.json").read_text())
    old = json.loads(meta_before)
    assert meta["config"]["decision"]["objective"] == "mcc"
    assert meta["config"]["decision"]["calibrate"] == "none" and meta["temperature"] == 1.0
    assert meta["threshold_objective"] == "mcc"
    assert meta["thresholds"] != old["thresholds"]
    assert meta["decided"] == {"from": str((tmp / "model").resolve()), "data": str(recent),
                               "rows": 80, "weights": "unchanged"}  # fmt: skip
    report = (tmp / "mcc" / "report.md").read_text()
    assert "on the rows the decision was fitted on, so they flatter it" in report
    card = (tmp / "mcc" / "README.md").read_text()
    assert "## Evaluation (decision data (in-sample))" in card and "thresholds tuned on" in card


def test_the_new_model_predicts_with_the_new_decision(trained):
    tmp, recent = trained
    assert main(["decide", "--model", str(tmp / "model"), "--data", str(recent), "--output",
                 str(tmp / "f1"), "--objective", "mcc", "--overwrite"]) == 0  # fmt: skip
    assert main(["evaluate", "--model", str(tmp / "f1"), "--data", str(recent), "--output",
                 str(tmp / "eval")]) == 0  # fmt: skip
    evaluated = json.loads((tmp / "eval" / "report.json").read_text())["metrics"]
    decided = json.loads((tmp / "f1" / "report.json").read_text())
    assert evaluated["mcc"] == pytest.approx(decided["metrics"]["mcc"], abs=1e-9)
    assert decided["metrics"]["mcc"] >= decided["metrics_before"]["mcc"] - 1e-9  # tuned for it


def test_tune_decision_in_python_changes_only_the_decision(trained):
    from longtail.data import read_table

    tmp, recent = trained
    clf = Classifier.load(tmp / "model", log=lambda line: None)
    table = read_table(recent, text_column="text", label_column="label")
    logits = clf.predict_logits(table.texts)
    result = clf.tune_decision(table, {"objective": "mcc"})
    assert set(result) == {"before", "after", "decision"}
    np.testing.assert_array_equal(clf.predict_logits(table.texts), logits)  # same weights
    assert result["after"]["mcc"] >= result["before"]["mcc"] - 1e-9
    assert clf.decision_meta()["threshold_objective"] == "mcc"


def test_target_priors_shift_the_saved_model_by_bayes_rule(trained):
    """Where the classes are used half and half, P(spam)'s odds grow by the odds of ham in the
    priors the model learned (the training split's 20 % spam, flattened by the default loss's
    effective-number weights)."""
    tmp, recent = trained
    assert main(["decide", "--model", str(tmp / "model"), "--data", str(recent), "--output",
                 str(tmp / "shifted"), "--target-priors", "ham=1,spam=1", "--calibrate",
                 "none"]) == 0  # fmt: skip
    meta = json.loads((tmp / "shifted" / "longtail.json").read_text())
    priors = meta["training"]["model_priors"]
    assert meta["thresholds"] == [0.5] and meta["logit_adjust"]["target_priors"] == [0.5, 0.5]
    texts = [line.split(",")[0] for line in recent.read_text().splitlines()[1:20]]
    source, shifted = Classifier.load(tmp / "model"), Classifier.load(tmp / "shifted")
    raw = source.predict_logits(texts)
    plain = np.exp(raw) / np.exp(raw).sum(axis=1, keepdims=True) if raw.ndim == 2 else None
    p = plain[:, 1] if plain is not None else 1 / (1 + np.exp(-raw))
    q = shifted.predict_proba(texts)[:, 1]
    factor = priors["ham"] / priors["spam"]
    counts = meta["training"]["train_class_counts"]
    assert 1 < factor < counts["ham"] / counts["spam"]
    np.testing.assert_allclose(q / (1 - q), p / (1 - p) * factor, rtol=1e-5)
    report = (tmp / "shifted" / "report.md").read_text()
    assert (
        "prior shift (Saerens et al. 2002" in report
        and "training priors to ham 0.5000, spam 0.5000" in report
    )


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--output", "SAME"], "would destroy the input"),
        (["--objective", "recall_floor"], "floor"),
        (["--logit-adjust", "-2"], "logit_adjust"),
        (["--target-priors", "ham=1,spm=1"], "missing spam; not a label spm"),
        (["--target-priors", "ham=1", "--logit-adjust", "tuned"], "set one of them"),
    ],
)
def test_bad_requests_are_one_line(trained, tmp_path, capsys, extra, needle):
    tmp, recent = trained
    output = str(tmp / "model") if extra[:2] == ["--output", "SAME"] else str(tmp_path / "out")
    extra = [] if extra[:2] == ["--output", "SAME"] else extra
    assert main(["decide", "--model", str(tmp / "model"), "--data", str(recent),
                 "--output", output, *extra]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and needle in err, err
    assert not (tmp_path / "out").exists()


def test_an_existing_output_needs_overwrite(trained, tmp_path, capsys):
    tmp, recent = trained
    (tmp_path / "taken").mkdir()
    assert main(["decide", "--model", str(tmp / "model"), "--data", str(recent),
                 "--output", str(tmp_path / "taken")]) == 2  # fmt: skip
    assert "exists; choose another or pass --overwrite" in capsys.readouterr().err
