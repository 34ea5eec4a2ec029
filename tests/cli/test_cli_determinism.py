"""Same seed, same data, same machine: the same model, thresholds and metrics."""

from __future__ import annotations

import json

from cli_helpers import fast_train_args

from longtail.cli import main


def _run(spam_files, tiny_model_dir, out, *extra):
    argv = ["train", "--data", str(spam_files["train"]), "--test-data", str(spam_files["test"]),
            "--sampler", "class_balanced", *fast_train_args(tiny_model_dir, out), *extra]  # fmt: skip
    assert main(argv) == 0
    meta = json.loads((out / "longtail.json").read_text())
    return meta, json.loads((out / "report.json").read_text())["metrics"]


def test_same_seed_same_everything_other_seed_differs(spam_files, tiny_model_dir, tmp_path):
    first, first_metrics = _run(spam_files, tiny_model_dir, tmp_path / "a")
    second, second_metrics = _run(spam_files, tiny_model_dir, tmp_path / "b")
    assert first["thresholds"] == second["thresholds"]
    assert first["temperature"] == second["temperature"]
    assert first["training"]["history"] == second["training"]["history"]
    assert first["files"] == second["files"], "weights must be byte-identical"
    assert first_metrics == second_metrics
    other, _ = _run(spam_files, tiny_model_dir, tmp_path / "c", "--seed", "1")
    assert other["training"]["history"] != first["training"]["history"]
