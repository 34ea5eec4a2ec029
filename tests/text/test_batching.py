"""Tokenisation and padding: ids as the tokenizer call gives them, batches padded to their longest
row, prediction longest first."""

import pytest
import torch

from longtail.text.batching import (
    cpu_batch_tokens,
    pad_batch,
    token_budget_batches,
    token_ids_encoder,
    tokenize,
)


def test_pad_batch_pads_to_multiple_of_8_with_mask():
    ids, mask = pad_batch([[1, 2, 3], [4]], pad_id=0, multiple_of=8)
    assert ids.shape == (2, 8)
    assert mask.sum(dim=1).tolist() == [3, 1]
    assert ids[1, 1:].eq(0).all()


def test_the_default_width_is_the_longest_row_on_a_cpu_and_a_multiple_of_8_on_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pad_batch([[1, 2, 3], [4]], pad_id=0)[0].shape == (2, 3)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pad_batch([[1, 2, 3], [4]], pad_id=0)[0].shape == (2, 8)


def test_inference_batches_longest_first():
    batches = token_budget_batches([3, 10, 1, 7], 2, None)
    assert batches == [[1, 3], [0, 2]]


def test_a_token_budget_caps_rows_times_padded_width_and_keeps_every_row():
    lengths = [300, 40, 250, 10, 40, 1200]
    batches = token_budget_batches(lengths, batch_size=4, max_tokens=512, multiple_of=1)
    assert sorted(i for b in batches for i in b) == list(range(6)), "every row, once"
    assert batches[0] == [5], "a row above the budget still gets a batch of its own"
    for batch in batches[1:]:
        assert len(batch) * max(lengths[i] for i in batch) <= 512
    assert batches == [[5], [0], [2, 1], [4, 3]]
    assert cpu_batch_tokens(torch.device("cpu")) == 1024
    assert cpu_batch_tokens(torch.device("meta")) is None


TEXTS = [
    "Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005.",
    "Café crème, naïve façade — ÀÉÎÕÜ ß ﬁ ½ ①",
    "東京で会いましょう 🙂🎉 مرحبا بالعالم",
    "tab\tand\nnewline and \u200b zero width and \x07 bell",
    "",
    "   ",
    " ".join(["supercalifragilistic"] * 200),  # far past max_length: truncated
]


def _tokenizers(tiny_model_dir):
    from transformers import AutoTokenizer

    from longtail.models import load_tokenizer, resolve_model_name

    return [AutoTokenizer.from_pretrained(tiny_model_dir), load_tokenizer(resolve_model_name(None))]


@pytest.mark.parametrize("side", ["right", "left"])
def test_the_fast_encoder_gives_the_tokenizer_calls_ids(tiny_model_dir, side):
    for tokenizer in _tokenizers(tiny_model_dir):
        tokenizer.truncation_side = side
        for max_length in (8, 128):
            before = tokenizer.backend_tokenizer.truncation
            fast = token_ids_encoder(tokenizer, max_length)(TEXTS)
            # the caller's tokenizer is left as it was (its Rust object's truncation settings)
            assert tokenizer.backend_tokenizer.truncation == before
            expected = tokenizer(TEXTS, truncation=True, max_length=max_length)["input_ids"]
            assert fast == expected
            assert tokenize(tokenizer, TEXTS, max_length) == expected
        assert len(tokenizer(TEXTS[-1])["input_ids"]) > 128


def test_a_tokenizer_without_a_rust_backend_takes_the_usual_call():
    class Slow:
        is_fast = False

        def __call__(self, texts, truncation, max_length):
            return {"input_ids": [[len(t)][:max_length] for t in texts]}

    assert token_ids_encoder(Slow(), 4)(["ab", "abc"]) == [[2], [3]]
