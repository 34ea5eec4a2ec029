"""Contract tests run over every registered aggregator (packed batches of chunk embeddings)."""

from __future__ import annotations

import pytest
import torch

from longtail.errors import LongtailError
from longtail.models.aggregators import AGGREGATORS, positions_in_doc, segment_softmax

H = 16
COUNTS = [1, 3, 7, 2]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: one intra-op thread avoids oversubscribing a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _packed(counts: list[int], seed: int = 0) -> tuple[list[torch.Tensor], torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    docs = [torch.randn(n, H, generator=generator) for n in counts]
    return docs, torch.cat(docs)


def _doc_index(counts: list[int]) -> torch.Tensor:
    return torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))


def _build(name: str) -> torch.nn.Module:
    aggregator = AGGREGATORS.build(name, hidden_size=H)
    return aggregator.eval()


@pytest.fixture(params=AGGREGATORS.names())
def name(request: pytest.FixtureRequest) -> str:
    return request.param


def test_registered_names() -> None:
    assert {"mean", "max", "attention", "transformer"} <= set(AGGREGATORS.names())
    with pytest.raises(LongtailError, match="valid names"):
        AGGREGATORS.build("median", hidden_size=H)


def test_shapes_and_output_dim(name: str) -> None:
    aggregator = _build(name)
    _, x = _packed(COUNTS)
    docs, scores = aggregator(x, _doc_index(COUNTS), len(COUNTS))
    assert docs.shape == (len(COUNTS), aggregator.output_dim)
    assert torch.isfinite(docs).all()
    if scores is not None:
        assert scores.shape == (sum(COUNTS),)


def test_permuting_documents_permutes_outputs(name: str) -> None:
    aggregator = _build(name)
    docs, x = _packed(COUNTS)
    out, scores = aggregator(x, _doc_index(COUNTS), len(COUNTS))
    perm = [2, 0, 3, 1]
    permuted_counts = [COUNTS[i] for i in perm]
    out_p, scores_p = aggregator(
        torch.cat([docs[i] for i in perm]), _doc_index(permuted_counts), len(COUNTS)
    )
    torch.testing.assert_close(out_p, out[perm], atol=1e-5, rtol=1e-5)
    if scores is not None:
        per_doc = torch.split(scores, COUNTS)
        torch.testing.assert_close(
            scores_p, torch.cat([per_doc[i] for i in perm]), atol=1e-5, rtol=1e-5
        )


def test_document_output_independent_of_batch(name: str) -> None:
    aggregator = _build(name)
    docs, x = _packed(COUNTS)
    batched, scores = aggregator(x, _doc_index(COUNTS), len(COUNTS))
    for i, doc in enumerate(docs):
        alone, alone_scores = aggregator(doc, torch.zeros(len(doc), dtype=torch.long), 1)
        torch.testing.assert_close(alone[0], batched[i], atol=1e-5, rtol=1e-5)
        if scores is not None:
            torch.testing.assert_close(
                alone_scores, torch.split(scores, COUNTS)[i], atol=1e-5, rtol=1e-5
            )


def test_interleaved_packing_equals_contiguous(name: str) -> None:
    """doc_index need not be sorted: documents may interleave if each keeps its chunk order."""
    aggregator = _build(name)
    _, x = _packed(COUNTS)
    index = _doc_index(COUNTS)
    out, _ = aggregator(x, index, len(COUNTS))
    mixed_index = index[torch.randperm(len(index))]
    queues = {d: (index == d).nonzero().flatten().tolist() for d in range(len(COUNTS))}
    rows = [queues[int(d)].pop(0) for d in mixed_index]
    out_mixed, _ = aggregator(x[rows], mixed_index, len(COUNTS))
    torch.testing.assert_close(out_mixed, out, atol=1e-5, rtol=1e-5)


def test_scores_sum_to_one_per_document(name: str) -> None:
    aggregator = _build(name)
    _, x = _packed(COUNTS)
    index = _doc_index(COUNTS)
    _, scores = aggregator(x, index, len(COUNTS))
    if name in ("mean", "max", "mean_max"):  # no weights, no scores
        assert scores is None
        return
    assert (scores >= 0).all()
    sums = torch.zeros(len(COUNTS)).index_add(0, index, scores)
    torch.testing.assert_close(sums, torch.ones(len(COUNTS)))


def test_gradient_flows(name: str) -> None:
    aggregator = AGGREGATORS.build(name, hidden_size=H).train()
    _, x = _packed(COUNTS)
    x.requires_grad_(True)
    docs, _ = aggregator(x, _doc_index(COUNTS), len(COUNTS))
    docs.pow(2).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for param in aggregator.parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all()


def test_mean_and_max_match_reference() -> None:
    docs, x = _packed(COUNTS)
    index = _doc_index(COUNTS)
    mean, _ = _build("mean")(x, index, len(COUNTS))
    top, _ = _build("max")(x, index, len(COUNTS))
    torch.testing.assert_close(mean, torch.stack([d.mean(0) for d in docs]))
    torch.testing.assert_close(top, torch.stack([d.max(0).values for d in docs]))
    both, _ = _build("mean_max")(x, index, len(COUNTS))
    assert _build("mean_max").output_dim == 2 * H
    torch.testing.assert_close(both, torch.cat([mean, top], dim=1))
    assert not any(True for _ in _build("mean_max").parameters())


def test_segment_helpers() -> None:
    index = torch.tensor([1, 0, 1, 1, 0])
    assert positions_in_doc(index, 2).tolist() == [0, 0, 1, 2, 1]
    scores = torch.tensor([1.0, 2.0, 3.0, 0.0, 5.0])
    expected = torch.cat([torch.softmax(scores[[1, 4]], 0), torch.softmax(scores[[0, 2, 3]], 0)])
    torch.testing.assert_close(segment_softmax(scores, index, 2)[[1, 4, 0, 2, 3]], expected)


def test_transformer_longer_than_position_table() -> None:
    """Documents beyond max_chunks_positions are rescaled onto the table, not rejected."""
    aggregator = AGGREGATORS.build(
        {"name": "transformer", "max_chunks_positions": 4, "num_heads": 2}, hidden_size=H
    ).eval()
    _, x = _packed([9, 3])
    docs, scores = aggregator(x, _doc_index([9, 3]), 2)
    assert docs.shape == (2, H) and torch.isfinite(docs).all()
    assert torch.isfinite(scores).all()


def test_transformer_heads_must_divide_hidden_size() -> None:
    with pytest.raises(LongtailError, match="must divide"):
        AGGREGATORS.build({"name": "transformer", "num_heads": 3}, hidden_size=H)
