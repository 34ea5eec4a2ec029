"""The encoder under ONNX Runtime: same embeddings as PyTorch in fp32, close ones in int8, and
models (short-text and hierarchical) whose logits follow the graph."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from transformers import AutoModel

from longtail.errors import LongtailError
from longtail.models import TextClassifier
from longtail.models import onnx_runtime as rt
from longtail.models.aggregators import AGGREGATORS
from longtail.models.hierarchical import HierarchicalClassifier
from longtail.text.batching import pad_batch


@pytest.fixture(scope="module")
def encoder(tiny_model_dir):
    return AutoModel.from_pretrained(tiny_model_dir).eval()


@pytest.fixture(scope="module")
def graphs(encoder, tmp_path_factory):
    """The mean-pooled encoder exported for both ONNX runtimes, with what each check found."""
    root = tmp_path_factory.mktemp("graphs")
    return {
        runtime: (root / f"{runtime}.onnx", rt.build_encoder_graph(encoder, "mean", runtime, root / f"{runtime}.onnx"))
        for runtime in ("onnx", "onnx-int8")
    }  # fmt: skip


def _batch(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of 3 to 30 tokens: a padded batch unlike the probe the export was checked on."""
    rng = np.random.default_rng(seed)
    rows = [rng.integers(5, 90, size=int(n)).tolist() for n in (3, 30, 17, 8)]
    return pad_batch(rows, 0)


def _pooled(encoder, pooling, ids, mask) -> np.ndarray:
    with torch.inference_mode():
        return rt.PooledEncoder(encoder, pooling)(ids, mask).numpy()


def test_an_unknown_runtime_is_one_line_naming_the_valid_ones():
    with pytest.raises(
        LongtailError, match=r"unknown runtime 'tensorrt'; valid: torch, onnx, onnx-int8"
    ):
        rt.check_runtime("tensorrt")


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_fp32_graph_gives_pytorchs_embeddings_for_any_padded_batch(encoder, tmp_path, pooling):
    path = tmp_path / "enc.onnx"
    checked = rt.build_encoder_graph(encoder, pooling, "onnx", path)
    assert checked["max_abs_diff"] <= rt.PARITY_ATOL and "min_cosine" not in checked
    ids, mask = _batch()
    got = rt.OnnxEncoder(path)(ids, mask)
    assert got.dtype == torch.float32 and tuple(got.shape) == (4, encoder.config.hidden_size)
    np.testing.assert_allclose(got.numpy(), _pooled(encoder, pooling, ids, mask), atol=1e-4)
    one = rt.OnnxEncoder(path)(ids[:1, :3], mask[:1, :3]).numpy()  # unpadded, a single row
    np.testing.assert_allclose(one, _pooled(encoder, pooling, ids[:1, :3], mask[:1, :3]), atol=1e-4)


def test_int8_graph_is_quantised_and_stays_close(encoder, graphs):
    path, checked = graphs["onnx-int8"]
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "DynamicQuantizeLinear" in ops and {"MatMulInteger", "DynamicQuantizeMatMul"} & ops
    fp32_ops = {node.op_type for node in onnx.load(str(graphs["onnx"][0])).graph.node}
    assert "DynamicQuantizeLinear" not in fp32_ops
    assert checked["min_cosine"] >= rt.INT8_MIN_COSINE
    ids, mask = _batch()
    got = rt.OnnxEncoder(path)(ids, mask).numpy()
    expected = _pooled(encoder, "mean", ids, mask)
    cosine = (
        (got * expected).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(expected, axis=1)
    )
    assert cosine.min() > 0.9
    assert np.abs(got - expected).max() > 1e-6  # int8 arithmetic: not the fp32 numbers


def test_a_graph_that_fails_its_check_leaves_no_file(encoder, tmp_path, monkeypatch):
    monkeypatch.setattr(rt, "check_parity", lambda *args, **kwargs: 1.0)
    with pytest.raises(LongtailError, match=r"differs from PyTorch by 1\.00e\+00.*--runtime torch"):
        rt.build_encoder_graph(encoder, "mean", "onnx", tmp_path / "enc.onnx")
    assert list(tmp_path.iterdir()) == []


def test_int8_that_moves_the_embeddings_too_far_is_refused(encoder, tmp_path, monkeypatch):
    monkeypatch.setattr(rt, "INT8_MIN_COSINE", 1.5)  # no graph can pass
    with pytest.raises(
        LongtailError, match=r"int8 quantisation moves .* use --runtime onnx or torch"
    ):
        rt.build_encoder_graph(encoder, "mean", "onnx-int8", tmp_path / "enc.onnx")
    assert list(tmp_path.iterdir()) == []


def test_torch_runtime_has_nothing_to_export(encoder, tmp_path):
    with pytest.raises(LongtailError, match="nothing to export"):
        rt.build_encoder_graph(encoder, "mean", "torch", tmp_path / "enc.onnx")


def test_a_short_text_model_reads_the_graph(encoder, graphs):
    torch.manual_seed(0)
    model = TextClassifier(encoder, 3, dropout=0.0).eval()
    ids, mask = _batch(2)
    with torch.inference_mode():
        expected = model(ids, mask).numpy()
        rt.use_encoder_graph(model, rt.OnnxEncoder(graphs["onnx"][0]))
        got = model(ids, mask).numpy()
        assert isinstance(model.embed, rt.OnnxEncoder)
        del model.embed  # the instance attribute goes: the method is back
        again = model(ids, mask).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)
    np.testing.assert_array_equal(again, expected)


def test_a_hierarchical_model_encodes_every_micro_batch_through_the_graph(encoder, graphs):
    torch.manual_seed(0)
    aggregator = AGGREGATORS.build("attention", hidden_size=encoder.config.hidden_size)
    model = HierarchicalClassifier(encoder, 2, aggregator, dropout=0.0, chunk_batch_size=2).eval()
    ids, mask = _batch(3)
    doc_index = torch.tensor([0, 0, 1, 1])
    with torch.inference_mode():
        expected = model(ids, mask, doc_index, num_docs=2).numpy()
        calls = []
        session = rt.OnnxEncoder(graphs["onnx"][0])
        rt.use_encoder_graph(model, lambda i, m: calls.append(len(i)) or session(i, m))
        got = model(ids, mask, doc_index, num_docs=2).numpy()
    assert calls == [2, 2]  # chunk_batch_size chunks per call
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_a_module_without_a_pooled_encoder_is_refused():
    with pytest.raises(LongtailError, match="Linear has no pooled encoder to replace"):
        rt.use_encoder_graph(torch.nn.Linear(2, 2), lambda i, m: i)
