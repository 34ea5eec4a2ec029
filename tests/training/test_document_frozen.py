"""Frozen long documents: the chunk budget, the cache, progress lines and head-only checkpoints."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import AutoModel, AutoTokenizer

import longtail.models.documents as documents
from longtail.cache import EmbeddingCache, document_chunking_key
from longtail.errors import LongtailError
from longtail.models.aggregators import AGGREGATORS
from longtail.models.documents import (
    EncodingProgress,
    FrozenEncoderModel,
    document_chunks,
    embed_documents,
    encode_documents,
)
from longtail.models.hierarchical import HierarchicalClassifier, pack_documents
from longtail.text.chunking import ChunkSettings, tokenize_documents

SETTINGS = ChunkSettings(16, 4, 100_000, "error")
BUDGET_3 = ChunkSettings(16, 4, 100_000, "error", max_chunks_encoded=3)
WORDS = "free win prize cash call now claim text hi ok see you later home love lunch".split()
#: 3 to 14 chunks of 16 tokens each
TEXTS = [" ".join(WORDS[(i + j) % len(WORDS)] for j in range(20 + 13 * i)) for i in range(1, 9)]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return AutoModel.from_pretrained(tiny_model_dir), AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture
def model(tiny):
    encoder = copy.deepcopy(tiny[0])
    aggregator = AGGREGATORS.build("attention", hidden_size=32)
    return HierarchicalClassifier(encoder, 2, aggregator, dropout=0.0, chunk_batch_size=4).eval()


def _docs(tokenizer):
    return tokenize_documents(tokenizer, TEXTS, chunk_length=16, stride=4)


def _cache(root, budget):
    key = document_chunking_key(
        ChunkSettings(16, 4, 100_000, "error", max_chunks_encoded=budget), pooling="mean"
    )
    return EmbeddingCache(root, encoder_key="e" * 64, chunking_key=key, hidden_size=32)


def _embed(model, docs, cache, budget, logs):
    return embed_documents(
        model, docs, TEXTS, cache=cache, pad_id=0, device=torch.device("cpu"), max_chunks=budget,
        docs_per_batch=3, log=logs.append,
    )  # fmt: skip


def test_the_frozen_module_holds_the_aggregator_and_head_only(model):
    frozen = FrozenEncoderModel(model)
    names = set(frozen.state_dict())
    assert names and not any("encoder" in name for name in names)  # checkpoints skip the encoder
    assert {name.split(".")[0] for name in names} == {"aggregator", "head"}
    assert {n for n, p in frozen.named_parameters() if p.requires_grad} == names
    assert not any(p.requires_grad for p in model.encoder.parameters())
    chunks = torch.randn(7, 32)
    doc_index = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    with torch.no_grad():
        torch.testing.assert_close(
            frozen(chunks, doc_index, 2), model.from_chunk_embeddings(chunks, doc_index, 2)
        )
        frozen.head.weight.add_(1.0)  # training the frozen module trains the model's own head
    assert torch.equal(model.head.weight, frozen.head.weight)
    frozen.train()
    assert frozen.training and not model.encoder.training


def test_a_budget_encodes_evenly_spread_chunks_and_a_second_run_reads_the_cache(
    model, tiny, tmp_path
):
    docs = _docs(tiny[1])
    assert min(len(d) for d in docs) < 4 < max(len(d) for d in docs)
    logs: list[str] = []
    vectors = _embed(model, docs, _cache(tmp_path, 4), 4, logs)
    assert [len(v) for v in vectors] == [min(4, len(d)) for d in docs]
    longest = max(range(len(docs)), key=lambda i: len(docs[i]))
    with torch.no_grad():  # the first, the last and two chunks between, not the first four
        n = len(docs[longest])
        picked = [docs[longest][i] for i in (0, round((n - 1) / 3), round(2 * (n - 1) / 3), n - 1)]
        expected = model.embed_chunks(*pack_documents([picked], 0)[:2])
    torch.testing.assert_close(vectors[longest], expected, atol=1e-5, rtol=1e-4)
    total = sum(min(4, len(d)) for d in docs)
    assert logs == [
        f"chunk embeddings: 0 of {len(TEXTS)} documents from the cache (0 chunks); {total} chunks "
        f"of {len(TEXTS)} documents to encode, at most 4 per document, spread evenly"
    ]  # a run that ends within the first interval logs no progress lines

    def no_encoding(*args, **kwargs):
        raise AssertionError("everything should come from the cache")

    model.embed_chunks = no_encoding
    logs.clear()
    again = _embed(model, docs, _cache(tmp_path, 4), 4, logs)
    assert logs == [
        f"chunk embeddings: {len(TEXTS)} of {len(TEXTS)} documents from the cache ({total} chunks)"
    ]
    for first, second in zip(vectors, again, strict=True):
        torch.testing.assert_close(first, second)
    with pytest.raises(AssertionError, match="from the cache"):  # another budget: another key
        _embed(model, docs, _cache(tmp_path, 5), 5, [])


def test_progress_lines_give_totals_rate_and_eta(model, tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(documents, "PROGRESS_SECONDS", 0.0)
    monkeypatch.setattr(documents, "ESTIMATE_SECONDS", 0.0)
    logs: list[str] = []
    _embed(model, _docs(tiny[1]), None, None, logs)
    total = sum(len(d) for d in _docs(tiny[1]))
    assert f"{total} chunks of {len(TEXTS)} documents to encode" in logs[0]
    assert logs[1].startswith("chunk embeddings: about ") and f"for {total} chunks at " in logs[1]
    progress = [line for line in logs if f" / {total} chunks (" in line]
    assert progress and all("chunks/s, ETA " in line for line in progress)
    assert logs[-1].startswith(f"chunk embeddings: {total} chunks encoded in ")


def test_progress_every_interval_or_tenth_and_quiet_at_first():
    now = [0.0]
    logs: list[str] = []
    progress = EncodingProgress(100, logs.append, clock=lambda: now[0])
    for _ in range(10):  # 10 chunks every 5 s: 2 chunks/s
        now[0] += 5.0
        progress.update(10)
    progress.finish()
    assert logs == [
        "chunk embeddings: about 50 s for 100 chunks at 2.0 chunks/s (measured on the first 10)",
        # nothing more until the first 30 s have passed, then every further tenth
        "chunk embeddings: 60 / 100 chunks (60%), 2.0 chunks/s, ETA 20 s",
        "chunk embeddings: 70 / 100 chunks (70%), 2.0 chunks/s, ETA 15 s",
        "chunk embeddings: 80 / 100 chunks (80%), 2.0 chunks/s, ETA 10 s",
        "chunk embeddings: 90 / 100 chunks (90%), 2.0 chunks/s, ETA 5 s",
        "chunk embeddings: 100 chunks encoded in 50 s (2.0 chunks/s)",
    ]
    slow, logs[:] = EncodingProgress(100_000, logs.append, clock=lambda: now[0]), []
    now[0] += 3600.0  # a slow start: lines every 30 s, however little was done
    slow.update(1)
    now[0] += 31.0
    slow.update(1)
    now[0] += 10.0
    slow.update(1)
    assert len(logs) == 2 and logs[0].startswith("chunk embeddings: about "), logs
    assert "at 0.00028 chunks/s (measured on the first 1)" in logs[0]
    assert logs[1].startswith("chunk embeddings: 2 / 100,000 chunks (0%), 0.00055 chunks/s, ETA ")


def test_prediction_keeps_the_chunks_training_encoded(tiny):
    tokenizer = tiny[1]
    every = encode_documents(tokenizer, TEXTS, SETTINGS)
    assert every == _docs(tokenizer)  # no budget recorded: every chunk, as before
    kept, positions = document_chunks(tokenizer, TEXTS, BUDGET_3)
    for chunks, keep, whole in zip(kept, positions, every, strict=True):
        assert keep[0] == 0 and keep[-1] == len(whole) - 1 and len(keep) == min(3, len(whole))
        assert chunks == [whole[i] for i in keep]
    assert encode_documents(tokenizer, TEXTS, BUDGET_3) == kept
    with pytest.raises(LongtailError, match="max_chunks_encoded"):  # a hand-edited longtail.json
        ChunkSettings.from_json(SETTINGS.to_json() | {"max_chunks_encoded": "3"})


def test_explanations_name_chunks_by_their_place_in_the_whole_document(model, tiny):
    from longtail.models.documents import explain_documents

    tokenizer = tiny[1]
    kept, positions = document_chunks(tokenizer, TEXTS, BUDGET_3)
    explained = explain_documents(
        model, tokenizer, kept, top_k=3, device=torch.device("cpu"), positions=positions
    )
    for chunks, keep, explanation in zip(kept, positions, explained, strict=True):
        assert sorted(e["chunk"] for e in explanation) == keep
        for entry in explanation:
            chunk = chunks[keep.index(entry["chunk"])]
            assert entry["text"] == tokenizer.decode(chunk, skip_special_tokens=True)


@pytest.mark.parametrize("name", ["mean", "max", "mean_max"])
def test_a_weight_free_aggregator_explains_by_exact_shares_of_the_top_logit(tiny, name):
    """Over mean / max pooling the head is linear, so the top logit splits exactly into one
    share per chunk plus the bias: the explanation ranks chunks by that share."""
    from longtail.models.documents import explain_documents

    encoder, tokenizer = copy.deepcopy(tiny[0]), tiny[1]
    aggregator = AGGREGATORS.build(name, hidden_size=32)
    model = HierarchicalClassifier(encoder, 3, aggregator, dropout=0.0, chunk_batch_size=4).eval()
    docs = _docs(tokenizer)
    explained = explain_documents(model, tokenizer, docs, top_k=100, device=torch.device("cpu"))
    with torch.no_grad():
        for chunks, explanation in zip(docs, explained, strict=True):
            ids, mask, index = pack_documents([chunks], 0)
            logits = model(ids, mask, index, 1)[0]
            top = int(logits.argmax())
            shares = sum(entry["score"] for entry in explanation)
            assert len(explanation) == len(chunks)  # every chunk, ranked
            assert shares + float(model.head.bias[top]) == pytest.approx(
                float(logits[top]), abs=1e-4
            )
            ranked = [entry["score"] for entry in explanation]
            assert ranked == sorted(ranked, reverse=True)
