"""ONNX export: the graph gives the same logits as ``Classifier.predict_logits``, for any batch."""

from __future__ import annotations

import json
import sys

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from longtail.data import LabelSpace
from longtail.errors import LongtailError
from longtail.models import TextClassifier, save_model_dir
from longtail.models.onnx_export import export_onnx, sidecar_paths
from longtail.predictor import Classifier

TEXTS = [
    "free",
    "see you at lunch tomorrow",
    "urgent claim your cash prize now text win to reply stop " * 6,  # truncated to max_length
    "ok",
    "hi what are you doing tonight my love",
    "bank fraud alert on your account",
    "thanks",
]


@pytest.fixture(scope="module")
def exported(tiny_model_dir, tmp_path_factory):
    """A 3-class model directory (temperature and thresholds set) and its export."""
    root = tmp_path_factory.mktemp("onnx")
    torch.manual_seed(0)
    model = TextClassifier(AutoModel.from_pretrained(tiny_model_dir), 3, dropout=0.0)
    meta = {
        "task": "multiclass",
        "labels": LabelSpace("multiclass", ["ham", "promo", "spam"]).to_dict(),
        "thresholds": [1.0, 1.5, 2.0],
        "temperature": 1.3,
        "max_length": 32,
    }
    save_model_dir(root / "run", model, AutoTokenizer.from_pretrained(tiny_model_dir), meta)
    return root / "run", export_onnx(root / "run", root / "out" / "model.onnx")


def _onnx_logits(session, tokenizer, texts, max_length):
    batch = tokenizer(
        texts, padding=True, truncation=True, max_length=max_length, return_tensors="np"
    )
    feeds = {name: batch[name].astype(np.int64) for name in ("input_ids", "attention_mask")}
    return session.run(["logits"], feeds)[0]


def test_logits_match_predict_logits_for_any_batch_size(exported):
    run_dir, path = exported
    classifier = Classifier.load(run_dir, device="cpu")
    classifier.max_batch_tokens = 48  # several small batches of different widths on our side
    expected = classifier.predict_logits(TEXTS)

    json_path, tok_dir = sidecar_paths(path)
    side = json.loads(json_path.read_text())
    tokenizer = AutoTokenizer.from_pretrained(tok_dir)  # the exported tokenizer, not longtail's
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    whole = _onnx_logits(session, tokenizer, TEXTS, side["max_length"])  # 7 rows, one padded batch
    np.testing.assert_allclose(whole, expected, atol=1e-4)
    one_by_one = np.concatenate(
        [_onnx_logits(session, tokenizer, [t], side["max_length"]) for t in TEXTS]
    )
    np.testing.assert_allclose(one_by_one, expected, atol=1e-4)


def test_sidecar_reproduces_probabilities_and_decisions(exported):
    run_dir, path = exported
    classifier = Classifier.load(run_dir, device="cpu")
    json_path, tok_dir = sidecar_paths(path)
    side = json.loads(json_path.read_text())
    assert side["task"] == "multiclass" and side["labels"]["names"] == ["ham", "promo", "spam"]
    assert side["thresholds"] == [1.0, 1.5, 2.0] and side["temperature"] == 1.3
    assert side["max_length"] == 32 and side["tokenizer"] == tok_dir.name

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    tokenizer = AutoTokenizer.from_pretrained(tok_dir)
    z = _onnx_logits(session, tokenizer, TEXTS, side["max_length"]) / side["temperature"]
    probs = np.exp(z - z.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)  # softmax, as the sidecar's "probabilities" says
    np.testing.assert_allclose(probs, classifier.predict_proba(TEXTS), atol=1e-5)
    labels = [side["labels"]["names"][i] for i in np.argmax(probs * side["thresholds"], axis=1)]
    assert labels == classifier.predict(TEXTS)


def test_graph_has_dynamic_axes_opset_17_and_no_leftovers(exported):
    _, path = exported
    graph = onnx.load(str(path))
    assert max(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")) >= 17
    dims = {
        value.name: [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
        for value in [*graph.graph.input, *graph.graph.output]
    }
    assert dims["input_ids"][0] == dims["attention_mask"][0] == dims["logits"][0]
    assert isinstance(dims["input_ids"][0], str) and isinstance(dims["input_ids"][1], str)
    assert dims["logits"][1] == 3
    assert sorted(p.name for p in path.parent.iterdir()) == ["model-tokenizer", "model.json", "model.onnx"]  # fmt: skip


@pytest.mark.slow  # the torch.export path takes 5-10 s even for the tiny model
def test_falls_back_to_the_dynamo_exporter(exported, tmp_path, monkeypatch):
    run_dir, _ = exported
    real_export = torch.onnx.export

    def legacy_gone(*args, dynamo=True, **kwargs):
        if not dynamo:
            raise RuntimeError("legacy exporter removed")
        return real_export(*args, dynamo=dynamo, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", legacy_gone)
    path = export_onnx(run_dir, tmp_path / "m.onnx")
    assert json.loads(sidecar_paths(path)[0].read_text())["exporter"] == "dynamo"
    classifier = Classifier.load(run_dir, device="cpu")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = _onnx_logits(session, classifier.tokenizer, TEXTS[:3], 32)
    np.testing.assert_allclose(got, classifier.predict_logits(TEXTS[:3]), atol=1e-4)


def test_clear_errors(exported, tmp_path, monkeypatch):
    run_dir, _ = exported
    with pytest.raises(LongtailError, match=r"ending in \.onnx"):
        export_onnx(run_dir, tmp_path / "model.bin")
    with pytest.raises(LongtailError, match="opset"):
        export_onnx(run_dir, tmp_path / "m.onnx", opset=13)
    with pytest.raises(LongtailError, match="does not exist"):
        export_onnx(tmp_path / "nowhere", tmp_path / "m.onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now fails
    with pytest.raises(LongtailError, match=r"pip install 'longtail\[onnx\]'"):
        export_onnx(run_dir, tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())


def test_int8_export_is_quantised_and_stays_close(exported, tmp_path):
    import longtail.models.onnx_export as onnx_export

    run_dir, _ = exported
    path = export_onnx(run_dir, tmp_path / "int8.onnx", quantize="int8")
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "DynamicQuantizeLinear" in ops
    side = json.loads(sidecar_paths(path)[0].read_text())
    assert side["quantization"].startswith("int8 dynamic")
    classifier = Classifier.load(run_dir, device="cpu")
    tokenizer = AutoTokenizer.from_pretrained(sidecar_paths(path)[1])
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = onnx_export._softmax(_onnx_logits(session, tokenizer, TEXTS, side["max_length"]))
    expected = onnx_export._softmax(classifier.predict_logits(TEXTS))
    assert np.abs(got - expected).max() < onnx_export.INT8_MAX_PROB_CHANGE


def test_int8_export_that_moves_too_far_is_refused(exported, tmp_path, monkeypatch):
    import longtail.models.onnx_export as onnx_export

    monkeypatch.setattr(onnx_export, "INT8_MAX_PROB_CHANGE", -1.0)
    with pytest.raises(LongtailError, match="int8 quantisation moves this model's probabilities"):
        export_onnx(exported[0], tmp_path / "int8.onnx", quantize="int8")
    assert not any(tmp_path.iterdir())
