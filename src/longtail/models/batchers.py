"""Turn the rows of a batch into model inputs: one small object per kind of input.

The training loop and prediction never look inside a row: a batcher maps ``(split, rows)`` to the
keyword arguments of the model's ``forward``.

* :class:`TokenBatcher` — short texts: token ids padded to the batch's longest row.
* :class:`DocumentBatcher` — long documents: every chunk of every document packed into one
  ``(N_chunks, L)`` batch with a ``doc_index`` (one loss term per *document*, however many chunks).
* :class:`EmbeddingBatcher` — frozen encoder: cached chunk embeddings instead of token ids.

Documents longer than ``max_chunks`` contribute a random, order-preserving subset of their chunks
during training (a new draw per step, reproducible from ``(seed, epoch)``), and all chunks at
inference.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from longtail.sampling.base import epoch_generator
from longtail.text.batching import pad_batch


def to_device(inputs: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in inputs.items()}


def _extra(split: Any, rows: list[int]) -> dict[str, torch.Tensor]:
    extra = getattr(split, "extra", None)
    return (
        {}
        if extra is None
        else {"extra_features": torch.as_tensor(np.asarray(extra)[rows], dtype=torch.float32)}
    )


class TokenBatcher:
    """Short texts: ``{"input_ids", "attention_mask"}``."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def set_epoch(self, epoch: int) -> None:
        """Nothing random here."""

    def __call__(self, split: Any, rows: list[int], *, training: bool) -> dict[str, Any]:
        input_ids, attention_mask = pad_batch([split.ids[i] for i in rows], self.pad_id)
        return {"input_ids": input_ids, "attention_mask": attention_mask}


class _ChunkSampling:
    """Per-step random subsets of chunks for documents longer than ``max_chunks`` (training only)."""

    def __init__(self, max_chunks: int | None, seed: int) -> None:
        self.max_chunks = max_chunks
        self.seed = seed
        self.generator = epoch_generator(seed, 0)

    def set_epoch(self, epoch: int) -> None:
        self.generator = epoch_generator(self.seed + 7919, epoch)

    def random_state(self) -> dict[str, torch.Tensor]:
        """Where the chunk draws stand inside an epoch (saved by a mid-epoch checkpoint)."""
        return {"chunks": self.generator.get_state()}

    def restore_random_state(self, state: dict[str, torch.Tensor]) -> None:
        self.generator.set_state(state["chunks"])

    def pick(self, count: int, training: bool) -> list[int] | None:
        if not training or not self.max_chunks or count <= self.max_chunks:
            return None
        chosen = torch.randperm(count, generator=self.generator)[: self.max_chunks]
        return sorted(chosen.tolist())


class DocumentBatcher(_ChunkSampling):
    """Long documents as token-id chunks: ``{"input_ids", "attention_mask", "doc_index", "num_docs"}``."""

    def __init__(self, pad_id: int, *, max_chunks: int | None = None, seed: int = 0) -> None:
        super().__init__(max_chunks, seed)
        self.pad_id = pad_id

    def __call__(self, split: Any, rows: list[int], *, training: bool) -> dict[str, Any]:
        from longtail.models.hierarchical import pack_documents

        docs = []
        for row in rows:
            chunks = split.ids[row]
            keep = self.pick(len(chunks), training)
            docs.append(chunks if keep is None else [chunks[i] for i in keep])
        input_ids, attention_mask, doc_index = pack_documents(docs, self.pad_id)
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "doc_index": doc_index,
            "num_docs": len(rows),
            **_extra(split, rows),
        }


class EmbeddingBatcher(_ChunkSampling):
    """Frozen encoder: cached ``(chunks, H)`` embeddings per document, packed with a ``doc_index``."""

    def __call__(self, split: Any, rows: list[int], *, training: bool) -> dict[str, Any]:
        pieces, index = [], []
        for position, row in enumerate(rows):
            embeddings = split.ids[row]
            keep = self.pick(len(embeddings), training)
            if keep is not None:
                embeddings = embeddings[keep]
            pieces.append(embeddings)
            index.append(torch.full((len(embeddings),), position, dtype=torch.long))
        return {
            "chunk_embeddings": torch.cat(pieces).float(),
            "doc_index": torch.cat(index),
            "num_docs": len(rows),
            **_extra(split, rows),
        }
