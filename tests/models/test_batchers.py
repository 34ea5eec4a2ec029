"""Batchers: the chunk subsets of long documents can be resumed inside an epoch."""

from __future__ import annotations

import torch

from longtail.data.tokenized import TokenizedSplit
from longtail.models.batchers import DocumentBatcher, EmbeddingBatcher
from longtail.training.progress import capture_random_state, restore_random_state


def _documents(count: int = 6, chunks: int = 9) -> TokenizedSplit:
    return TokenizedSplit([[[d, c, 1] for c in range(chunks)] for d in range(count)], None)


def test_a_restored_batcher_draws_the_chunk_subsets_the_uninterrupted_one_draws():
    split, rows = _documents(), [[0, 1], [2, 3], [4, 5]]
    batcher = DocumentBatcher(0, max_chunks=3, seed=5)
    batcher.set_epoch(2)
    batcher(split, rows[0], training=True)
    saved = capture_random_state(batcher)
    rest = [batcher(split, r, training=True)["input_ids"] for r in rows[1:]]

    again = DocumentBatcher(0, max_chunks=3, seed=5)
    again.set_epoch(2)  # a resumed epoch starts here, then restores the saved draws
    torch.randperm(9)  # and whatever the global generator did meanwhile does not matter
    restore_random_state(saved, again)
    resumed = [again(split, r, training=True)["input_ids"] for r in rows[1:]]
    assert all(torch.equal(a, b) for a, b in zip(rest, resumed, strict=True))

    fresh = DocumentBatcher(0, max_chunks=3, seed=5)
    fresh.set_epoch(2)  # without the saved state it would redraw epoch 2's first subsets
    redrawn = fresh(split, rows[1], training=True)["input_ids"]
    assert not torch.equal(redrawn, rest[0])


def test_embedding_batchers_save_their_draws_too():
    split = TokenizedSplit([torch.randn(9, 4) for _ in range(4)], None)
    batcher = EmbeddingBatcher(max_chunks=2, seed=1)
    batcher.set_epoch(1)
    saved = capture_random_state(batcher)
    first = batcher(split, [0, 1], training=True)["chunk_embeddings"]
    restore_random_state(saved, batcher)
    assert torch.equal(batcher(split, [0, 1], training=True)["chunk_embeddings"], first)
