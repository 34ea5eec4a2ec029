"""Long documents end to end: auto-detection, both training modes, the cache, bad input."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest
import torch
from cli_helpers import make_rows, write_csv

from longtail.cli import main
from longtail.text.batching import pad_batch


def _documents(tmp_path, n=48, seed=3):
    rows = make_rows(n, 0.25, seed)
    # 1 to 16 repetitions of a message: up to ~230 tokens, past the tiny BERT's 128-token window
    return write_csv(
        tmp_path / "docs.csv",
        [(" ".join([t] * (1 + i % 16)), lab) for i, (t, lab) in enumerate(rows)],
    )


def _args(tiny_model_dir, data, out, *extra):
    return ["train", "--data", str(data), "--model", str(tiny_model_dir), "--output", str(out),
            "--max-length", "32", "--chunk-length", "32", "--stride", "8", "--epochs", "2", "--batch-size", "4",
            "--lr", "1e-3", "--head-lr", "1e-2", *extra]  # fmt: skip


def test_auto_detects_long_documents_and_trains_end_to_end(tmp_path, tiny_model_dir, capsys):
    data = _documents(tmp_path)
    assert main(_args(tiny_model_dir, data, tmp_path / "e2e", "--max-chunks", "3")) == 0
    out = capsys.readouterr().out
    assert "exceed the encoder window of 128 tokens, so a hierarchical model" in out
    meta = json.loads((tmp_path / "e2e" / "longtail.json").read_text())
    assert meta["architecture"]["kind"] == "hierarchical"
    assert meta["long_documents"]["chunk_length"] == 32 and meta["long_documents"]["stride"] == 8


def test_frozen_mode_reuses_the_embedding_cache(tmp_path, tiny_model_dir, capsys):
    data = _documents(tmp_path)
    cache = tmp_path / "cache"
    args = ["--long-mode", "frozen", "--cache-dir", str(cache), "--aggregator", "transformer"]
    assert main(_args(tiny_model_dir, data, tmp_path / "f1", *args)) == 0
    first = capsys.readouterr().out
    assert "chunk embeddings: 0 of" in first
    assert main(_args(tiny_model_dir, data, tmp_path / "f2", *args, "--seed", "5")) == 0
    second = capsys.readouterr().out
    hits = [line for line in second.splitlines() if line.startswith("chunk embeddings:")]
    assert hits and all(line.split()[2] == line.split()[4] for line in hits), hits
    assert main(["cache", "info", "--dir", str(cache)]) == 0


def test_truncation_when_long_documents_are_switched_off(tmp_path, tiny_model_dir):
    data = _documents(tmp_path)
    out = tmp_path / "short"
    assert main(_args(tiny_model_dir, data, out, "--no-long-documents")) == 0
    assert json.loads((out / "longtail.json").read_text())["architecture"]["kind"] == "text"


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--long-documents", "--arrow"], "--arrow does not combine with long documents"),
        (["--long-documents", "--stride", "40"], "stride 40"),
        (["--extra-features", "p_nomination"], "p_nomination"),
    ],
)
def test_bad_long_document_settings(tmp_path, tiny_model_dir, capsys, extra, needle):
    data = _documents(tmp_path)
    assert main([*_args(tiny_model_dir, data, tmp_path / "bad"), *extra]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_document_over_the_character_cap(tmp_path, tiny_model_dir, capsys):
    rows = make_rows(30, 0.3, 4) + [("free prize " * 200, "spam")]
    data = write_csv(tmp_path / "huge.csv", rows)
    config = tmp_path / "cap.yaml"
    config.write_text("long_documents:\n  enabled: true\n  max_chars: 1000\n", encoding="utf-8")
    assert main([*_args(tiny_model_dir, data, tmp_path / "cap"), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "huge.csv" in err and "rows 32" in err and "max_chars=1000" in err
    config.write_text(
        "long_documents:\n  enabled: true\n  max_chars: 1000\n  on_too_long: truncate\n",
        encoding="utf-8",
    )
    assert main([*_args(tiny_model_dir, data, tmp_path / "cap2"), "--config", str(config)]) == 0


def test_predict_evaluate_and_explain_long_documents_with_extra_features(tmp_path, tiny_model_dir):
    rows = make_rows(48, 0.25, 7)

    data = tmp_path / "docs.csv"
    with data.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label", "p_prior"])
        for i, (text, label) in enumerate(rows):
            writer.writerow(
                [" ".join([text] * (1 + i % 16)), label, 0.9 if label == "spam" else 0.1]
            )
    out = tmp_path / "run"
    assert (
        main(
            [
                *_args(tiny_model_dir, data, out),
                "--extra-features",
                "p_prior",
                "--test-data",
                str(data),
            ]
        )
        == 0
    )
    meta = json.loads((out / "longtail.json").read_text())
    assert meta["extra_features"] == ["p_prior"] and meta["architecture"]["num_extra_features"] == 1

    preds = tmp_path / "preds.jsonl"
    assert main(["predict", "--model", str(out), "--data", str(data), "--output", str(preds),
                 "--explain", "2", "--no-progress"]) == 0  # fmt: skip
    records = [json.loads(line) for line in preds.read_text().splitlines()]
    assert len(records) == 48
    assert all(1 <= len(r["explanation"]) <= 2 for r in records)
    first = records[0]["explanation"][0]
    assert set(first) == {"chunk", "score", "text"} and 0 <= first["score"] <= 1 and first["text"]
    assert (
        main(
            ["evaluate", "--model", str(out), "--data", str(data), "--output", str(tmp_path / "ev")]
        )
        == 0
    )

    from longtail.predictor import Classifier

    clf = Classifier.load(out)
    texts = [r[0] for r in rows[:4]]
    low = clf.predict_proba(texts, extra=[[0.0]] * 4)
    high = clf.predict_proba(texts, extra=[[1.0]] * 4)
    assert not (low == high).all(), "the extra feature reaches the head"
    with pytest.raises(Exception, match="p_prior"):
        clf.predict_proba(texts)


def test_onnx_export_refuses_hierarchical_models_clearly(tmp_path, tiny_model_dir, capsys):
    data = _documents(tmp_path)
    out = tmp_path / "h"
    assert main([*_args(tiny_model_dir, data, out), "--epochs", "1"]) == 0
    capsys.readouterr()
    assert (
        main(["export", "--model", str(out), "--onnx", "--output", str(tmp_path / "m.onnx")]) == 2
    )
    assert "long-document" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_a_lower_max_length_alone_means_truncation_not_long_documents(
    tmp_path, tiny_model_dir, capsys
):
    rows = make_rows(40, 0.25, 9)
    data = write_csv(
        tmp_path / "sms.csv", [(" ".join([t] * 3), lab) for t, lab in rows]
    )  # ~40 tokens, < 128
    out = tmp_path / "short"
    assert main([*_args(tiny_model_dir, data, out), "--max-length", "16"]) == 0
    assert "long documents" not in capsys.readouterr().out
    assert json.loads((out / "longtail.json").read_text())["architecture"]["kind"] == "text"


def test_default_stride_fits_small_chunks(tmp_path, tiny_model_dir):
    data = _documents(tmp_path)
    args = ["train", "--data", str(data), "--model", str(tiny_model_dir), "--output", str(tmp_path / "s"),
            "--epochs", "1", "--batch-size", "4", "--long-documents"]  # fmt: skip
    assert main(args) == 0
    meta = json.loads((tmp_path / "s" / "longtail.json").read_text())
    # the tiny BERT's window is 128 tokens: chunks of 128, stride min(64, 126 // 4)
    assert meta["long_documents"]["chunk_length"] == 128 and meta["long_documents"]["stride"] == 31


def test_a_few_long_outliers_are_truncated_with_a_notice(tmp_path, tiny_model_dir, capsys):
    rows = make_rows(60, 0.25, 10) + [("free prize " * 80, "spam")]  # one text of ~160 tokens
    data = write_csv(tmp_path / "mostly_short.csv", rows)
    out = tmp_path / "m"
    assert main([*_args(tiny_model_dir, data, out), "--epochs", "1"]) == 0
    assert (
        "1 of 61 texts (1.6%) exceed the encoder window of 128 tokens: they are truncated"
        in capsys.readouterr().out
    )
    assert json.loads((out / "longtail.json").read_text())["architecture"]["kind"] == "text"


@pytest.mark.parametrize("mode", ["end_to_end", "frozen"])
def test_strategies_sam_and_aux_loss_work_on_long_documents(tmp_path, tiny_model_dir, capsys, mode):
    """The remedies apply to hierarchical models too: phases freeze the encoder's layers, the
    auxiliary loss reads the aggregated document embedding, and SAM steps through the chunks."""
    data = _documents(tmp_path)
    extra = ["--long-mode", mode, "--cache-dir", str(tmp_path / "cache"), "--strategy", "prefinetune_da",
             "--sam", "asymmetric_sam", "--aux-loss", "supcon", "strategy.per_class=6", "strategy.num_aug=1",
             "augment.quality_plot=pca", "train.max_steps=2"]  # fmt: skip
    assert main(_args(tiny_model_dir, data, tmp_path / mode, *extra)) == 0
    out = capsys.readouterr().out
    assert "phase 1/2 prefinetune" in out and "phase 2/2 finetune" in out
    report = json.loads((tmp_path / mode / "report.json").read_text())
    phases = report["training"]["phases"]
    assert [p["name"] for p in phases] == ["prefinetune", "finetune"]
    assert (
        12 < phases[0]["rows"] <= 24
    )  # 6 documents per class plus (up to) one augmented copy each
    if mode == "end_to_end":  # the top encoder layer and the aggregator + head train first
        assert phases[0]["trainable_tensors"] < phases[1]["trainable_tensors"]
    else:  # the frozen encoder stays frozen in every phase
        assert phases[0]["trainable_tensors"] == phases[1]["trainable_tensors"]
    assert (tmp_path / mode / "augmentation_quality_prefinetune.png").is_file()


def test_frozen_mode_scores_the_test_file_from_the_cache_like_evaluate(
    tmp_path, tiny_model_dir, capsys
):
    (tmp_path / "t").mkdir()
    data, test = _documents(tmp_path), _documents(tmp_path / "t", n=20, seed=9)
    cache = tmp_path / "cache"
    args = ["--long-mode", "frozen", "--cache-dir", str(cache), "--test-data", str(test)]
    assert main(_args(tiny_model_dir, data, tmp_path / "f1", *args)) == 0
    first = [
        line
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("chunk embeddings:")
    ]
    assert len(first) == 3  # train, validation and the test file all go through the cache
    assert main(_args(tiny_model_dir, data, tmp_path / "f2", *args, "--seed", "5")) == 0
    second = [
        line
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("chunk embeddings:")
    ]
    assert len(second) == 3 and all(line.split()[2] == line.split()[4] for line in second), second
    # the cached path scores the test file exactly as evaluate does through the encoder
    report = json.loads((tmp_path / "f2" / "report.json").read_text())
    assert main(["evaluate", "--model", str(tmp_path / "f2"), "--data", str(test),
                 "--output", str(tmp_path / "eval")]) == 0  # fmt: skip
    evaluated = json.loads((tmp_path / "eval" / "report.json").read_text())
    for key in ("f1_macro", "pr_auc_macro", "ece"):
        assert report["metrics"][key] == pytest.approx(evaluated["metrics"][key], abs=1e-5), key


def test_frozen_max_chunks_bounds_the_encoding_and_predict_reads_the_same_chunks(
    tmp_path, tiny_model_dir, capsys, monkeypatch
):
    from longtail.models.documents import encode_documents
    from longtail.models.hierarchical import HierarchicalClassifier
    from longtail.predictor import Classifier
    from longtail.text.chunking import ChunkSettings

    data = _documents(tmp_path)
    seen: list[tuple[int, ...]] = []
    real = HierarchicalClassifier.embed_chunks

    def spy(self, input_ids, attention_mask):
        seen.extend(
            tuple(ids[m.bool()].tolist()) for ids, m in zip(input_ids, attention_mask, strict=True)
        )
        return real(self, input_ids, attention_mask)

    monkeypatch.setattr(HierarchicalClassifier, "embed_chunks", spy)
    args = ["--long-mode", "frozen", "--cache-dir", str(tmp_path / "cache"), "--max-chunks", "2",
            "--test-data", str(data)]  # fmt: skip
    assert main(_args(tiny_model_dir, data, tmp_path / "f", *args)) == 0
    out = capsys.readouterr().out
    assert "at most 2 per document, spread evenly" in out
    meta = json.loads((tmp_path / "f" / "longtail.json").read_text())
    assert meta["long_documents"]["max_chunks_encoded"] == 2
    encoded, seen[:] = set(seen), []
    with data.open(encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    classifier = Classifier.load(tmp_path / "f")
    classifier.predict_logits(texts)
    assert set(seen) == encoded  # prediction reads exactly the chunks training encoded
    every = ChunkSettings.from_json(dict(meta["long_documents"], max_chunks_encoded=None))
    all_chunks = [c for doc in encode_documents(classifier.tokenizer, texts, every) for c in doc]
    assert len(seen) <= 2 * len(texts) < len(all_chunks)


def test_frozen_checkpoints_hold_the_aggregator_and_head_and_resume(
    tmp_path, tiny_model_dir, capsys, monkeypatch
):
    from safetensors.torch import load_file

    import longtail.training.loop as loop

    data = _documents(tmp_path)
    args = ["--long-mode", "frozen", "--cache-dir", str(tmp_path / "cache"), "--epochs", "4"]
    assert main(_args(tiny_model_dir, data, tmp_path / "full", *args)) == 0
    real_save, saves, held = loop.save_checkpoint, {"n": 0}, {}

    def save_then_die(directory, **kwargs):
        real_save(directory, **kwargs)
        saves["n"] += 1
        if saves["n"] == 2:
            held.update(
                {
                    name: load_file(str(directory / name))
                    for name in ("model.safetensors", "best.safetensors")
                }
            )
            raise KeyboardInterrupt  # killed right after epoch 2's checkpoint

    monkeypatch.setattr(loop, "save_checkpoint", save_then_die)
    assert main(_args(tiny_model_dir, data, tmp_path / "cut", *args)) == 130
    for name, tensors in held.items():  # the frozen encoder is saved once, in the model dir
        assert tensors and {key.split(".")[0] for key in tensors} == {"aggregator", "head"}, name
    monkeypatch.setattr(loop, "save_checkpoint", real_save)
    capsys.readouterr()
    assert main(_args(tiny_model_dir, data, tmp_path / "cut", *args, "--resume")) == 0
    assert "resuming after epoch 2" in capsys.readouterr().out
    full, cut = (json.loads((tmp_path / r / "longtail.json").read_text()) for r in ("full", "cut"))
    assert [h["train_loss"] for h in cut["training"]["history"]] == pytest.approx(
        [h["train_loss"] for h in full["training"]["history"]], rel=1e-5
    )
    assert cut["thresholds"] == pytest.approx(full["thresholds"], abs=1e-6)


def test_the_frozen_probe_default_gives_way_to_sgd_on_long_documents(
    tmp_path, tiny_model_dir, capsys
):
    data = _documents(tmp_path)
    args = _args(tiny_model_dir, data, tmp_path / "frozen", "--encoder", "frozen",
                 "--cache-dir", str(tmp_path / "cache"))  # fmt: skip
    i = args.index("--epochs")
    args = args[:i] + args[i + 2 :]  # no --epochs: a frozen linear head would be solved
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "long documents: the head trains by SGD" in out
    meta = json.loads((tmp_path / "frozen" / "longtail.json").read_text())
    assert meta["architecture"]["kind"] == "hierarchical" and meta["training"]["stop"] != "solved"
    for extra, why in (
        ((), "needs the frozen chunk-embedding path: add --long-mode frozen"),
        (("--long-mode", "frozen"), "needs an aggregator without weights"),  # attention
    ):
        asked = _args(
            tiny_model_dir, data, tmp_path / "probe", "--strategy", "linear_probe", *extra
        )
        assert main(asked) == 2
        err = capsys.readouterr().err.strip()
        assert "solves a linear head over one vector per document" in err and why in err
        assert len(err.splitlines()) == 1


def test_a_frozen_document_probe_is_logistic_regression_on_pooled_chunk_embeddings(
    tmp_path, tiny_model_dir, capsys
):
    """--long-mode frozen --aggregator mean_max --strategy linear_probe: the head is solved on
    [mean, max] of each document's cached chunk embeddings; prediction from the saved model
    gives the logits training scored, and a second run reads every chunk from the cache."""
    from longtail.models.aggregators import AGGREGATORS
    from longtail.predictor import Classifier

    data = _documents(tmp_path)
    (tmp_path / "test").mkdir()
    test = _documents(tmp_path / "test", n=24, seed=9)
    args = ["--long-mode", "frozen", "--aggregator", "mean_max", "--strategy", "linear_probe",
            "--cache-dir", str(tmp_path / "cache"), "--test-data", str(test)]  # fmt: skip
    assert main(_args(tiny_model_dir, data, tmp_path / "probe", *args)) == 0
    out = capsys.readouterr().out
    assert "linear probe (L-BFGS): l2 " in out
    meta = json.loads((tmp_path / "probe" / "longtail.json").read_text())
    assert meta["training"]["stop"] == "solved"
    classifier = Classifier.load(tmp_path / "probe")
    head = classifier.model.head
    assert head.in_features == 2 * classifier.model.encoder.config.hidden_size
    with test.open(encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    # the saved model's logits are the head over [mean, max] of its own chunk embeddings
    chunks = classifier.chunks.chunks(classifier.tokenizer, texts[:3])
    expected = []
    with torch.no_grad():
        pool = AGGREGATORS.build("mean_max", hidden_size=head.in_features // 2)
        for doc in chunks:
            ids, mask = pad_batch(doc, classifier.tokenizer.pad_token_id or 0)
            vectors = classifier.model.embed_chunks(ids, mask)
            pooled, _ = pool(vectors, torch.zeros(len(doc), dtype=torch.long), 1)
            expected.append(head(pooled)[0].numpy())
    np.testing.assert_allclose(classifier.predict_logits(texts[:3]), np.stack(expected), atol=1e-4)
    assert main(_args(tiny_model_dir, data, tmp_path / "again", *args)) == 0
    starts = [line for line in _chunk_lines(capsys.readouterr().out) if "from the cache" in line]
    assert starts and all(re.search(r": (\d+) of \1 documents from the cache", s) for s in starts)


def _chunk_lines(text):
    return [line for line in text.splitlines() if line.startswith("chunk embeddings:")]


def test_predict_and_evaluate_read_the_frozen_training_cache(
    tmp_path, tiny_model_dir, capsys, monkeypatch
):
    from longtail.models.hierarchical import HierarchicalClassifier
    from longtail.predictor import Classifier

    (tmp_path / "t").mkdir()
    data, test = _documents(tmp_path), _documents(tmp_path / "t", n=20, seed=9)
    cache = tmp_path / "cache"
    args = ["--long-mode", "frozen", "--cache-dir", str(cache), "--test-data", str(test)]
    assert main(_args(tiny_model_dir, data, tmp_path / "f", *args)) == 0
    capsys.readouterr()
    calls = {"n": 0}
    real = HierarchicalClassifier.embed_chunks

    def spy(self, input_ids, attention_mask):
        calls["n"] += 1
        return real(self, input_ids, attention_mask)

    monkeypatch.setattr(HierarchicalClassifier, "embed_chunks", spy)
    # the cache directory comes from longtail.json: no --cache-dir needed
    assert main(["predict", "--model", str(tmp_path / "f"), "--data", str(test),
                 "--output", str(tmp_path / "p.jsonl"), "--no-progress"]) == 0  # fmt: skip
    assert main(["evaluate", "--model", str(tmp_path / "f"), "--data", str(test),
                 "--output", str(tmp_path / "eval")]) == 0  # fmt: skip
    lines = _chunk_lines(capsys.readouterr().out)
    assert len(lines) == 2 and all(line.split()[2] == line.split()[4] == "20" for line in lines)
    assert calls["n"] == 0  # every chunk came from the cache
    # the same predictions without the cache (every chunk encoded)
    assert main(["predict", "--model", str(tmp_path / "f"), "--data", str(test), "--no-cache",
                 "--output", str(tmp_path / "q.jsonl"), "--no-progress"]) == 0  # fmt: skip
    assert calls["n"] > 0 and not _chunk_lines(capsys.readouterr().out)
    cached = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    encoded = [json.loads(line) for line in (tmp_path / "q.jsonl").read_text().splitlines()]
    assert [r["prediction"] for r in cached] == [r["prediction"] for r in encoded]
    for a, b in zip(cached, encoded, strict=True):
        for name, p in a["probabilities"].items():
            assert p == pytest.approx(b["probabilities"][name], abs=1e-5)
    with test.open(encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    clf = Classifier.load(tmp_path / "f")
    plain = clf.predict_logits(texts)
    clf.use_embedding_cache(log=lambda line: None)
    assert clf.predict_logits(texts) == pytest.approx(plain, abs=1e-5)


def test_predict_fills_a_new_cache_and_survives_an_unwritable_one(tmp_path, tiny_model_dir, capsys):
    data = _documents(tmp_path)
    args = ["--long-mode", "frozen", "--cache-dir", str(tmp_path / "cache")]
    assert main(_args(tiny_model_dir, data, tmp_path / "f", *args)) == 0
    capsys.readouterr()
    fresh = tmp_path / "missing" / "deeper"

    def predict(cache_dir, name):
        return main(["predict", "--model", str(tmp_path / "f"), "--data", str(data),
                     "--output", str(tmp_path / name), "--no-progress",
                     "--cache-dir", str(cache_dir)])  # fmt: skip

    assert predict(fresh, "a.jsonl") == 0  # a missing directory is made and filled
    assert _chunk_lines(capsys.readouterr().out)[0].startswith("chunk embeddings: 0 of 48")
    assert predict(fresh, "b.jsonl") == 0
    assert _chunk_lines(capsys.readouterr().out)[0].startswith("chunk embeddings: 48 of 48")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    assert predict(blocker / "cache", "c.jsonl") == 0
    out = capsys.readouterr().out
    assert out.count("not writable") == 1, out
    assert (tmp_path / "c.jsonl").read_text() == (tmp_path / "a.jsonl").read_text()


def _cut_then_predict(tmp_path, tiny_model_dir, capsys, train, predict_on, *extra) -> str:
    """Train in frozen mode with documents cut at 1,000 characters, predict on ``predict_on``;
    predict's chunk-embedding line (how many documents came from the cache)."""
    config = tmp_path / "cap.yaml"
    config.write_text(
        "long_documents:\n  enabled: true\n  max_chars: 1000\n  on_too_long: truncate\n",
        encoding="utf-8",
    )
    args = ["--config", str(config), "--long-mode", "frozen", "--cache-dir", str(tmp_path / "c")]
    with pytest.warns(UserWarning, match="cut to 1000 characters"):
        assert main([*_args(tiny_model_dir, train, tmp_path / "f"), *args, *extra]) == 0
    capsys.readouterr()
    with pytest.warns(UserWarning, match="cut to 1000 characters"):
        assert main(["predict", "--model", str(tmp_path / "f"), "--data", str(predict_on),
                     "--output", str(tmp_path / "p.jsonl"), "--no-progress"]) == 0  # fmt: skip
    return _chunk_lines(capsys.readouterr().out)[0]


def test_a_truncated_document_has_the_same_cache_key_in_training_and_predict(
    tmp_path, tiny_model_dir, capsys
):
    rows = make_rows(30, 0.3, 4) + [("free prize " * 200, "spam")]
    data = write_csv(tmp_path / "huge.csv", rows)
    line = _cut_then_predict(tmp_path, tiny_model_dir, capsys, data, data)
    assert line.startswith("chunk embeddings: 31 of 31 documents from the cache"), line


def test_a_truncated_test_document_is_cut_by_training_as_by_predict(
    tmp_path, tiny_model_dir, capsys
):
    data = write_csv(tmp_path / "train.csv", make_rows(30, 0.3, 4))
    test = write_csv(tmp_path / "test.csv", make_rows(9, 0.3, 5) + [("win cash " * 200, "spam")])
    # the test file is cut as training reads it, so its pass caches what predict looks up
    line = _cut_then_predict(tmp_path, tiny_model_dir, capsys, data, test, "--test-data", str(test))
    assert line.startswith("chunk embeddings: 10 of 10 documents from the cache"), line


def test_frozen_multiclass_documents_get_the_solved_head_over_mean_max_by_default(
    tmp_path, tiny_model_dir, capsys
):
    rows = make_rows(48, 0.25, 5)
    topics = ["sport", "music", "food"]
    data = write_csv(
        tmp_path / "three.csv",
        [(" ".join([t] * (1 + i % 16)), topics[i % 3]) for i, (t, _) in enumerate(rows)],
    )
    args = _args(tiny_model_dir, data, tmp_path / "default", "--long-mode", "frozen",
                 "--cache-dir", str(tmp_path / "cache"))  # fmt: skip
    i = args.index("--epochs")
    args = args[:i] + args[i + 2 :]  # nothing that asks for SGD
    assert main(args) == 0
    assert "aggregator mean_max) and the linear head is solved" in capsys.readouterr().out
    meta = json.loads((tmp_path / "default" / "longtail.json").read_text())
    assert meta["training"]["stop"] == "solved"
    assert meta["long_documents"]["aggregator"] == "mean_max"
    # an aggregator the user names is kept, and trains by SGD
    assert main([*args, "--aggregator", "attention", "--overwrite"]) == 0
    meta = json.loads((tmp_path / "default" / "longtail.json").read_text())
    assert meta["long_documents"]["aggregator"] == "attention"
    assert meta["training"]["stop"] != "solved"


def test_a_fused_branch_on_long_documents_scores_the_test_file_as_evaluate_does(
    tmp_path, tiny_model_dir
):
    """The cached long-document path fuses the TF-IDF branch of the full texts into the test
    logits exactly as the loaded model does through the encoder."""
    (tmp_path / "t").mkdir()
    data, test = _documents(tmp_path), _documents(tmp_path / "t", n=20, seed=9)
    args = ["--long-mode", "frozen", "--cache-dir", str(tmp_path / "cache"), "--test-data",
            str(test), "--lexical", "0.5"]  # fmt: skip
    assert main(_args(tiny_model_dir, data, tmp_path / "fused", *args)) == 0
    meta = json.loads((tmp_path / "fused" / "longtail.json").read_text())
    assert meta["lexical"]["weight"] == 0.5 and meta["architecture"]["kind"] == "hierarchical"
    report = json.loads((tmp_path / "fused" / "report.json").read_text())
    assert main(["evaluate", "--model", str(tmp_path / "fused"), "--data", str(test),
                 "--output", str(tmp_path / "eval")]) == 0  # fmt: skip
    evaluated = json.loads((tmp_path / "eval" / "report.json").read_text())
    for key in ("f1_macro", "pr_auc_macro", "ece"):
        assert report["metrics"][key] == pytest.approx(evaluated["metrics"][key], abs=1e-5), key
