"""The hierarchical classifier on the tiny BERT: packing, checkpointing, caching path, memory."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from torch import nn

from longtail.errors import LongtailError
from longtail.models.aggregators import AGGREGATORS
from longtail.models.hierarchical import (
    HierarchicalClassifier,
    pack_documents,
    spread_chunk_indices,
    spread_chunks,
)
from longtail.text.chunking import chunk_token_ids

CHUNK_LENGTH = 24
CLS, SEP, PAD = 2, 3, 0


@pytest.fixture(scope="module")
def base_encoder(tiny_model_dir: Path) -> nn.Module:
    from transformers import AutoModel

    return AutoModel.from_pretrained(tiny_model_dir)


@pytest.fixture
def encoder(base_encoder: nn.Module) -> nn.Module:
    return copy.deepcopy(base_encoder)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: one intra-op thread avoids oversubscribing a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _docs(chunk_counts: list[int], seed: int = 0) -> list[list[list[int]]]:
    """Random documents that cut into exactly the given numbers of chunks (stride 4)."""
    generator = torch.Generator().manual_seed(seed)
    content, stride = CHUNK_LENGTH - 2, 4
    docs = []
    for count in chunk_counts:
        n_tokens = content + (count - 1) * (content - stride) - 3 * (count > 1)
        ids = torch.randint(5, 60, (n_tokens,), generator=generator).tolist()
        chunks = chunk_token_ids(
            ids, chunk_length=CHUNK_LENGTH, stride=stride, cls_id=CLS, sep_id=SEP
        )
        assert len(chunks) == count
        docs.append(chunks)
    return docs


def _model(encoder: nn.Module, aggregator: str = "attention", **kwargs) -> HierarchicalClassifier:
    agg = AGGREGATORS.build(aggregator, hidden_size=encoder.config.hidden_size)
    return HierarchicalClassifier(encoder, 2, agg, **kwargs)


def _no_dropout(model: nn.Module) -> nn.Module:
    """Train mode (so checkpointing is on) without randomness, for exact comparisons."""
    model.train()
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    return model


def test_logits_shape_mixed_chunk_counts(encoder: nn.Module) -> None:
    model = _model(encoder).eval()
    ids, mask, doc_index = pack_documents(_docs([1, 3, 7]), PAD)
    assert ids.shape[0] == 11 and ids.shape[1] % 8 == 0
    assert doc_index.tolist() == [0] + [1] * 3 + [2] * 7
    logits, scores = model.forward_with_scores(ids, mask, doc_index, 3)
    assert logits.shape == (3, 2) and torch.isfinite(logits).all()
    assert scores.shape == (11,)


def test_pooler_frozen_and_gradients_reach_encoder_with_checkpointing(encoder: nn.Module) -> None:
    model = _model(encoder, checkpoint_chunks=True, chunk_batch_size=2).train()
    assert not any(p.requires_grad for p in encoder.pooler.parameters())
    ids, mask, doc_index = pack_documents(_docs([1, 3, 7]), PAD)
    model(ids, mask, doc_index, 3).sum().backward()
    layer = encoder.encoder.layer[0].attention.self.query.weight
    assert layer.grad is not None and layer.grad.abs().sum() > 0
    assert encoder.embeddings.word_embeddings.weight.grad.abs().sum() > 0


def _logits_and_grads(model: HierarchicalClassifier) -> tuple[torch.Tensor, torch.Tensor]:
    ids, mask, doc_index = pack_documents(_docs([1, 3, 7]), PAD)
    torch.manual_seed(1)
    logits = model(ids, mask, doc_index, 3)
    logits.sum().backward()
    grad = model.encoder.encoder.layer[0].attention.self.query.weight.grad.clone()
    return logits.detach(), grad


def _pair(encoder: nn.Module, first: dict, second: dict) -> tuple[nn.Module, nn.Module]:
    model_a = _model(copy.deepcopy(encoder), **first).train()
    model_b = _model(copy.deepcopy(encoder), **second).train()
    model_b.load_state_dict(model_a.state_dict())
    return model_a, model_b


def test_checkpointing_matches_plain_backward_even_with_dropout(encoder: nn.Module) -> None:
    """The recomputation replays the same dropout masks (RNG state is preserved)."""
    model_a, model_b = _pair(encoder, {"checkpoint_chunks": True}, {"checkpoint_chunks": False})
    logits_a, grad_a = _logits_and_grads(model_a)
    logits_b, grad_b = _logits_and_grads(model_b)
    torch.testing.assert_close(logits_a, logits_b, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grad_a, grad_b, atol=1e-5, rtol=1e-4)


def test_same_result_whatever_the_chunk_batch_size(encoder: nn.Module) -> None:
    model_a, model_b = _pair(encoder, {"chunk_batch_size": 2}, {"chunk_batch_size": 64})
    logits_a, grad_a = _logits_and_grads(_no_dropout(model_a))
    logits_b, grad_b = _logits_and_grads(_no_dropout(model_b))
    torch.testing.assert_close(logits_a, logits_b, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grad_a, grad_b, atol=1e-5, rtol=1e-4)


def test_from_chunk_embeddings_equals_forward(encoder: nn.Module) -> None:
    model = _model(encoder, aggregator="transformer").eval()
    ids, mask, doc_index = pack_documents(_docs([2, 1, 4]), PAD)
    with torch.no_grad():
        logits = model(ids, mask, doc_index, 3)
        # the cache stores each document separately: embed them one at a time
        cached = [model.embed_chunks(*pack_documents([doc], PAD)[:2]) for doc in _docs([2, 1, 4])]
        again = model.from_chunk_embeddings(torch.cat(cached), doc_index, 3)
    torch.testing.assert_close(again, logits, atol=1e-5, rtol=1e-5)


def test_extra_features_change_logits(encoder: nn.Module) -> None:
    model = _model(encoder, num_extra_features=1).eval()
    ids, mask, doc_index = pack_documents(_docs([1, 2]), PAD)
    with torch.no_grad():
        low = model(ids, mask, doc_index, 2, extra_features=torch.zeros(2, 1))
        high = model(ids, mask, doc_index, 2, extra_features=torch.ones(2, 1))
    assert not torch.allclose(low, high)
    with pytest.raises(LongtailError, match="extra_features"):
        model(ids, mask, doc_index, 2)


def test_pack_documents_rejects_empty_document() -> None:
    with pytest.raises(LongtailError, match="document 1 has no chunks"):
        pack_documents([[[2, 7, 3]], []], PAD)


def _saved_bytes(model: HierarchicalClassifier, chunk_count: int) -> int:
    """Bytes of the tensors autograd keeps for backward during one forward pass."""
    total = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    ids, mask, doc_index = pack_documents(_docs([chunk_count]), PAD)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        logits = model(ids, mask, doc_index, 1)
    logits.sum().backward()
    return total


def test_saved_activations_do_not_grow_with_document_length(encoder: nn.Module) -> None:
    """Only O(N_chunks × H) survives the forward pass with checkpointing, not encoder activations.

    The mean aggregator keeps the aggregator's own (also O(N_chunks × H)) share out of the count.
    """
    hidden = encoder.config.hidden_size
    model = _model(
        encoder, "mean", chunk_batch_size=4, checkpoint_chunks=True, activation_memory_mb=0
    ).train()
    short, long = _saved_bytes(model, 8), _saved_bytes(model, 64)
    assert long <= 1.2 * short + 64 * hidden * 4 * 4, (short, long)

    model.checkpoint_chunks = False  # the control: without checkpointing it grows ~linearly
    short_plain, long_plain = _saved_bytes(model, 8), _saved_bytes(model, 64)
    assert long_plain > 5 * short_plain, (short_plain, long_plain)
    assert long_plain > 1.2 * short_plain + 64 * hidden * 4 * 4
    assert long * 10 < long_plain


def _encoder_calls(model: HierarchicalClassifier) -> list[int]:
    """Chunks per encoder call, forward passes and recomputations alike (a forward hook)."""
    calls: list[int] = []
    model.encoder.register_forward_hook(lambda _m, _a, kwargs, _o: calls.append(
        kwargs["input_ids"].shape[0]), with_kwargs=True)  # fmt: skip
    return calls


def test_the_activation_budget_keeps_what_fits_and_recomputes_only_the_rest(
    encoder: nn.Module,
) -> None:
    """Budgeted to 9.5 chunks, a 20-chunk step keeps 2 micro-batches of 4 and recomputes 3."""
    model = _model(encoder, "mean", chunk_batch_size=4, activation_memory_mb=0).train()
    plain = _model(copy.deepcopy(encoder), "mean", chunk_batch_size=4, checkpoint_chunks=False)
    per_chunk = (_saved_bytes(plain.train(), 8) - _saved_bytes(plain, 4)) / 4
    model.activation_memory_mb = 9.5 * per_chunk / 2**20
    calls = _encoder_calls(model)
    _saved_bytes(model, 20)  # the first step also measures one chunk of the new width
    assert calls == [1] + [4] * 5 + [4] * 3, calls
    calls.clear()
    saved = _saved_bytes(model, 20)
    assert calls == [4] * 5 + [4] * 3, "2 micro-batches kept; 3 run twice"
    assert 8 * per_chunk <= saved, "the kept micro-batches hold their activations"
    assert saved <= 9.5 * per_chunk + 20 * encoder.config.hidden_size * 4 * 4
    model.activation_memory_mb = 10_000  # everything fits: nothing runs twice
    calls.clear()
    _saved_bytes(model, 20)
    assert calls == [4] * 5


def test_the_budget_moves_memory_and_speed_never_the_numbers(encoder: nn.Module) -> None:
    """Kept or recomputed, a chunk gives the same logits and gradients, dropout included."""
    first = _model(copy.deepcopy(encoder), chunk_batch_size=2)
    results = []
    for budget in (0, 0.3, 10_000):  # all recomputed; the first 2 chunks kept; all kept
        model = _model(copy.deepcopy(encoder), chunk_batch_size=2, activation_memory_mb=budget)
        model.load_state_dict(first.state_dict())
        results.append(_logits_and_grads(model.train()))
    for logits, grad in results[1:]:
        torch.testing.assert_close(logits, results[0][0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(grad, results[0][1], atol=1e-5, rtol=1e-4)


def test_a_negative_activation_budget_is_refused(encoder: nn.Module) -> None:
    with pytest.raises(LongtailError, match="activation_memory_mb must be >= 0"):
        _model(encoder, activation_memory_mb=-1)


@pytest.mark.parametrize(("count", "budget"), [(10, 4), (75, 8), (9, 2), (100, 64), (7, 6)])
def test_a_chunk_budget_spreads_evenly_over_the_whole_document(count: int, budget: int) -> None:
    import numpy as np

    kept = spread_chunk_indices(count, budget)
    assert len(kept) == budget and kept[0] == 0 and kept[-1] == count - 1
    assert kept == sorted(set(kept)), "distinct chunks, in document order"
    gaps = np.diff(kept)
    assert gaps.max() - gaps.min() <= 1, "even spacing, not the first N"
    reference = np.linspace(0, count - 1, budget)  # round(linspace), away from exact halves
    exact = np.abs(reference - np.floor(reference) - 0.5) > 1e-9
    assert (np.asarray(kept)[exact] == np.round(reference[exact])).all()
    assert spread_chunk_indices(count, budget) == kept  # deterministic


def test_a_budget_at_or_above_the_chunk_count_keeps_every_chunk() -> None:
    assert spread_chunk_indices(5, 5) == spread_chunk_indices(5, None) == [0, 1, 2, 3, 4]
    assert spread_chunk_indices(3, 64) == [0, 1, 2]
    assert spread_chunk_indices(4, 1) == [0]
    with pytest.raises(LongtailError, match="at least 1"):
        spread_chunk_indices(4, 0)
    chunks = [[CLS, i, SEP] for i in range(10)]
    assert spread_chunks(chunks, 4) == [chunks[0], chunks[3], chunks[6], chunks[9]]
