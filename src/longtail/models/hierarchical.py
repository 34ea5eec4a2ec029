"""The hierarchical document classifier: encoder over chunks → aggregator → head.

A 37k-token screenplay is cut into ~75 chunks of 512 tokens (:mod:`longtail.text.chunking`);
the encoder embeds each chunk, an aggregator (:mod:`longtail.models.aggregators`) turns the chunk
embeddings into one document embedding, and a linear head gives the logits (Pappagari et al. 2019,
"Hierarchical Transformers for Long Document Classification", arXiv 1910.10781).

Memory: the encoder runs over micro-batches of ``chunk_batch_size`` chunks. While training, the
first micro-batches of a step keep their activations for the backward pass as long as those fit
in ``activation_memory_mb`` (measured, :mod:`longtail.models.saved_activations`; default 0: none
do); every other micro-batch runs under activation checkpointing (Chen et al. 2016, "Training
Deep Nets with Sublinear Memory Cost", arXiv 1604.06174): only its pooled ``(chunks, H)`` output
is kept, and its activations are recomputed one micro-batch at a time in the backward pass. Peak
memory is then at most the budget plus one micro-batch of encoder activations plus
``O(N_chunks × H)``, whatever the document length, and only the chunks beyond the budget pay the
second forward pass. The recomputation replays the same dropout masks, so where the line falls
changes the speed and the memory, never the numbers.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from longtail.errors import LongtailError
from longtail.models.classifier import init_bias_from_priors, pool_tokens
from longtail.models.saved_activations import SavedActivations
from longtail.text.batching import pad_batch

POOLINGS = ("mean", "cls")


def spread_chunk_indices(count: int, max_chunks: int | None) -> list[int]:
    """Which of a document's ``count`` chunks to keep: at most ``max_chunks``, evenly spread.

    ``round(linspace(0, count - 1, max_chunks))`` in exact integer arithmetic (halves round up),
    so the first and last chunk are always kept and the choice is the same on every machine. A
    budget ``None`` or at least ``count`` keeps every chunk; a budget of 1 keeps the first.
    """
    if max_chunks is None or count <= max_chunks:
        return list(range(count))
    if max_chunks < 1:
        raise LongtailError(f"max_chunks must be at least 1 (got {max_chunks})")
    if max_chunks == 1:
        return [0]
    steps = max_chunks - 1
    return [(2 * i * (count - 1) + steps) // (2 * steps) for i in range(max_chunks)]


def spread_chunks(chunks: Sequence[Sequence[int]], max_chunks: int | None) -> list[Sequence[int]]:
    """At most ``max_chunks`` of a document's chunks, spread evenly across it
    (:func:`spread_chunk_indices`), in document order."""
    return [chunks[i] for i in spread_chunk_indices(len(chunks), max_chunks)]


def pack_documents(
    docs_chunks: Sequence[Sequence[Sequence[int]]], pad_id: int, multiple_of: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack the chunks of several documents into one padded batch.

    Args:
        docs_chunks: ``docs_chunks[doc][chunk]`` → token ids (from ``tokenize_documents``).
        pad_id: the tokenizer's pad id.
        multiple_of: pad the width to a multiple of this (default: 8 on CUDA, whose tensor
            cores like multiples of 8; the longest chunk exactly elsewhere).

    Returns:
        ``input_ids`` and ``attention_mask`` ``(N_chunks, L)``, padded to the longest chunk of the
        batch, and ``doc_index`` ``(N_chunks,)`` giving each chunk's document.
    """
    if not docs_chunks:
        raise LongtailError("pack_documents needs at least one document")
    for i, chunks in enumerate(docs_chunks):
        if not chunks:
            raise LongtailError(f"document {i} has no chunks; it tokenised to zero tokens")
    flat = [chunk for chunks in docs_chunks for chunk in chunks]
    input_ids, attention_mask = pad_batch(flat, pad_id, multiple_of=multiple_of)
    doc_index = torch.repeat_interleave(
        torch.arange(len(docs_chunks)), torch.tensor([len(c) for c in docs_chunks])
    )
    return input_ids, attention_mask, doc_index


class HierarchicalClassifier(nn.Module):
    """Encoder over chunks → aggregator over each document's chunks → dropout → linear head.

    Args:
        encoder: a Hugging Face ``AutoModel``.
        num_logits: 2 for binary, C for multiclass and multilabel.
        aggregator: a module from :data:`~longtail.models.aggregators.AGGREGATORS`.
        pooling: ``"mean"`` or ``"cls"`` pooling of each chunk's tokens.
        dropout: dropout before the head.
        num_extra_features: document-level features concatenated to the document embedding
            before the head (e.g. a nomination probability fed into an award-win model).
        chunk_batch_size: chunks per encoder micro-batch.
        checkpoint_chunks: bound training memory by recomputing encoder activations in the
            backward pass beyond ``activation_memory_mb`` (``False``: keep them all).
        activation_memory_mb: encoder activations a training step keeps (MB) before the rest of
            its chunks are recomputed; 0 (the default) recomputes every micro-batch.

    Example:
        >>> ids, mask, doc_index = pack_documents(tokenize_documents(tok, texts, ...), tok.pad_token_id)
        >>> logits = model(ids, mask, doc_index, num_docs=len(texts))
    """

    def __init__(
        self,
        encoder: nn.Module,
        num_logits: int,
        aggregator: nn.Module,
        *,
        pooling: str = "mean",
        dropout: float = 0.1,
        num_extra_features: int = 0,
        chunk_batch_size: int = 16,
        checkpoint_chunks: bool = True,
        activation_memory_mb: float = 0,
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise LongtailError(f"unknown pooling {pooling!r}; valid: {', '.join(POOLINGS)}")
        if chunk_batch_size < 1:
            raise LongtailError(f"chunk_batch_size must be at least 1 (got {chunk_batch_size})")
        if activation_memory_mb < 0:
            raise LongtailError(f"activation_memory_mb must be >= 0 (got {activation_memory_mb})")
        self.encoder = encoder
        self.aggregator = aggregator
        self.pooling = pooling
        self.num_extra_features = num_extra_features
        self.chunk_batch_size = chunk_batch_size
        self.checkpoint_chunks = checkpoint_chunks
        self.activation_memory_mb = activation_memory_mb
        # bytes autograd saves for one chunk, by padded chunk width: measured, never assumed
        self._saved_bytes_by_width: dict[int, float] = {}
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(aggregator.output_dim + num_extra_features, num_logits)
        # As in TextClassifier: the BERT pooler is never called; frozen, it gets no optimizer
        # state and data-parallel training does not stop on parameters without gradients.
        pooler = getattr(encoder, "pooler", None)
        if isinstance(pooler, nn.Module):
            pooler.requires_grad_(False)

    def init_head_bias_from_priors(self, positive_rates: np.ndarray) -> None:
        """Start each sigmoid output at its label's prevalence (see ``init_bias_from_priors``)."""
        init_bias_from_priors(self.head, positive_rates)

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Pooled encoder output of one micro-batch of chunks (what a runtime may replace)."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return pool_tokens(hidden, attention_mask, self.pooling)

    def embed_chunks(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Pooled encoder output per chunk, ``(N_chunks, L)`` → ``(N_chunks, H)``."""
        if self.training and self.checkpoint_chunks and torch.is_grad_enabled():
            return self._embed_within_budget(input_ids, attention_mask)
        step = self.chunk_batch_size
        parts = [
            self.embed(input_ids[start : start + step], attention_mask[start : start + step])
            for start in range(0, input_ids.shape[0], step)
        ]
        return torch.cat(parts, dim=0)

    def _embed_within_budget(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        """Micro-batches keep their activations while they fit the budget; the rest are
        checkpointed. The micro-batches are the same whatever the budget (so are the dropout
        masks): the budget decides only which of them run twice."""
        room = self.activation_memory_mb * 2**20
        step = self.chunk_batch_size
        parts = []
        for start in range(0, input_ids.shape[0], step):
            ids = input_ids[start : start + step]
            mask = attention_mask[start : start + step]
            cost = self._saved_bytes_per_chunk(ids[:1], mask[:1]) * len(ids) if room else 0
            if room and cost <= room:
                room -= cost
                parts.append(self.embed(ids, mask))
            else:
                room = 0  # later micro-batches are recomputed too: the kept ones stay a prefix
                parts.append(checkpoint(self.embed, ids, mask, use_reentrant=False))
        return torch.cat(parts, dim=0)

    def _saved_bytes_per_chunk(self, ids: torch.Tensor, mask: torch.Tensor) -> float:
        """Bytes autograd saves for one chunk of this padded width, measured once per width.

        The probe runs the encoder on one chunk and throws the result away, under a forked
        random state so the training step draws the same dropout masks as without it.
        """
        width = ids.shape[1]
        if width not in self._saved_bytes_by_width:
            ledger = SavedActivations(itertools.chain(self.parameters(), self.buffers()))
            device = ids.device
            index = device.index
            if device.type != "cpu" and index is None:
                index = getattr(torch, device.type).current_device()
            fork = torch.random.fork_rng(
                devices=[] if device.type == "cpu" else [index],
                device_type="cuda" if device.type == "cpu" else device.type,
            )
            with fork, ledger:
                self.embed(ids, mask)
            self._saved_bytes_by_width[width] = ledger.total
        return self._saved_bytes_by_width[width]

    def _classify(
        self,
        chunk_embeddings: torch.Tensor,
        doc_index: torch.Tensor,
        num_docs: int,
        extra_features: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """``(logits, chunk scores or None, document embedding before dropout and extras)``."""
        if doc_index.shape != chunk_embeddings.shape[:1]:
            raise LongtailError(
                f"doc_index has shape {tuple(doc_index.shape)}, expected ({chunk_embeddings.shape[0]},)"
            )
        embedding, scores = self.aggregator(chunk_embeddings, doc_index, num_docs)
        docs = self.dropout(embedding)
        if self.num_extra_features:
            expected = (num_docs, self.num_extra_features)
            if extra_features is None or tuple(extra_features.shape) != expected:
                got = None if extra_features is None else tuple(extra_features.shape)
                raise LongtailError(f"extra_features must have shape {expected}, got {got}")
            docs = torch.cat([docs, extra_features.to(docs.dtype)], dim=1)
        elif extra_features is not None:
            raise LongtailError("extra_features given but the model has num_extra_features=0")
        return self.head(docs), scores, embedding

    def forward_with_scores(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        doc_index: torch.Tensor,
        num_docs: int,
        extra_features: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits ``(num_docs, num_logits)`` and the aggregator's chunk scores (or ``None``)."""
        chunks = self.embed_chunks(input_ids, attention_mask)
        return self._classify(chunks, doc_index, num_docs, extra_features)[:2]

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        doc_index: torch.Tensor,
        num_docs: int,
        extra_features: torch.Tensor | None = None,
        return_embedding: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(num_docs, num_logits)`` for a packed batch of chunks; with
        ``return_embedding`` also the aggregated document embeddings ``(num_docs, H)``."""
        chunks = self.embed_chunks(input_ids, attention_mask)
        logits, _, embedding = self._classify(chunks, doc_index, num_docs, extra_features)
        return (logits, embedding) if return_embedding else logits

    def from_chunk_embeddings(
        self,
        chunk_embeddings: torch.Tensor,
        doc_index: torch.Tensor,
        num_docs: int,
        extra_features: torch.Tensor | None = None,
        return_embedding: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits from precomputed chunk embeddings (frozen encoder + embedding cache)."""
        logits, _, embedding = self._classify(chunk_embeddings, doc_index, num_docs, extra_features)
        return (logits, embedding) if return_embedding else logits

    def from_chunk_embeddings_with_scores(
        self,
        chunk_embeddings: torch.Tensor,
        doc_index: torch.Tensor,
        num_docs: int,
        extra_features: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Like :meth:`from_chunk_embeddings`, also returning the chunk scores."""
        return self._classify(chunk_embeddings, doc_index, num_docs, extra_features)[:2]
