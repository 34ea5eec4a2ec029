"""benchmarks/decision_split.py refits four decisions on a real grid's saved logits; the
decision each variant asked for reproduces what its cell shipped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml
from benchmark_scripts import load_script

from longtail.cli import main

WORDS = {
    "sport": "goal match team score league coach win".split(),
    "money": "bank rate loan cash market stock price".split(),
    "rare": "storm rain wind snow cloud cold flood".split(),
}


def _grid(tmp_path: Path, tiny_model_dir: Path) -> Path:
    """A two-variant, two-fold grid on three overlapping classes (one rare): the decisions
    differ, so the parity below can fail."""
    rng = np.random.default_rng(0)
    rows = []
    for label, count in (("sport", 60), ("money", 40), ("rare", 14)):
        for _ in range(count):
            own = list(rng.choice(WORDS[label], size=3))
            noise = list(rng.choice(sum(WORDS.values(), []), size=5))
            rows.append({"text": " ".join(own + noise), "label": label})
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    spec = {
        "base": {
            "data": {"train": str(train)},
            "model": {"name": str(tiny_model_dir), "max_length": 16},
            "train": {"epochs": 2, "batch_size": 16, "lr": 1e-3, "head_lr": 1e-2},
        },
        "variants": {
            "vanilla": {"loss": "ce", "decision": {"tune_thresholds": False, "calibrate": "none"}},
            "default": {},
        },
        "seeds": [0],
        "folds": 2,
        "output": str(tmp_path / "grid"),
    }
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    assert main(["compare", str(path)]) == 0
    return tmp_path / "grid"


def test_refitted_decisions_reproduce_each_cells_shipped_decision(tmp_path, tiny_model_dir):
    script = load_script("decision_split")
    grid = _grid(tmp_path, tiny_model_dir)
    results = script.split(grid)
    assert set(results) == {"vanilla", "default"}
    assert all(len(cells) == 2 for cells in results.values())  # both folds kept their logits
    # the decisions differ on this data, so each parity below could fail
    assert script.matching_shipped(results["vanilla"]) == ["argmax"]
    assert "tuned" in script.matching_shipped(results["default"])
    assert "argmax" not in script.matching_shipped(results["default"])
    for cells in results.values():
        for rows in cells.values():
            assert set(rows) == {"shipped", *script.DECISIONS}
            assert all(0.0 <= row["test_f1_macro"] <= 1.0 for row in rows.values())
    text = script.table(results, grid)
    assert text.count("| default |") == 5 and "parity: vanilla's shipped decision equals" in text


def test_target_priors_adds_a_prior_shifted_decision_to_every_cell(tmp_path, tiny_model_dir):
    script = load_script("decision_split")
    assert script.with_target(None) is script.DECISIONS
    grid = _grid(tmp_path, tiny_model_dir)
    results = script.split(grid, script.with_target("balanced"))
    for cells in results.values():
        for rows in cells.values():
            assert set(rows) == {"shipped", *script.DECISIONS, "target_balanced"}
            shifted = rows["target_balanced"]
            assert 0.0 <= shifted["test_f1_macro"] <= 1.0
            assert shifted["kept_tuning"] is None  # the shift tunes nothing on validation
    text = script.table(results, grid)
    assert text.count("| default |") == 6 and "decided 5 ways" in text
