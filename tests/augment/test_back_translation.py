"""Back-translation plumbing with a tiny random Marian model loaded through the Auto* classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from longtail.augment import AugmentCache, augment_minority
from longtail.augment.back_translation import BackTranslationAugmenter, looks_like_path
from longtail.errors import LongtailError

WORDS = "free win prize cash call now claim text reply hi ok see you later home love the a and to".split()


@pytest.fixture(scope="module")
def tiny_marian(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import MarianConfig, MarianMTModel, PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{w: i + 3 for i, w in enumerate(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", 1)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    config = MarianConfig(
        vocab_size=len(vocab),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    directory = tmp_path_factory.mktemp("tiny-marian")
    torch.manual_seed(0)
    MarianMTModel(config).save_pretrained(directory)
    fast.save_pretrained(directory)
    return directory


def test_shapes_batching_seed_and_cache(tiny_marian, tmp_path):
    bt = BackTranslationAugmenter(
        str(tiny_marian), str(tiny_marian), num_beams=2, max_new_tokens=6, batch_size=2
    )
    texts = ["win cash now", "hi see you later", "call now", "claim the prize"]
    out = bt.augment(texts, 3, seed=0)
    assert len(out) == 4 and all(len(x) == 3 and all(isinstance(t, str) for t in x) for x in out)
    assert bt.augment(texts, 3, seed=0) == out  # seeded
    bt.batch_size = 4  # one batch instead of two: same shapes
    assert [len(x) for x in bt.augment(texts, 3, seed=1)] == [3, 3, 3, 3]
    beam = BackTranslationAugmenter(
        str(tiny_marian), str(tiny_marian), sample=False, max_new_tokens=4
    )
    assert [len(x) for x in beam.augment(texts[:2], 2, seed=0)] == [2, 2]
    y = np.array([0] * 6 + [1, 1])
    rows = [f"hi ok see you later {w}" for w in WORDS[:6]] + texts[:2]
    with AugmentCache(tmp_path) as cache:
        first = augment_minority(
            rows, y, "binary", augmenter=bt, target_ratio=0.5, cache=cache, min_words=0
        )
        second = augment_minority(
            rows, y, "binary", augmenter=bt, target_ratio=0.5, cache=cache, min_words=0
        )
    assert first.stats["classes"][1]["requested"] >= 1
    assert second.texts == first.texts and second.stats["cache"]["misses"] == 0


def test_model_errors(tmp_path):
    with pytest.raises(LongtailError, match="needs forward_model="):
        BackTranslationAugmenter(backward_model="x/y")
    with pytest.raises(LongtailError, match="backward_model .*no such model directory"):
        BackTranslationAugmenter(str(tmp_path), str(tmp_path / "missing"))
    assert (
        looks_like_path("./m")
        and looks_like_path("/a/b")
        and not looks_like_path("Helsinki-NLP/opus-mt-en-de")
    )
    broken = BackTranslationAugmenter(str(tmp_path), str(tmp_path))  # exists but holds no model
    with pytest.raises(LongtailError, match="cannot load translation model"):
        broken.augment(["win cash now"], 1, seed=0)


def test_pickled_translation_weights_are_refused(tiny_marian, tmp_path):
    """A seq2seq directory with only pytorch_model.bin is never unpickled."""
    import shutil

    import torch
    from safetensors.torch import load_file

    from longtail.augment.back_translation import load_seq2seq

    pickled = tmp_path / "pickled"  # as an old hub repository: the same model as a pickle
    shutil.copytree(tiny_marian, pickled)
    weights = load_file(str(pickled / "model.safetensors"))
    (pickled / "model.safetensors").unlink()
    torch.save(weights, pickled / "pytorch_model.bin")
    assert (pickled / "pytorch_model.bin").exists() and not (pickled / "model.safetensors").exists()
    with pytest.raises(LongtailError, match="cannot load translation model"):
        load_seq2seq(str(pickled))
    load_seq2seq(str(tiny_marian))  # the safetensors one loads
