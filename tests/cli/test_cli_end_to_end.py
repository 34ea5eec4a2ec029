"""train → predict → evaluate through ``main([...])``, as a user runs them."""

from __future__ import annotations

import csv
import json
import re

import pytest
from cli_helpers import fast_train_args, make_rows, write_csv

from longtail.cli import main
from longtail.evaluation.convergence import still_improving


def test_train_predict_evaluate(spam_files, tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--data", str(spam_files["train"]), "--test-data", str(spam_files["test"]),
                 *fast_train_args(tiny_model_dir, out)])  # fmt: skip
    assert code == 0
    for name in (
        "longtail.json",
        "head.safetensors",
        "encoder/model.safetensors",
        "report.json",
        "report.md",
    ):
        assert (out / name).is_file(), name
    meta = json.loads((out / "longtail.json").read_text())
    assert meta["task"] == "binary"
    assert meta["labels"]["names"][1] == "spam", "the minority class is the positive class"
    assert len(meta["thresholds"]) == 1 and 0.0 < meta["thresholds"][0] < 1.0
    assert meta["temperature"] > 0
    report = json.loads((out / "report.json").read_text())
    assert report["split"] == "test"
    assert meta["threshold_objective"] == report["threshold_objective"] == "f1"
    training = meta["training"]
    rise = still_improving(training["history"], training["early_stopping_metric"])
    assert training["still_improving"] == rise == report["training"]["still_improving"]
    assert ("still rose in the last epoch" in (out / "report.md").read_text()) == bool(rise)
    metrics = report["metrics"]
    for key in (
        "f1_macro",
        "pr_auc_macro",
        "mcc",
        "balanced_accuracy",
        "micro_f1_without_majority",
        "ece",
    ):
        assert key in metrics
    # the toy task is separable by vocabulary: a model that learned nothing scores ~0 here
    assert metrics["positive_f1"] > 0.8
    printed = capsys.readouterr().out
    assert "spam" in printed and "model and report written" in printed

    preds = tmp_path / "preds.jsonl"
    assert (
        main(
            [
                "predict",
                "--model",
                str(out),
                "--data",
                str(spam_files["test"]),
                "--output",
                str(preds),
                "--no-progress",
            ]
        )
        == 0
    )
    lines = [json.loads(line) for line in preds.read_text().splitlines()]
    assert len(lines) == 60
    assert all(abs(sum(r["probabilities"].values()) - 1) < 1e-4 for r in lines)
    assert {r["prediction"] for r in lines} <= {"spam", "ham"}
    assert [r["row"] for r in lines] == sorted(r["row"] for r in lines)

    preds_csv = tmp_path / "preds.csv"
    assert (
        main(
            [
                "predict",
                "--model",
                str(out),
                "--data",
                str(spam_files["test"]),
                "--output",
                str(preds_csv),
                "--no-progress",
            ]
        )
        == 0
    )
    with preds_csv.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 60 and set(rows[0]) == {"row", "prediction", "p_ham", "p_spam"}
    assert [r["prediction"] for r in rows] == [r["prediction"] for r in lines]

    eval_dir = tmp_path / "eval"
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(out),
                "--data",
                str(spam_files["test"]),
                "--output",
                str(eval_dir),
            ]
        )
        == 0
    )
    evaluated = json.loads((eval_dir / "report.json").read_text())
    assert evaluated["metrics"]["f1_macro"] == pytest.approx(metrics["f1_macro"], abs=1e-6)
    for key in ("threshold_objective", "threshold_fallback", "threshold_untuned"):
        assert evaluated[key] == meta[key]
    assert evaluated["training"]["still_improving"] == rise
    markdown = (eval_dir / "report.md").read_text()
    assert ("still rose in the last epoch" in markdown) == bool(rise)
    assert "- tuned on validation for: f1" in markdown
    assert "## Per class" in markdown and "| spam  |" in markdown and "Confusion matrix" in markdown


def test_python_api_matches_cli_model(spam_files, tiny_model_dir, tmp_path):
    import longtail

    clf = longtail.train(
        spam_files["train"],
        output=tmp_path / "api",
        model=str(tiny_model_dir),
        epochs=2,
        overrides=["train.lr=1e-3", "train.head_lr=1e-2", "model.max_length=32"],
        verbose=False,
    )
    probs = clf.predict_proba(["free cash prize call now", "see you at lunch tomorrow"])
    assert probs.shape == (2, 2)
    assert clf.predict(["free cash prize call now"]) in (["spam"], ["ham"])
    again = longtail.Classifier.load(tmp_path / "api")
    assert (
        again.predict_proba(["free cash prize"]) == clf.predict_proba(["free cash prize"])
    ).all()
    assert "validation" in clf.report["split"]


def test_yaml_config_with_overrides_and_multiclass(tmp_path, tiny_model_dir):
    rows = [
        (t, lab if lab == "spam" else ("ham" if i % 3 else "other"))
        for i, (t, lab) in enumerate(make_rows(150, 0.2, 3))
    ]
    data = write_csv(tmp_path / "mc.csv", rows, header=("body", "category"))
    config = tmp_path / "exp.yaml"
    config.write_text(
        f"data:\n  train: {data}\n  text_column: body\n  label_column: category\n"
        f"model:\n  name: {tiny_model_dir}\n  max_length: 32\n"
        "train:\n  epochs: 3\n  batch_size: 16\nloss:\n  name: focal\n  gamma: 2.0\nsampler: class_balanced\n",
        encoding="utf-8",
    )
    out = tmp_path / "mc-run"
    assert (
        main(
            [
                "train",
                "--config",
                str(config),
                "--output",
                str(out),
                "train.epochs=1",
                "loss.gamma=1.0",
                "--threshold-objective",
                "mcc",
            ]
        )
        == 0
    )
    meta = json.loads((out / "longtail.json").read_text())
    assert meta["task"] == "multiclass" and len(meta["thresholds"]) == 3
    assert meta["threshold_objective"] == "mcc" == meta["config"]["decision"]["objective"]
    assert "- tuned on validation for: mcc" in (out / "report.md").read_text()
    assert meta["config"]["train"]["epochs"] == 1 and meta["config"]["loss"] == {
        "name": "focal",
        "gamma": 1.0,
    }
    assert meta["config"]["sampler"] == "class_balanced"
    assert len(meta["training"]["history"]) == 1


def test_an_oversampled_epoch_says_what_it_costs(tmp_path, tiny_model_dir, capsys):
    # 3 classes, the largest 80 % of the rows: an oversampled epoch is about 2.4x the data
    rows = [
        (t, lab if lab == "spam" else ("other" if i % 8 == 0 else "ham"))
        for i, (t, lab) in enumerate(make_rows(120, 0.1, 4))
    ]
    data = write_csv(tmp_path / "skewed.csv", rows)
    argv = ["train", "--data", str(data), "--sampler", "oversample",
            *fast_train_args(tiny_model_dir, tmp_path / "run"), "--epochs", "1"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr()
    note = re.search(r"sampler: an epoch draws (\d+) rows, ([\d.]+)x the (\d+) training rows",
                     printed.out + printed.err)  # fmt: skip
    assert note is not None, printed.err[-2000:]
    drawn, factor, rows_in = int(note[1]), float(note[2]), int(note[3])
    assert drawn % 3 == 0 and factor >= 2.0 and drawn / rows_in == pytest.approx(factor, abs=0.05)


def test_multilabel_delimited_labels(tmp_path, tiny_model_dir):
    rows = []
    for i, (text, label) in enumerate(make_rows(120, 0.3, 4)):
        tags = ["spam"] if label == "spam" else ["ham"]
        if i % 4 == 0:
            tags.append("flagged")
        rows.append((text, "|".join(tags)))
    data = write_csv(tmp_path / "ml.csv", rows)
    out = tmp_path / "ml-run"
    code = main(["train", "--data", str(data), "--label-delimiter", "|", "--model", str(tiny_model_dir),
                 "--output", str(out), "--epochs", "1", "--max-length", "32"])  # fmt: skip
    assert code == 0
    meta = json.loads((out / "longtail.json").read_text())
    assert meta["task"] == "multilabel" and sorted(meta["labels"]["names"]) == [
        "flagged",
        "ham",
        "spam",
    ]
    preds = tmp_path / "ml.jsonl"
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
                "--no-progress",
            ]
        )
        == 0
    )
    first = json.loads(preds.read_text().splitlines()[0])
    assert isinstance(first["prediction"], list)


def test_gradient_checkpointing_and_bf16_then_full_precision_in_one_process(
    spam_files, tiny_model_dir, tmp_path
):
    args = ["train", "--data", str(spam_files["train"]), "--epochs", "1"]
    out = tmp_path / "gc"
    assert main([*args, *fast_train_args(tiny_model_dir, out), "--epochs", "1",
                 "--gradient-checkpointing", "--mixed-precision", "bf16"]) == 0  # fmt: skip
    meta = json.loads((out / "longtail.json").read_text())
    assert meta["config"]["model"]["gradient_checkpointing"] is True
    assert meta["config"]["train"]["mixed_precision"] == "bf16"
    # accelerate keeps mixed precision in a process-wide singleton: a second run must still work
    assert (
        main(
            [
                *args,
                *fast_train_args(tiny_model_dir, tmp_path / "fp32"),
                "--epochs",
                "1",
                "--mixed-precision",
                "no",
            ]
        )
        == 0
    )


def test_class_weights_by_label_name_end_to_end(tmp_path, tiny_model_dir, capsys):
    data = write_csv(tmp_path / "train.csv", make_rows(60, 0.25, seed=3))
    base = ["train", "--data", str(data), "--model", str(tiny_model_dir), "--max-length", "32",
            "--epochs", "1", "--encoder", "frozen", "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    assert (
        main([*base, "--output", str(tmp_path / "ok"), "loss.name=ce", "loss.weights={spam: 5}"])
        == 0
    )
    assert "loss ce(weights=[1.0, 5.0])" in capsys.readouterr().out
    assert (
        main([*base, "--output", str(tmp_path / "bad"), "loss.name=ce", "loss.weights={spamm: 5}"])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert "'spamm', which is not a label; the labels are: ham, spam" in err and "\n" not in err
    assert not (tmp_path / "bad").exists()
