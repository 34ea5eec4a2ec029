"""``longtail train --encoder frozen``: cached short-text embeddings, a head-only run, and a model
directory that ``predict`` / ``evaluate`` / ``export`` use like any other."""

from __future__ import annotations

import contextlib
import io
import json
import math
import re

import numpy as np
import pytest
from cli_helpers import make_rows, write_csv
from safetensors import safe_open

from longtail.cache import cache_info
from longtail.cli import main
from longtail.predictor import Classifier


def _train(tiny_model_dir, tmp_path, files, output, *extra: str) -> list[str]:
    return [
        "train", "--data", str(files["train"]),
        *(["--test-data", str(files["test"])] if "test" in files else []), "--model", str(tiny_model_dir), "--output", str(tmp_path / output), "--max-length", "32",
        "--batch-size", "16", "--head-lr", "1e-2", "--encoder", "frozen",
        "--cache-dir", str(tmp_path / "cache"), "--epochs", "8", *extra,
    ]  # fmt: skip


def _counts(log: str, split: str) -> tuple[int, int, int]:
    found = re.search(
        rf"text embeddings \({split}\): (\d+) of (\d+) from the cache, (\d+) encoded", log
    )
    assert found, log[-3000:]
    return int(found[1]), int(found[2]), int(found[3])


@pytest.fixture(scope="module")
def shared(tmp_path_factory, tiny_model_dir):
    """One frozen run (and its log) that several tests read; built once for the module."""
    tmp = tmp_path_factory.mktemp("frozen")
    files = {
        "train": write_csv(tmp / "train.csv", make_rows(160, 0.15, seed=1)),
        "test": write_csv(tmp / "test.csv", make_rows(60, 0.15, seed=2)),
    }
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        assert main(_train(tiny_model_dir, tmp, files, "run")) == 0
    return tmp, files, log.getvalue()


@pytest.fixture
def frozen_run(shared):
    tmp, _, log = shared
    return tmp / "run", log


def test_first_run_encodes_each_text_once_and_a_rerun_reads_them_all(
    shared, tiny_model_dir, capsys
):
    tmp_path, spam_files, log = shared
    assert _counts(log, "training split") == (0, 144, 144)
    assert _counts(log, "validation split") == (0, 16, 16)
    assert _counts(log, "new rows") == (0, 60, 60)  # the test file, through the same cache
    info = cache_info(tmp_path / "cache")
    assert info["entries"] == 160 + 60 - len(_duplicates(spam_files))  # `longtail cache info`

    assert main(_train(tiny_model_dir, tmp_path, spam_files, "again")) == 0
    again = capsys.readouterr().out
    assert _counts(again, "training split") == (144, 144, 0)
    assert _counts(again, "validation split") == (16, 16, 0)
    assert _counts(again, "new rows") == (60, 60, 0)
    first = json.loads((tmp_path / "run" / "report.json").read_text())["metrics"]
    second = json.loads((tmp_path / "again" / "report.json").read_text())["metrics"]
    assert first["f1_macro"] == pytest.approx(second["f1_macro"])  # cached = recomputed vectors


def _duplicates(files) -> list[str]:
    texts = []
    for name in ("train", "test"):
        texts += [line.split(",")[0] for line in files[name].read_text().splitlines()[1:]]
    return [t for i, t in enumerate(texts) if t in texts[:i]]


def test_model_directory_is_an_ordinary_one(shared, tmp_path):
    run, spam_files = shared[0] / "run", shared[1]
    meta = json.loads((run / "longtail.json").read_text())
    assert meta["config"]["model"]["encoder"] == "frozen"
    assert meta["config"]["train"]["epochs"] == 8  # given: the frozen default (200) stays out
    assert "encoder/model.safetensors" in meta["files"]
    report = json.loads((run / "report.json").read_text())
    assert report["model"]["encoder"].startswith("frozen; linear head")
    assert re.match(r"\d+ epochs, \d+ steps: ", report["model"]["stopped"])
    assert "- stopped: " in (run / "report.md").read_text()

    classifier = Classifier.load(run)  # hash-checked
    probs = classifier.predict_proba(["free cash prize claim now", "see you at lunch"])
    assert probs.shape == (2, 2)

    preds = tmp_path / "preds.jsonl"
    argv = ["predict", "--model", str(run), "--data", str(spam_files["test"]),
            "--output", str(preds), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert len(preds.read_text().splitlines()) == 60

    assert main(["evaluate", "--model", str(run), "--data", str(spam_files["test"]),
                 "--output", str(tmp_path / "eval")]) == 0  # fmt: skip
    evaluated = json.loads((tmp_path / "eval" / "report.json").read_text())["metrics"]
    # the full model on raw texts gives what training scored from the cached embeddings
    assert evaluated["f1_macro"] == pytest.approx(report["metrics"]["f1_macro"], abs=1e-6)


def test_export_of_a_frozen_run(frozen_run, tmp_path):
    pytest.importorskip("onnxruntime")
    run, _ = frozen_run
    out = tmp_path / "model.onnx"
    assert main(["export", "--model", str(run), "--onnx", "--output", str(out)]) == 0
    assert out.is_file() and out.with_suffix(".json").is_file()


def test_checkpoints_hold_the_head_only(frozen_run):
    run, _ = frozen_run
    for name in ("model.safetensors", "best.safetensors"):
        checkpoint = run / "checkpoint" / name
        if not checkpoint.exists():
            continue
        with safe_open(str(checkpoint), framework="pt") as handle:
            keys = set(handle.keys())
        assert keys == {"head.weight", "head.bias"}, keys


def test_mlp_head_multilabel_with_a_sampler(tmp_path, tiny_model_dir):
    rows = []
    for i, (text, label) in enumerate(make_rows(120, 0.3, 4)):
        tags = [label] + (["flagged"] if i % 4 == 0 else [])
        rows.append((text, "|".join(tags)))
    data = write_csv(tmp_path / "ml.csv", rows)
    out = tmp_path / "ml"
    argv = ["train", "--data", str(data), "--label-delimiter", "|", "--model", str(tiny_model_dir),
            "--output", str(out), "--max-length", "32", "--encoder", "frozen", "--head", "mlp",
            "--head-hidden", "16", "--epochs", "3", "--sampler", "oversample",
            "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    assert main(argv) == 0
    meta = json.loads((out / "longtail.json").read_text())
    assert meta["task"] == "multilabel" and meta["architecture"]["head_hidden"] == 16
    with safe_open(str(out / "head.safetensors"), framework="pt") as handle:
        assert {"hidden.0.weight", "head.weight"} <= set(handle.keys())
    assert Classifier.load(out).predict_proba(["free cash"]).shape == (1, 3)


def test_frozen_defaults_train_to_convergence(shared, tiny_model_dir, capsys):
    tmp_path, spam_files, _ = shared
    argv = _train(tiny_model_dir, tmp_path, {"train": spam_files["train"]}, "long")
    argv = argv[: argv.index("--epochs")]  # the frozen defaults: up to 200 epochs, patience 10
    assert main([*argv, "--strategy", "vanilla"]) == 0  # SGD: the probe is the default
    meta = json.loads((tmp_path / "long" / "longtail.json").read_text())
    train = meta["config"]["train"]
    assert (train["epochs"], train["max_epochs"], train["min_steps"], train["patience"]) == (
        None, 200, 0, 10,
    )  # fmt: skip
    # these 16 validation rows are separated in epoch 1 (the former fixed 200 epochs ran on for
    # the 10 of patience); a perfect score ends the run, keeping the same weights
    assert "a perfect validation score (1) cannot be beaten" in capsys.readouterr().out
    assert (len(meta["training"]["history"]), meta["training"]["stop"]) == (1, "perfect_score")
    assert meta["training"]["stopped"].startswith("1 epochs, 9 steps: a perfect validation score")


def _three_classes(path):
    from cli_helpers import FILLER, HAM, SPAM

    rng = __import__("numpy").random.default_rng(4)
    rows = []
    for label, vocab, n in (("ham", HAM, 60), ("spam", SPAM, 30), ("other", FILLER, 14)):
        for _ in range(n):
            rows.append((" ".join(rng.choice(vocab, size=6)), label))
    return write_csv(path, rows)


def test_the_frozen_multiclass_default_trains_on_balanced_batches_and_a_named_loss_is_solved(
    shared, tiny_model_dir, capsys
):
    tmp_path, spam_files, _ = shared
    data = _three_classes(tmp_path / "three.csv")
    argv = _train(tiny_model_dir, tmp_path, {"train": data}, "default")
    argv = argv[: argv.index("--epochs")]
    # no loss named: plain CE on class-balanced batches, the head trained by SGD (the five-seed
    # grid's pick, docs/benchmarks.md), said in the log and recorded in the model's config
    assert main(argv) == 0
    assert "the linear head trains by SGD with plain cross-entropy on class-balanced batches" in (
        capsys.readouterr().out
    )
    meta = json.loads((tmp_path / "default" / "longtail.json").read_text())
    assert meta["task"] == "multiclass" and meta["config"]["strategy"] == "vanilla"
    assert meta["config"]["sampler"] == "class_balanced" and meta["config"]["loss"] == {
        "name": "ce"
    }
    assert meta["training"]["stop"] != "solved"
    # a named loss keeps the solved head (class weights and balanced batches would correct twice)
    assert main([*argv, "--loss", "ce", "--output", str(tmp_path / "probe")]) == 0
    printed = capsys.readouterr().out
    assert "head is solved by L-BFGS (strategy linear_probe" in printed
    meta = json.loads((tmp_path / "probe" / "longtail.json").read_text())
    assert meta["config"]["strategy"] == "linear_probe" and meta["training"]["stop"] == "solved"
    assert meta["config"]["sampler"] == "none"
    # fixed epochs, a sampler or an MLP head ask for minibatch training: the head is trained
    for i, extra in enumerate((["--epochs", "2"], ["--sampler", "sqrt"], ["--head", "mlp"])):
        assert main([*argv, *extra, "--output", str(tmp_path / f"sgd{i}")]) == 0
        meta = json.loads((tmp_path / f"sgd{i}" / "longtail.json").read_text())
        assert meta["config"]["strategy"] == "vanilla", extra
        assert meta["training"]["stop"] != "solved"
    # binary is solved too (IMDB, docs/benchmarks.md)
    binary = _train(tiny_model_dir, tmp_path, {"train": spam_files["train"]}, "binary")
    assert main(binary[: binary.index("--epochs")]) == 0
    capsys.readouterr()
    meta = json.loads((tmp_path / "binary" / "longtail.json").read_text())
    assert meta["task"] == "binary" and meta["training"]["stop"] == "solved"
    # multilabel lost with it (Reuters): SGD, said in the log
    tags = write_csv(
        tmp_path / "tags.csv",
        [(text, "|".join(["a", "b"][: 1 + i % 2]) if i % 3 else "c") for i, (text, _) in
         enumerate(make_rows(90, 0.3, 8))],
    )  # fmt: skip
    multilabel = _train(tiny_model_dir, tmp_path, {"train": tags}, "tags", "--label-delimiter", "|")
    i = multilabel.index("--epochs")
    assert main(multilabel[:i] + multilabel[i + 2 :]) == 0
    assert "a multilabel task: the head trains by SGD" in capsys.readouterr().out
    meta = json.loads((tmp_path / "tags" / "longtail.json").read_text())
    assert meta["task"] == "multilabel" and meta["training"]["stop"] != "solved"


def test_target_priors_at_training_are_saved_and_predicted_with(shared, tiny_model_dir, capsys):
    """A model trained on 15 % spam for a world of 50 %: the report says so, the saved model
    predicts with the shift, and a multilabel task is refused in one line."""
    tmp_path, files, _ = shared
    argv = _train(tiny_model_dir, tmp_path, files, "balanced", "--target-priors", "balanced")
    assert main(argv) == 0
    meta = json.loads((tmp_path / "balanced" / "longtail.json").read_text())
    assert meta["config"]["decision"]["tune_thresholds"] is False
    assert meta["logit_adjust"]["target_priors"] == [0.5, 0.5]
    report = (tmp_path / "balanced" / "report.md").read_text()
    assert "corrected from the training priors to ham 0.5000, spam 0.5000" in report
    texts = [line.rsplit(",", 1)[0] for line in files["test"].read_text().splitlines()[1:30]]
    # the shift starts from what the default loss's effective-number weights left of the priors
    priors = meta["training"]["model_priors"]
    # calibrated on validation first, then shifted: P(spam)'s odds grow by ham's prior odds
    shifted = Classifier.load(tmp_path / "balanced")
    z = shifted.predict_logits(texts) / meta["temperature"]
    calibrated_odds = np.exp(z[:, 1] - z[:, 0])
    q = shifted.predict_proba(texts)[:, 1]
    np.testing.assert_allclose(
        q / (1 - q), calibrated_odds * priors["ham"] / priors["spam"], rtol=1e-4
    )  # float32 logits
    counts = meta["training"]["train_class_counts"]
    assert counts["spam"] / sum(counts.values()) < priors["spam"] < 0.5
    offsets = meta["logit_adjust"]["offsets"]
    temperature = meta["temperature"]  # the map shifts before it scales: offsets carry it
    assert offsets == pytest.approx(
        [temperature * math.log(priors["ham"] / 0.5), temperature * math.log(priors["spam"] / 0.5)]
    )
    # balanced softmax already learns balanced priors: nothing left to shift
    argv = _train(tiny_model_dir, tmp_path, files, "bsm", "--loss", "balanced_softmax",
                  "--target-priors", "balanced")  # fmt: skip
    assert main(argv) == 0
    meta = json.loads((tmp_path / "bsm" / "longtail.json").read_text())
    assert meta["training"]["model_priors"] == pytest.approx({"ham": 0.5, "spam": 0.5})
    assert meta["logit_adjust"]["offsets"] == pytest.approx([0.0, 0.0], abs=1e-6)
    tags = write_csv(
        tmp_path / "tags2.csv",
        [(text, "a|b" if i % 2 else "c") for i, (text, _) in enumerate(make_rows(60, 0.3, 9))],
    )
    argv = _train(tiny_model_dir, tmp_path, {"train": tags}, "tags2", "--label-delimiter", "|",
                  "--target-priors", "balanced")  # fmt: skip
    capsys.readouterr()
    assert main(argv) == 2
    printed = capsys.readouterr()
    err = printed.err.strip()
    assert "binary and multiclass tasks, not multilabel" in err and "\n" not in err
    assert "epoch 1" not in printed.out, "refused before training"
