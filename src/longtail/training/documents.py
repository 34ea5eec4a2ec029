"""Long documents in a run: the hierarchical model, and the frozen-encoder mode with its cache.

``end_to_end`` trains :class:`~longtail.models.hierarchical.HierarchicalClassifier` directly.
``frozen`` embeds every chunk once with the pretrained encoder — reusing the on-disk
:class:`~longtail.cache.EmbeddingCache` across runs, folds, seeds and strategies — and trains only
the aggregator and head on those embeddings, for many epochs in seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from longtail.config import ExperimentConfig
from longtail.models.aggregators import AGGREGATORS
from longtail.models.hierarchical import HierarchicalClassifier, pack_documents


def build_document_model(
    encoder: nn.Module, num_logits: int, config: ExperimentConfig, num_extra_features: int
) -> HierarchicalClassifier:
    aggregator = AGGREGATORS.build(
        config.long_documents.aggregator, hidden_size=encoder.config.hidden_size
    )
    return HierarchicalClassifier(
        encoder,
        num_logits,
        aggregator,
        pooling=config.model.pooling,
        dropout=config.model.dropout,
        num_extra_features=num_extra_features,
        chunk_batch_size=config.long_documents.chunk_batch_size,
        checkpoint_chunks=True,
    )


class FrozenEncoderModel(nn.Module):
    """Aggregator + head of a hierarchical model, fed with precomputed chunk embeddings."""

    def __init__(self, model: HierarchicalClassifier) -> None:
        super().__init__()
        self.model = model
        model.encoder.requires_grad_(False)
        model.encoder.eval()

    def train(self, mode: bool = True) -> FrozenEncoderModel:
        super().train(mode)
        self.model.encoder.eval()  # a frozen encoder never uses dropout
        return self

    def forward(
        self,
        chunk_embeddings: torch.Tensor,
        doc_index: torch.Tensor,
        num_docs: int,
        extra_features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.model.from_chunk_embeddings(
            chunk_embeddings, doc_index, num_docs, extra_features
        )


@torch.inference_mode()
def embed_documents(
    model: HierarchicalClassifier,
    docs: Sequence[Sequence[Sequence[int]]],
    texts: Sequence[str],
    *,
    cache: Any,
    pad_id: int,
    device: torch.device,
    docs_per_batch: int = 8,
    log: Callable[[str], None] = print,
) -> list[torch.Tensor]:
    """``(chunks, H)`` embeddings per document: from the cache, else from the encoder (then cached)."""
    model.eval()
    model.to(device)
    found = cache.get_many(texts) if cache is not None else [None] * len(texts)
    missing = [i for i, hit in enumerate(found) if hit is None]
    log(f"chunk embeddings: {len(texts) - len(missing)} of {len(texts)} documents from the cache")
    bar = tqdm(total=len(missing), desc="embed chunks", unit="doc", leave=False, disable=None)
    for start in range(0, len(missing), docs_per_batch):
        rows = missing[start : start + docs_per_batch]
        input_ids, mask, doc_index = pack_documents([docs[i] for i in rows], pad_id)
        embeddings = model.embed_chunks(input_ids.to(device), mask.to(device)).float().cpu()
        for position, row in enumerate(rows):
            found[row] = embeddings[doc_index == position].clone()
        if cache is not None:
            cache.put_many([texts[i] for i in rows], [found[i] for i in rows])
        bar.update(len(rows))
    bar.close()
    return list(found)
