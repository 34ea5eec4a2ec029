"""Cascades: a first stage's probabilities as features, out of fold for the training rows (no
row is scored by a model that saw it), from the saved first stage everywhere else."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from cli_helpers import make_rows  # noqa: E402

from longtail.cli import main  # noqa: E402
from longtail.predictor import Classifier  # noqa: E402


def _documents(path: Path, n: int, seed: int) -> Path:
    """Long rows with two label columns: ``label`` (spam/ham) and ``nominated`` (yes/no)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label", "nominated"])
        for i, (text, label) in enumerate(make_rows(n, 0.3, seed)):
            nominated = "yes" if label == "spam" or i % 5 == 0 else "no"
            writer.writerow([" ".join([text] * (1 + i % 16)), label, nominated])
    return path


def _base(tiny_model_dir: Path, cache: Path) -> list[str]:
    return [
        "--model", str(tiny_model_dir), "--max-length", "32", "--chunk-length", "32",
        "--stride", "8", "--long-mode", "frozen", "--long-documents", "--cache-dir", str(cache),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def stages(tmp_path_factory, tiny_model_dir):
    """A first stage trained on ``nominated``, then a second stage on ``label`` fed by it; every
    first-stage fold training recorded (its training texts) by a spy."""
    import longtail.training.run as run_module

    tmp = tmp_path_factory.mktemp("cascade")
    train, test = _documents(tmp / "train.csv", 60, 3), _documents(tmp / "test.csv", 24, 9)
    base = _base(tiny_model_dir, tmp / "cache")
    args = ["train", "--data", str(train), "--label-column", "nominated", "--output"]
    assert main([*args, str(tmp / "first"), *base]) == 0
    folds: list[list[str]] = []
    real = run_module.run_training

    def spy(config, **kwargs):
        if config.data.train.endswith(".jsonl"):  # a fold's rows (the CLI's own run is a CSV)
            with open(config.data.train, encoding="utf-8") as handle:
                folds.append([json.loads(line)["text"] for line in handle])
        return real(config, **kwargs)

    patch = pytest.MonkeyPatch()
    patch.setattr(run_module, "run_training", spy)
    try:
        second = ["train", "--data", str(train), "--test-data", str(test), "--output",
                  str(tmp / "second"), "--extra-features-from", str(tmp / "first"),
                  "--extra-features-folds", "3", *base]  # fmt: skip
        assert main(second) == 0
    finally:
        patch.undo()
    return {"tmp": tmp, "train": train, "test": test, "folds": folds, "second": second}


def _texts(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


def test_no_training_row_is_scored_by_a_model_that_saw_it(stages):
    tmp, folds = stages["tmp"], stages["folds"]
    assert len(folds) == 3
    scored = [json.loads((tmp / "second" / "cascade" / f"fold-{k}.json").read_text()) for k in (1, 2, 3)]  # fmt: skip
    rows = [row for fold in scored for row in fold["rows"]]
    assert sorted(rows) == list(range(2, 62))  # every training row once (CSV rows 2..61)
    texts = _texts(stages["train"])
    for trained_on, fold in zip(folds, scored, strict=True):
        held = {texts[row - 2] for row in fold["rows"]}
        assert held.isdisjoint(trained_on) and len(trained_on) + len(fold["rows"]) == 60
        assert fold["features"] == ["nominated=yes"]
        assert all(0.0 <= s[0] <= 1.0 for s in fold["scores"])


def test_the_model_records_its_first_stage_and_the_report_says_how(stages):
    second = stages["tmp"] / "second"
    meta = json.loads((second / "longtail.json").read_text())
    assert meta["extra_features"] == ["nominated=yes"]
    assert meta["cascade"] == {
        "model": str((stages["tmp"] / "first").resolve()), "features": ["nominated=yes"],
        "columns": [1], "folds": 3,
    }  # fmt: skip
    report = (second / "report.md").read_text()
    assert "- cascade: nominated=yes from the first stage" in report
    assert "out of fold (3 first-stage models) for the training file" in report


def test_predict_computes_the_features_from_the_saved_first_stage(stages):
    tmp, test = stages["tmp"], stages["test"]
    second = Classifier.load(tmp / "second", log=lambda line: None)
    first = Classifier.load(tmp / "first", log=lambda line: None)
    texts = _texts(test)
    expected = first.predict_proba(texts)[:, [1]]
    np.testing.assert_allclose(second.first_stage_features(texts), expected, atol=1e-6)
    joined = second.predict_logits(texts, extra=expected)  # already joined: used as given
    np.testing.assert_allclose(second.predict_logits(texts), joined, atol=1e-6)
    # the training run scored its test file with the same features that evaluate computes
    assert main(["evaluate", "--model", str(tmp / "second"), "--data", str(test),
                 "--output", str(tmp / "eval")]) == 0  # fmt: skip
    trained = json.loads((tmp / "second" / "report.json").read_text())["metrics"]
    evaluated = json.loads((tmp / "eval" / "report.json").read_text())["metrics"]
    for key in ("f1_macro", "pr_auc_macro", "ece"):
        assert trained[key] == pytest.approx(evaluated[key], abs=1e-6), key
    assert main(["predict", "--model", str(tmp / "second"), "--data", str(test),
                 "--output", str(tmp / "p.jsonl"), "--no-progress"]) == 0  # fmt: skip
    assert len((tmp / "p.jsonl").read_text().splitlines()) == len(texts)


def test_a_resumed_cascade_reads_the_folds_it_finished(stages, monkeypatch, capsys):
    """The fold scores live in the run's partial directory until it completes; a rerun that
    finds them (as --resume does) trains no first-stage model again."""
    from longtail.config import build_config
    from longtail.data import read_table
    from longtail.training.cascade import CascadeFeatures

    tmp = stages["tmp"]
    config = build_config({
        "data": {"train": str(stages["train"]), "extra_features_from": str(tmp / "first"),
                 "extra_features_folds": 3},
    })  # fmt: skip
    import longtail.training.run as run_module

    monkeypatch.setattr(run_module, "run_training", lambda *a, **k: pytest.fail("retrained"))
    lines: list[str] = []
    features = CascadeFeatures(config, tmp / "second", log=lines.append)
    table = read_table(stages["train"], text_column="text", label_column="label")
    values = features(table)
    assert sum("read from" in line for line in lines) == 3, lines
    scored = [json.loads((tmp / "second" / "cascade" / f"fold-{k}.json").read_text()) for k in (1, 2, 3)]  # fmt: skip
    for fold in scored:
        for row, score in zip(fold["rows"], fold["scores"], strict=True):
            assert values[row - 2, 0] == pytest.approx(score[0])


def test_a_directory_that_is_not_a_model_is_refused_in_one_line(tmp_path, tiny_model_dir, capsys):
    train = _documents(tmp_path / "train.csv", 20, 1)
    args = ["train", "--data", str(train), "--output", str(tmp_path / "out"),
            "--extra-features-from", str(tmp_path), *_base(tiny_model_dir, tmp_path / "c")]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: --extra-features-from {tmp_path}: not a model directory")
    assert "\n" not in err and not (tmp_path / "out").exists()


def test_a_first_stage_that_reads_extra_features_is_refused(stages, tmp_path, capsys):
    args = list(stages["second"])
    out = args.index("--output")
    args[out + 1] = str(tmp_path / "third")
    frm = args.index("--extra-features-from")
    args[frm + 1] = str(stages["tmp"] / "second")  # a cascade stage as a first stage
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "that model itself reads extra features" in err and "\n" not in err


def test_a_missing_first_stage_at_prediction_names_its_path(stages, tmp_path):
    import shutil

    from longtail.errors import LongtailError

    copy = tmp_path / "first-moved"
    shutil.copytree(stages["tmp"] / "second", tmp_path / "second")
    meta_path = tmp_path / "second" / "longtail.json"
    meta = json.loads(meta_path.read_text())
    meta["cascade"]["model"] = str(copy)
    meta_path.write_text(json.dumps(meta))
    second = Classifier.load(tmp_path / "second", log=lambda line: None)
    with pytest.raises(LongtailError, match=rf"first-stage model {copy}, which is not there"):
        second.predict_proba(["free cash prize now"])


def test_an_interrupted_cascade_resumes_from_its_finished_folds(tmp_path, tiny_model_dir, capsys):
    import longtail.training.run as run_module

    train = _documents(tmp_path / "train.csv", 45, 4)
    base = _base(tiny_model_dir, tmp_path / "cache")
    assert main(["train", "--data", str(train), "--label-column", "nominated", "--output",
                 str(tmp_path / "first"), *base]) == 0  # fmt: skip
    args = ["train", "--data", str(train), "--output", str(tmp_path / "second"),
            "--extra-features-from", str(tmp_path / "first"), "--extra-features-folds", "3", *base]  # fmt: skip
    real, calls = run_module.run_training, []

    def interrupted(config, **kwargs):
        if config.data.train.endswith(".jsonl"):
            calls.append(config.data.train)
            if len(calls) == 2:
                raise KeyboardInterrupt  # Ctrl-C while the second fold trains
        return real(config, **kwargs)

    patch = pytest.MonkeyPatch()
    patch.setattr(run_module, "run_training", interrupted)
    try:
        assert main(args) == 130
    finally:
        patch.undo()
    assert "--resume" in capsys.readouterr().err  # the advice names the way back
    assert not (tmp_path / "second").exists()  # nothing finished: the output is untouched
    assert main([*args, "--resume"]) == 0
    out = capsys.readouterr().out
    assert "cascade: fold 1/3 read from" in out
    assert "cascade: fold 2/3: trained on" in out and "cascade: fold 3/3: trained on" in out
    assert (tmp_path / "second" / "longtail.json").is_file()


def test_short_texts_refuse_a_cascade_before_any_fold_trains(stages, tmp_path, capsys):
    args = ["train", "--data", str(stages["train"]), "--output", str(tmp_path / "short"),
            "--extra-features-from", str(stages["tmp"] / "first"), "--no-long-documents",
            "--model", stages["second"][stages["second"].index("--model") + 1],
            "--max-length", "32"]  # fmt: skip
    assert main(args) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("error: extra features (--extra-features, --extra-features-from)")
    assert "--long-documents" in err and "\n" not in err
    assert "cascade:" not in captured.out


def test_extra_feature_columns_on_short_texts_are_refused_before_encoding(
    tmp_path, tiny_model_dir, capsys
):
    data = tmp_path / "train.csv"
    data.write_text(
        "text,label,p\n"
        + "".join(f"free cash {i},spam,0.{i}\nsee you {i},ham,0.{i}\n" for i in range(10))
    )
    args = ["train", "--data", str(data), "--output", str(tmp_path / "out"), "--extra-features", "p",
            "--no-long-documents", "--model", str(tiny_model_dir), "--max-length", "32"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: extra features (--extra-features, --extra-features-from)")
