"""Fine-tune the real offline all-MiniLM-L6-v2 on real SMS Spam for a few dozen steps."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import longtail
from longtail.datasets import load_sms_spam


def _write(path, texts, labels):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels, strict=True))
    return path


@pytest.mark.slow
def test_real_encoder_learns_spam_in_a_few_steps(tmp_path):
    table = load_sms_spam()
    order = np.random.default_rng(0).permutation(len(table.texts))
    train_rows, test_rows = order[:800], order[800:1200]
    train = _write(
        tmp_path / "train.csv",
        [table.texts[i] for i in train_rows],
        [table.labels[i] for i in train_rows],
    )
    test = _write(
        tmp_path / "test.csv",
        [table.texts[i] for i in test_rows],
        [table.labels[i] for i in test_rows],
    )

    clf = longtail.train(
        train,
        output=tmp_path / "run",
        test_data=test,
        overrides=[
            "train.max_steps=30",
            "train.batch_size=16",
            "model.max_length=64",
            "train.epochs=1",
        ],
        verbose=False,
    )
    meta = json.loads((tmp_path / "run" / "longtail.json").read_text())
    assert "all-MiniLM-L6-v2" in meta["base_model"]
    metrics = clf.report["metrics"]
    # 13 % spam: a model that learned nothing has PR-AUC ~0.13 and spam F1 ~0
    assert metrics["positive_pr_auc"] > 0.85, metrics
    assert metrics["positive_f1"] > 0.75, metrics
    probs = clf.predict_proba(
        [
            "WINNER!! You have won a 1000 cash prize. Call 09061701461 to claim now",
            "ok see you at home later",
        ]
    )
    assert probs[0, 1] > 5 * probs[1, 1]
