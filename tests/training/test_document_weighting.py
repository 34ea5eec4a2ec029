"""One loss term per document: a 40-chunk document weighs exactly as much as a 2-chunk one."""

from __future__ import annotations

import numpy as np
import torch
from transformers import AutoModel

from longtail.data.tokenized import TokenizedSplit
from longtail.losses import build_loss
from longtail.models.aggregators import AGGREGATORS
from longtail.models.batchers import DocumentBatcher
from longtail.models.hierarchical import HierarchicalClassifier


def test_long_and_short_documents_weigh_the_same(tiny_model_dir):
    encoder = AutoModel.from_pretrained(tiny_model_dir)
    model = HierarchicalClassifier(
        encoder, 2, AGGREGATORS.build("attention", hidden_size=32), dropout=0.0
    )
    model.eval()
    rng = np.random.default_rng(0)
    short = [rng.integers(5, 60, size=14).tolist() for _ in range(2)]
    long = [rng.integers(5, 60, size=14).tolist() for _ in range(40)]
    split = TokenizedSplit([short, long], np.array([1, 0]))
    batcher = DocumentBatcher(pad_id=0)
    loss_fn = build_loss("ce", task="binary", class_counts=np.array([5, 5]), num_docs=10)

    def loss_of(rows):
        logits = model(**batcher(split, rows, training=False))
        return loss_fn(logits, torch.as_tensor(split.y[rows]))

    together = loss_of([0, 1])
    alone = (loss_of([0]) + loss_of([1])) / 2
    assert torch.allclose(together, alone, atol=1e-6)
    # and the gradient reaching the head from each document is of the same order, not 20x apart
    model.zero_grad()
    loss_of([1]).backward()
    long_grad = model.head.weight.grad.norm().item()
    model.zero_grad()
    loss_of([0]).backward()
    short_grad = model.head.weight.grad.norm().item()
    assert 0.2 < long_grad / short_grad < 5


def test_max_chunks_samples_a_subset_in_training_and_keeps_all_at_inference():
    split = TokenizedSplit([[[2, i, 3] for i in range(10, 30)]], np.array([0]))
    batcher = DocumentBatcher(pad_id=0, max_chunks=4, seed=1)
    batcher.set_epoch(1)
    trained = batcher(split, [0], training=True)
    assert trained["input_ids"].shape[0] == 4
    kept = trained["input_ids"][:, 1].tolist()
    assert kept == sorted(kept), "sampled chunks stay in document order"
    assert batcher(split, [0], training=False)["input_ids"].shape[0] == 20
    again = DocumentBatcher(pad_id=0, max_chunks=4, seed=1)
    again.set_epoch(1)
    assert again(split, [0], training=True)["input_ids"].tolist() == trained["input_ids"].tolist()
