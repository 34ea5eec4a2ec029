"""Encoder graphs on disk: exported once per encoder, pooling and runtime, shared between the
copy training loaded and the copy a model directory holds, rebuilt when damaged."""

from __future__ import annotations

import shutil

import pytest
from transformers import AutoModel

from longtail.cache import onnx_graphs as graphs
from longtail.models import TextClassifier


@pytest.fixture(scope="module")
def encoder(tiny_model_dir):
    return AutoModel.from_pretrained(tiny_model_dir).eval()


def test_the_key_reads_weights_not_names(encoder, tiny_model_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    other = AutoModel.from_pretrained(copy).eval()  # same weights, another _name_or_path
    assert encoder.config._name_or_path != other.config._name_or_path
    key = graphs.graph_path(encoder, "mean", "onnx", cache_dir=tmp_path)
    assert graphs.graph_path(other, "mean", "onnx", cache_dir=tmp_path) == key
    assert key.parent == tmp_path / "onnx" and key.suffix == ".onnx"
    assert encoder.config._name_or_path == str(tiny_model_dir)  # the name is put back
    assert graphs.graph_path(encoder, "cls", "onnx", cache_dir=tmp_path) != key
    assert graphs.graph_path(encoder, "mean", "onnx-int8", cache_dir=tmp_path) != key


def test_exported_once_then_read(encoder, tmp_path):
    lines: list[str] = []
    first = graphs.encoder_session(encoder, "mean", "onnx", cache_dir=tmp_path, log=lines.append)
    assert any("exporting the encoder" in line for line in lines)
    assert any("graph checked (max |onnx - torch|" in line for line in lines)
    lines.clear()
    second = graphs.encoder_session(encoder, "mean", "onnx", cache_dir=tmp_path, log=lines.append)
    assert lines == [] and second.path == first.path
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir()) == [first.path.name]


def test_a_damaged_graph_is_exported_again(encoder, tmp_path):
    path = graphs.graph_path(encoder, "mean", "onnx", cache_dir=tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an onnx graph")
    lines: list[str] = []
    session = graphs.encoder_session(encoder, "mean", "onnx", cache_dir=tmp_path, log=lines.append)
    assert any("does not load" in line and "exporting it again" in line for line in lines), lines
    assert session.path == path and path.stat().st_size > 1000


def test_an_unwritable_root_exports_to_a_temporary_directory(encoder, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")  # a directory cannot be made under a file, whoever runs the test
    lines: list[str] = []
    session = graphs.encoder_session(
        encoder, "mean", "onnx", cache_dir=blocker / "cache", log=lines.append
    )
    assert any("is not writable: the ONNX graph goes to" in line for line in lines), lines
    assert session.path.is_file() and blocker not in session.path.parents


def test_only_int8_vectors_get_their_own_cache_key():
    assert graphs.runtime_encoder_key("abc", "torch") == "abc"
    assert graphs.runtime_encoder_key("abc", "onnx") == "abc"  # parity-checked: same vectors
    int8 = graphs.runtime_encoder_key("abc", "onnx-int8")
    assert int8 != "abc" and len(int8) == 64


def test_attach_runtime_torch_leaves_the_model_alone(encoder, tmp_path):
    model = TextClassifier(encoder, 2)
    graphs.attach_runtime(model, "torch", cache_dir=tmp_path)
    assert "embed" not in vars(model) and not (tmp_path / "onnx").exists()
    graphs.attach_runtime(model, "onnx", cache_dir=tmp_path, log=lambda line: None)
    assert vars(model)["embed"].path.parent == tmp_path / "onnx"
