"""Long documents in a run: the hierarchical model, and the frozen-encoder mode with its cache.

``end_to_end`` trains :class:`~longtail.models.hierarchical.HierarchicalClassifier` directly.
``frozen`` embeds every chunk once with the pretrained encoder — reusing the on-disk
:class:`~longtail.cache.EmbeddingCache` across runs, folds, seeds and strategies — and trains only
the aggregator and head on those embeddings, for many epochs in seconds.
"""

from __future__ import annotations

import contextlib
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
        checkpoint_chunks=config.long_documents.checkpoint,
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
        return_embedding: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        return self.model.from_chunk_embeddings(
            chunk_embeddings, doc_index, num_docs, extra_features, return_embedding
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
    writing = cache.writing() if cache is not None and missing else contextlib.nullcontext()
    with writing:  # `longtail cache clear` is refused meanwhile
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


def encode_documents(tokenizer: Any, texts: Sequence[str], settings: dict[str, Any]) -> list:
    """Chunk texts exactly as at training time (``settings`` = ``longtail.json["long_documents"]``)."""
    from longtail.text.chunking import tokenize_documents

    return tokenize_documents(
        tokenizer,
        list(texts),
        chunk_length=settings["chunk_length"],
        stride=settings["stride"],
        max_chars=settings["max_chars"],
        on_too_long=settings["on_too_long"],
    )


DOCS_PER_BATCH = 4


@torch.inference_mode()
def explain_documents(
    model: HierarchicalClassifier,
    tokenizer: Any,
    docs: Sequence[Sequence[Sequence[int]]],
    *,
    extra: Any = None,
    top_k: int = 3,
    device: torch.device,
) -> list[list[dict[str, Any]]]:
    """The ``top_k`` chunks per document by aggregator attention, with their text.

    Only aggregators that weigh chunks (``attention``, ``transformer``) can explain; ``mean`` and
    ``max`` give every chunk the same say, so there is nothing to rank.
    """
    from longtail.errors import LongtailError

    model.eval()
    explanations: list[list[dict[str, Any]]] = []
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for start in range(0, len(docs), DOCS_PER_BATCH):
        batch = list(docs[start : start + DOCS_PER_BATCH])
        input_ids, mask, doc_index = pack_documents(batch, pad_id)
        features = (
            None
            if extra is None
            else torch.as_tensor(extra[start : start + len(batch)], dtype=torch.float32)
        )
        _, scores = model.forward_with_scores(
            input_ids.to(device), mask.to(device), doc_index.to(device), len(batch),
            None if features is None else features.to(device),
        )  # fmt: skip
        if scores is None:
            raise LongtailError(
                "--explain needs an aggregator that weighs chunks (attention or transformer); "
                "this model was trained with one that does not"
            )
        scores = scores.float().cpu()
        for position, chunks in enumerate(batch):
            mine = scores[doc_index == position]
            order = torch.argsort(mine, descending=True)[:top_k].tolist()
            explanations.append(
                [
                    {
                        "chunk": int(i),
                        "score": round(float(mine[i]), 6),
                        "text": tokenizer.decode(chunks[i], skip_special_tokens=True),
                    }
                    for i in order
                ]
            )
    return explanations
