"""Long documents in a run: the hierarchical model, and the frozen-encoder mode with its cache.

``end_to_end`` trains :class:`~longtail.models.hierarchical.HierarchicalClassifier` directly.
``frozen`` embeds each chunk once with the pretrained encoder — every chunk, or with
``long_documents.max_chunks = N`` at most N per document spread evenly across it, the same chunks
at prediction — reusing the on-disk :class:`~longtail.cache.EmbeddingCache` across runs, folds,
seeds and strategies, and trains only the aggregator and head on those embeddings, for many
epochs in seconds.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from longtail.config import LongDocumentConfig, ModelConfig
from longtail.errors import LongtailError
from longtail.logs import info
from longtail.models.aggregators import AGGREGATORS
from longtail.models.hierarchical import (
    HierarchicalClassifier,
    pack_documents,
    spread_chunk_indices,
    spread_chunks,
)
from longtail.text.chunking import ChunkSettings


def build_document_model(
    encoder: nn.Module,
    num_logits: int,
    model: ModelConfig,
    long_documents: LongDocumentConfig,
    num_extra_features: int,
) -> HierarchicalClassifier:
    """The hierarchical model the ``model`` and ``long_documents`` sections describe."""
    ld = long_documents
    aggregator = AGGREGATORS.build(ld.aggregator, hidden_size=encoder.config.hidden_size)
    return HierarchicalClassifier(
        encoder,
        num_logits,
        aggregator,
        pooling=model.pooling,
        dropout=model.dropout,
        num_extra_features=num_extra_features,
        chunk_batch_size=ld.chunk_batch_size,
        checkpoint_chunks=ld.checkpoint,
        activation_memory_mb=ld.activation_memory_mb,
    )


class FrozenEncoderModel(nn.Module):
    """The trainable part of a :class:`HierarchicalClassifier` (aggregator, dropout, head), fed
    with precomputed chunk embeddings.

    It shares those modules with the model, so training it trains the model's aggregator and
    head; the encoder is not a submodule, so epoch checkpoints and best-weight copies hold the
    aggregator and head alone, as :class:`~longtail.training.frozen.FrozenTextModel` does for
    short texts (the encoder is saved once, in the model directory, not per epoch).
    """

    def __init__(self, model: HierarchicalClassifier) -> None:
        super().__init__()
        self.aggregator = model.aggregator
        self.dropout = model.dropout
        self.head = model.head
        # a bound method, not the model: the encoder stays unregistered
        self._classify = model.from_chunk_embeddings
        model.encoder.requires_grad_(False)
        model.encoder.eval()  # a frozen encoder never uses dropout

    def forward(
        self,
        chunk_embeddings: torch.Tensor,
        doc_index: torch.Tensor,
        num_docs: int,
        extra_features: torch.Tensor | None = None,
        return_embedding: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        return self._classify(
            chunk_embeddings, doc_index, num_docs, extra_features, return_embedding
        )


#: Seconds between progress lines while chunks are encoded (none before the first interval ends,
#: so a run that finishes within it logs its start line alone).
PROGRESS_SECONDS = 30.0
#: Seconds of encoding after which the rate is trusted for a time estimate.
ESTIMATE_SECONDS = 5.0


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min"


def _speed(rate: float) -> str:
    return f"{rate:.1f} chunks/s" if rate >= 1 else f"{rate:.2g} chunks/s"


class EncodingProgress:
    """Log lines while chunks are encoded: chunks done of the total, chunks/s and the time left.

    Plain lines through ``log`` (a progress bar disables itself without a terminal, and a log
    file should still show a 5-hour encoding moving): once the rate of the first
    :data:`ESTIMATE_SECONDS` gives an estimate, then every :data:`PROGRESS_SECONDS` or every 10 %
    of the chunks, whichever comes first, and a closing line. A run that finishes within the
    first interval logs none of these.
    """

    def __init__(
        self,
        total: int,
        log: Callable[[str], None],
        *,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.total, self.log, self.clock = total, log, clock
        self.done = self.done_at_line = 0
        self.started = self.at_line = clock()
        self.estimated = False

    def _rate(self, elapsed: float) -> float:
        return self.done / elapsed if elapsed > 0 else 0.0

    def _left(self, rate: float) -> str:
        return _duration((self.total - self.done) / rate) if rate > 0 else "unknown"

    def update(self, chunks: int) -> None:
        self.done += chunks
        now = self.clock()
        elapsed = now - self.started
        if self.done >= self.total:
            return
        rate = self._rate(elapsed)
        if not self.estimated and elapsed >= ESTIMATE_SECONDS and rate > 0:
            self.estimated = True
            if (self.total - self.done) / rate >= PROGRESS_SECONDS:  # else it ends soon anyway
                self.log(
                    f"chunk embeddings: about {_duration(self.total / rate)} for {self.total:,} "
                    f"chunks at {_speed(rate)} (measured on the first {self.done:,})"
                )
                self.at_line = now
        if elapsed < PROGRESS_SECONDS:
            return
        tenth = self.done * 10 // self.total > self.done_at_line * 10 // self.total
        if tenth or now - self.at_line >= PROGRESS_SECONDS:
            self.log(
                f"chunk embeddings: {self.done:,} / {self.total:,} chunks "
                f"({self.done / self.total:.0%}), {_speed(rate)}, ETA {self._left(rate)}"
            )
            self.at_line, self.done_at_line = now, self.done

    def finish(self) -> None:
        """The closing line, for an encoding that outlasted the first interval."""
        elapsed = self.clock() - self.started
        if self.done and elapsed >= PROGRESS_SECONDS:
            self.log(
                f"chunk embeddings: {self.done:,} chunks encoded in {_duration(elapsed)} "
                f"({_speed(self._rate(elapsed))})"
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
    max_chunks: int | None = None,
    docs_per_batch: int = 8,
    log: Callable[[str], None] = info,
) -> list[torch.Tensor]:
    """``(chunks, H)`` embeddings per document: from the cache, else from the encoder (then cached).

    ``max_chunks`` bounds the chunks encoded per document, spread evenly across it
    (:func:`~longtail.models.hierarchical.spread_chunks`); the ``cache`` must be keyed with the
    same budget (:func:`~longtail.cache.document_chunking_key`). Logs a start line (documents
    and chunks from the cache, chunks to encode) and, for a long encoding, its progress
    (:class:`EncodingProgress`).
    """
    model.eval()
    model.to(device)
    found = cache.get_many(texts) if cache is not None else [None] * len(texts)
    missing = [i for i, hit in enumerate(found) if hit is None]
    chosen = {i: spread_chunks(docs[i], max_chunks) for i in missing}
    total = sum(len(chunks) for chunks in chosen.values())
    cached = sum(len(hit) for hit in found if hit is not None)
    line = f"chunk embeddings: {len(texts) - len(missing)} of {len(texts)} documents from the cache"
    line += f" ({cached:,} chunks)"
    if missing:
        budget = f", at most {max_chunks} per document, spread evenly" if max_chunks else ""
        line += f"; {total:,} chunks of {len(missing)} documents to encode{budget}"
    log(line)
    progress = EncodingProgress(total, log)
    bar = tqdm(total=total, desc="embed chunks", unit="chunk", leave=False, disable=None)
    writing = cache.writing() if cache is not None and missing else contextlib.nullcontext()
    with writing:  # `longtail cache clear` is refused meanwhile
        for start in range(0, len(missing), docs_per_batch):
            rows = missing[start : start + docs_per_batch]
            input_ids, mask, doc_index = pack_documents([chosen[i] for i in rows], pad_id)
            parts = []
            for low in range(0, len(input_ids), model.chunk_batch_size):  # progress per micro-batch
                high = low + model.chunk_batch_size
                ids, part_mask = input_ids[low:high].to(device), mask[low:high].to(device)
                parts.append(model.embed_chunks(ids, part_mask).float().cpu())
                progress.update(len(ids))
                bar.update(len(ids))
            embeddings = torch.cat(parts)
            for position, row in enumerate(rows):
                found[row] = embeddings[doc_index == position].clone()
            if cache is not None:
                cache.put_many([texts[i] for i in rows], [found[i] for i in rows])
    bar.close()
    progress.finish()
    return list(found)


def cut_documents(texts: Sequence[str], settings: ChunkSettings) -> list[str]:
    """``texts`` cut (or refused) at ``settings.max_chars`` as training cut its files: the text
    a document is keyed by in the embedding cache, and the text that is chunked."""
    from longtail.data.cleaning import cap_document_texts

    return cap_document_texts(texts, settings.max_chars, settings.on_too_long)


def all_document_chunks(
    tokenizer: Any, texts: Sequence[str], settings: ChunkSettings
) -> list[list[list[int]]]:
    """Every chunk of each text (:func:`cut_documents` first), before any chunk budget."""
    return settings.chunks(tokenizer, cut_documents(texts, settings))


def document_chunks(
    tokenizer: Any, texts: Sequence[str], settings: ChunkSettings
) -> tuple[list[list[list[int]]], list[list[int]]]:
    """``(chunks, positions)`` per text, cut exactly as at training time: the chunks training
    encoded — all, or ``settings.max_chunks_encoded`` spread evenly — and each one's index among
    all the text's chunks."""
    docs = all_document_chunks(tokenizer, texts, settings)
    positions = [spread_chunk_indices(len(chunks), settings.max_chunks_encoded) for chunks in docs]
    kept = [[chunks[i] for i in keep] for chunks, keep in zip(docs, positions, strict=True)]
    return kept, positions


def encode_documents(tokenizer: Any, texts: Sequence[str], settings: ChunkSettings) -> list:
    """The chunks of :func:`document_chunks` alone: what the model reads for each text."""
    return document_chunks(tokenizer, texts, settings)[0]


DOCS_PER_BATCH = 4


def _logit_shares(
    model: HierarchicalClassifier,
    embedded: torch.Tensor,
    doc_index: torch.Tensor,
    logits: torch.Tensor,
) -> torch.Tensor:
    """Each chunk's share of its document's top logit, for a weight-free aggregator."""
    aggregator = model.aggregator
    if not hasattr(aggregator, "chunk_contributions"):
        raise LongtailError(
            f"--explain cannot rank chunks for aggregator {type(aggregator).__name__}: it gives "
            "no chunk weights and no per-chunk decomposition"
        )
    top = logits.argmax(dim=1)
    read_out = model.head.weight[top, : aggregator.output_dim].to(embedded.dtype)
    return aggregator.chunk_contributions(embedded, doc_index, read_out)


@torch.inference_mode()
def explain_documents(
    model: HierarchicalClassifier,
    tokenizer: Any,
    docs: Sequence[Sequence[Sequence[int]]],
    *,
    extra: Any = None,
    top_k: int = 3,
    device: torch.device,
    positions: Sequence[Sequence[int]] | None = None,
) -> list[list[dict[str, Any]]]:
    """The ``top_k`` chunks per document that weigh most in its prediction, with their text.

    ``score`` is the chunk's attention weight for aggregators that weigh chunks (``attention``,
    ``transformer``). For the weight-free ones (``mean``, ``max``, ``mean_max``) it is the
    chunk's exact share of the top class's logit: the head is linear over the pooled vector, so
    that logit splits into one term per chunk (the mean's ``w · chunk / n``, and each dimension's
    maximum credited to the chunk holding it) plus the bias and any extra features; a chunk with
    a negative share argued against the prediction. ``chunk`` is each chunk's index in
    ``docs[i]``, or in the whole document when ``positions`` (from :func:`document_chunks`) says
    where the kept chunks came from.
    """

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
        doc_index = doc_index.to(device)
        embedded = model.embed_chunks(input_ids.to(device), mask.to(device))
        logits, scores = model.from_chunk_embeddings_with_scores(
            embedded, doc_index, len(batch), None if features is None else features.to(device)
        )
        if scores is None:
            scores = _logit_shares(model, embedded, doc_index, logits)
        scores, doc_index = scores.float().cpu(), doc_index.cpu()
        for position, chunks in enumerate(batch):
            mine = scores[doc_index == position]
            order = torch.argsort(mine, descending=True)[:top_k].tolist()
            explanations.append(
                [
                    {
                        "chunk": int(i if positions is None else positions[start + position][i]),
                        "score": round(float(mine[i]), 6),
                        "text": tokenizer.decode(chunks[i], skip_special_tokens=True),
                    }
                    for i in order
                ]
            )
    return explanations
