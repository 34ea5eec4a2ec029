"""Variants that differ only in decision.* share one training per (fold, seed) when their
thresholds are not tuned; a tuned decision scores the epochs, so it trains on its own."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_compare import HAM, SPAM, _experiment

import longtail.fingerprint as fingerprint
from longtail.cli import main
from longtail.experiments import load_experiment, redecide, runner
from longtail.experiments.redecide import DECISION_INPUTS

VARIANTS = {
    "at_half": {"decision": {"calibrate": False, "tune_thresholds": False}},
    # untuned too: epochs scored by argmax, so the same training; the adjustment moves decisions
    "adjusted": {"decision": {"tune_thresholds": False, "logit_adjust": "tuned"}},
    "tuned": {},  # early stopping scores the tuned decision: a training of its own
    "focal": {"loss": {"name": "focal", "gamma": 2.0}},
}


def _noisy(tmp_path: Path, tiny_model_dir: Path) -> Path:
    """The grid of test_compare on data a model cannot get right: spam rows draw only a few
    more spam words than ham rows, so the metrics are far from 1 and the decisions matter."""
    rng = np.random.default_rng(0)
    train = tmp_path / "noisy.csv"
    with train.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(160):
            spam = i < 40
            words = [
                rng.choice(SPAM if rng.random() < (0.4 if spam else 0.25) else HAM)
                for _ in range(8)
            ]
            writer.writerow([" ".join(words), "spam" if spam else "ham"])
    path = _experiment(tmp_path, tiny_model_dir, variants=VARIANTS)
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec["base"]["data"]["train"] = str(train)
    spec["metrics"] = ["f1_macro", "mcc", "pr_auc_macro", "recall_macro"]
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def _records(grid):
    return {
        path.relative_to(grid / "cells").with_suffix("").as_posix(): json.loads(path.read_text())
        for path in (grid / "cells").glob("*/*.json")
    }


def test_decision_only_variants_are_decided_from_one_training(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    trained = []
    real = runner.run_cell
    monkeypatch.setattr(
        runner, "run_cell", lambda spec, cell, *a: trained.append(cell.name) or real(spec, cell, *a)
    )
    path = _noisy(tmp_path, tiny_model_dir)
    assert main(["compare", str(path), "--dry-run"]) == 0
    planned = capsys.readouterr().out
    assert "adjusted/fold1-seed0  (decided from at_half's training)" in planned
    assert "adjusted/fold0-seed0  (decided from at_half's training)" in planned
    assert "focal/fold0-seed0\n" in planned and "at_half/fold0-seed0\n" in planned
    assert "tuned/fold0-seed0\n" in planned  # its tuned decision chooses its epochs
    assert "8 cells, 0 done, 2 to decide from a twin's training" in planned
    assert main(["compare", str(path)]) == 0
    assert "decided from at_half's training" in capsys.readouterr().out
    assert sorted(trained) == [
        f"{v}/fold{f}-seed0" for v in ("at_half", "focal", "tuned") for f in (0, 1)
    ]
    grid = tmp_path / "grid"
    records = _records(grid)
    assert records["adjusted/fold0-seed0"]["decided_from"] == "at_half"
    assert "decided_from" not in records["focal/fold0-seed0"]
    assert "decided_from" not in records["tuned/fold0-seed0"]
    assert (grid / "cells/at_half/fold0-seed0" / DECISION_INPUTS).is_file()
    assert (grid / "cells/focal/fold0-seed0" / DECISION_INPUTS).is_file()  # no twin, but small
    report = json.loads((grid / "cells/adjusted/fold1-seed0/report.json").read_text())
    assert report["decided_from"] == "at_half" and report["split"] == "test"
    assert report["metrics"]["f1_macro"] == records["adjusted/fold1-seed0"]["metrics"]["f1_macro"]
    assert report["logit_adjust"]["tuned"] is True

    # the same numbers as training the variant: a grid of "adjusted" alone trains it; its
    # logits are "large" here, so none are kept
    monkeypatch.setattr(redecide, "KEEP_LOGITS_UP_TO", 0)
    alone = tmp_path / "alone"
    alone.mkdir()
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec |= {"variants": {"adjusted": VARIANTS["adjusted"]}, "output": str(alone / "grid")}
    (alone / "experiment.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    assert main(["compare", str(alone / "experiment.yaml")]) == 0
    assert not list((alone / "grid/cells").glob(f"*/*/{DECISION_INPUTS}"))
    f1_decided = []
    for fold in (0, 1):
        by_training = _records(alone / "grid")[f"adjusted/fold{fold}-seed0"]
        decided = records[f"adjusted/fold{fold}-seed0"]
        assert "decided_from" not in by_training
        for metric, value in by_training["metrics"].items():
            assert decided["metrics"][metric] == pytest.approx(value, abs=1e-6), metric
        assert decided["per_class_f1"] == pytest.approx(by_training["per_class_f1"], abs=1e-6)
        f1_decided.append(decided["metrics"]["f1_macro"])
    assert 0.3 < max(f1_decided) < 0.95  # a task where decisions matter (a weak model here)
    half, adjusted = (
        json.loads((grid / f"cells/{v}/fold0-seed0/report.json").read_text())
        for v in ("at_half", "adjusted")
    )
    assert half["logit_adjust"] is None and adjusted["logit_adjust"]["tuned"]  # its own decision

    # a decision-only variant added to a finished grid whose twin kept no logits trains
    spec["variants"]["at_half"] = VARIANTS["at_half"]
    (alone / "experiment.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    capsys.readouterr()
    assert main(["compare", str(alone / "experiment.yaml"), "--dry-run"]) == 0
    planned = capsys.readouterr().out
    assert (
        "at_half/fold0-seed0  (trains: adjusted's finished cell trained the same model but kept "
        "no logits)" in planned
    )
    assert "4 cells, 2 done; output" in planned


def test_a_decision_variant_added_to_a_finished_grid_is_decided(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """Small logits are kept without a twin in the file, so a later threshold objective is free."""
    path = _noisy(tmp_path, tiny_model_dir)
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    untuned = {"decision": {"tune_thresholds": False}}
    spec["variants"] = {"focal": VARIANTS["focal"] | untuned}
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    assert main(["compare", str(path)]) == 0

    spec["variants"]["focal_adjusted"] = VARIANTS["focal"] | VARIANTS["adjusted"]
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    capsys.readouterr()
    dry_run = subprocess.run(
        [sys.executable, "-c", NO_TORCH_DRY_RUN, str(path)], capture_output=True, text=True
    )
    assert dry_run.returncode == 0, dry_run.stderr
    assert "focal_adjusted/fold1-seed0  (decided from focal's training)" in dry_run.stdout
    assert "4 cells, 2 done, 2 to decide from a twin's training" in dry_run.stdout

    # another task's default changed since focal trained: its binary training is still the twin
    spec_now = load_experiment(path)
    recall_cell = next(c for c in spec_now.cells() if c.variant == "focal_adjusted")
    assert "train.early_stopping_metric@multilabel" in runner.cell_settings(spec_now, recall_cell)
    binary_metric = fingerprint.TASK_DEFAULTS["train.early_stopping_metric"]
    monkeypatch.setitem(
        fingerprint.TASK_DEFAULTS,
        "train.early_stopping_metric",
        lambda task: "recall_macro" if task == "multilabel" else binary_metric(task),
    )
    state = runner.scan_cells(load_experiment(path))
    assert state.stale == {}
    plan = redecide.plan_decisions(
        spec_now, spec_now.cells(), state.done, partial(runner.cell_run_dir, spec_now)
    )
    assert sorted(c.name for c in plan.decided) == [f"focal_adjusted/fold{f}-seed0" for f in (0, 1)]

    trained = []
    monkeypatch.setattr(runner, "run_cell", lambda spec, cell, *a: trained.append(cell.name))
    assert main(["compare", str(path)]) == 0
    assert trained == []
    cells = tmp_path / "grid/cells"
    for fold in (0, 1):
        focal, recall = (
            json.loads((cells / f"{v}/fold{fold}-seed0/report.json").read_text())
            for v in ("focal", "focal_adjusted")
        )
        assert recall["decided_from"] == "focal" and "decided_from" not in focal
        # the adjustment lowers the majority's logit: recall of the minority does not fall
        assert (
            recall["validation_metrics"]["positive_recall"]
            >= (focal["validation_metrics"]["positive_recall"])
        )
        # the same model, so the same ranking
        assert recall["metrics"]["pr_auc_macro"] == pytest.approx(focal["metrics"]["pr_auc_macro"])


#: ``compare --dry-run`` in a fresh interpreter, failing if it imported torch (it must start fast)
NO_TORCH_DRY_RUN = """
import sys
from longtail.cli import main
code = main(["compare", sys.argv[1], "--dry-run"])
assert "torch" not in sys.modules, "compare --dry-run imported torch"
sys.exit(code)
"""
