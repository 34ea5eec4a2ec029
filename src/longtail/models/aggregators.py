"""Chunk embeddings → one document embedding: the second level of a hierarchical classifier.

Every aggregator works on a **packed** batch: the chunk embeddings of all documents stacked into
``(N_chunks, H)`` and ``doc_index`` (``N_chunks``, long, values in ``[0, num_docs)``) saying which
document each row belongs to, with a document's chunks in reading order. Documents of 1 and 200
chunks share a batch without padding; reductions use ``index_add_``/``scatter_reduce`` (no
``torch_scatter``). Each aggregator returns ``(doc_embeddings (num_docs, output_dim),
chunk_scores (N_chunks,) or None)``; the scores are per-document attention weights that sum to 1
and explain which chunks drove a prediction.

Build one with ``AGGREGATORS.build("attention", hidden_size=384)`` or
``AGGREGATORS.build({"name": "transformer", "num_heads": 8}, hidden_size=384)``.
"""

from __future__ import annotations

import torch
from torch import nn

from longtail.errors import LongtailError
from longtail.registry import Registry

AGGREGATORS: Registry[nn.Module] = Registry("aggregator")


def doc_counts(doc_index: torch.Tensor, num_docs: int) -> torch.Tensor:
    """Chunks per document, ``(num_docs,)`` long."""
    return torch.bincount(doc_index, minlength=num_docs)


def positions_in_doc(doc_index: torch.Tensor, num_docs: int) -> torch.Tensor:
    """Each chunk's 0-based position inside its document, keeping the packed order."""
    order = torch.sort(doc_index, stable=True).indices
    counts = doc_counts(doc_index, num_docs)
    starts = torch.cumsum(counts, 0) - counts
    positions = torch.empty_like(doc_index)
    ranks = torch.arange(doc_index.numel(), device=doc_index.device)
    positions[order] = ranks - starts[doc_index[order]]
    return positions


def segment_softmax(scores: torch.Tensor, doc_index: torch.Tensor, num_docs: int) -> torch.Tensor:
    """Softmax of ``scores`` (``N_chunks``,) over the chunks of each document."""
    peak = torch.full((num_docs,), float("-inf"), dtype=scores.dtype, device=scores.device)
    peak = peak.scatter_reduce(0, doc_index, scores.detach(), reduce="amax", include_self=True)
    weights = torch.exp(scores - peak[doc_index])
    totals = torch.zeros(num_docs, dtype=scores.dtype, device=scores.device)
    totals = totals.index_add(0, doc_index, weights)
    return weights / totals[doc_index]


def segment_sum(values: torch.Tensor, doc_index: torch.Tensor, num_docs: int) -> torch.Tensor:
    """Sum of the rows of ``values`` (``N_chunks``, H) per document → ``(num_docs, H)``."""
    out = values.new_zeros((num_docs, values.shape[1]))
    return out.index_add(0, doc_index, values)


class MeanAggregator(nn.Module):
    """Average of the chunk embeddings (the "mean pooling" baseline of Pappagari et al. 2019,
    arXiv 1910.10781)."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size

    @property
    def output_dim(self) -> int:
        return self.hidden_size

    def forward(
        self, chunk_embeddings: torch.Tensor, doc_index: torch.Tensor, num_docs: int
    ) -> tuple[torch.Tensor, None]:
        counts = doc_counts(doc_index, num_docs).clamp(min=1).to(chunk_embeddings.dtype)
        return segment_sum(chunk_embeddings, doc_index, num_docs) / counts[:, None], None

    def chunk_contributions(
        self, chunk_embeddings: torch.Tensor, doc_index: torch.Tensor, read_out: torch.Tensor
    ) -> torch.Tensor:
        """Each chunk's share of ``read_out[d] · doc_embedding[d]`` (``read_out``: one weight
        row per document): ``read_out · chunk / chunks in its document``. Exact: a document's
        shares sum to its read-out."""
        counts = doc_counts(doc_index, len(read_out)).clamp(min=1).to(chunk_embeddings.dtype)
        return (chunk_embeddings * read_out[doc_index]).sum(dim=1) / counts[doc_index]


class MaxAggregator(nn.Module):
    """Element-wise maximum over the chunks (max pooling, Pappagari et al. 2019, arXiv 1910.10781)."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size

    @property
    def output_dim(self) -> int:
        return self.hidden_size

    def forward(
        self, chunk_embeddings: torch.Tensor, doc_index: torch.Tensor, num_docs: int
    ) -> tuple[torch.Tensor, None]:
        out = chunk_embeddings.new_zeros((num_docs, chunk_embeddings.shape[1]))
        index = doc_index[:, None].expand_as(chunk_embeddings)
        return out.scatter_reduce(0, index, chunk_embeddings, "amax", include_self=False), None

    def chunk_contributions(
        self, chunk_embeddings: torch.Tensor, doc_index: torch.Tensor, read_out: torch.Tensor
    ) -> torch.Tensor:
        """Each chunk's share of ``read_out[d] · doc_embedding[d]``: every dimension's term goes
        to the chunk that holds the maximum (the first, on a tie). Exact, as for the mean."""
        num_docs = len(read_out)
        peak = self(chunk_embeddings, doc_index, num_docs)[0]
        rows = torch.arange(len(chunk_embeddings), device=chunk_embeddings.device)
        holds = chunk_embeddings == peak[doc_index]  # (N, H): chunk holds its doc's maximum
        first = torch.full_like(peak, len(chunk_embeddings), dtype=torch.long)
        index = doc_index[:, None].expand_as(holds)
        candidates = torch.where(holds, rows[:, None].expand_as(holds), len(chunk_embeddings))
        first = first.scatter_reduce(0, index, candidates, "amin", include_self=True)
        owner = first[doc_index] == rows[:, None]  # (N, H): this chunk owns the dimension
        return (chunk_embeddings * read_out[doc_index] * owner).sum(dim=1)


class MeanMaxAggregator(nn.Module):
    """The mean and the element-wise maximum of the chunk embeddings, side by side
    (``2 × hidden_size``): what the mean blurs — a scene that appears once — the maximum keeps.
    Mean and max pooling are Pappagari et al.'s baselines (2019, arXiv 1910.10781); their
    concatenation is the usual "mean-max" pooling of sentence-embedding work (e.g. Conneau et
    al. 2017, InferSent, arXiv 1705.02364). No weights: with a frozen encoder the document vector
    is fixed, and the head over it can be solved (``--strategy linear_probe``)."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.mean, self.max = MeanAggregator(hidden_size), MaxAggregator(hidden_size)

    @property
    def output_dim(self) -> int:
        return 2 * self.mean.hidden_size

    def forward(
        self, chunk_embeddings: torch.Tensor, doc_index: torch.Tensor, num_docs: int
    ) -> tuple[torch.Tensor, None]:
        mean = self.mean(chunk_embeddings, doc_index, num_docs)[0]
        peak = self.max(chunk_embeddings, doc_index, num_docs)[0]
        return torch.cat([mean, peak], dim=1), None

    def chunk_contributions(
        self, chunk_embeddings: torch.Tensor, doc_index: torch.Tensor, read_out: torch.Tensor
    ) -> torch.Tensor:
        """The mean half's shares plus the max half's (see those aggregators)."""
        hidden = self.mean.hidden_size
        return self.mean.chunk_contributions(
            chunk_embeddings, doc_index, read_out[:, :hidden]
        ) + self.max.chunk_contributions(chunk_embeddings, doc_index, read_out[:, hidden:])


class GatedAttentionAggregator(nn.Module):
    """Gated attention pooling (Ilse, Tomczak & Welling 2018, "Attention-based Deep Multiple
    Instance Learning", arXiv 1802.04712, eq. 9).

    ``a_k = softmax_k(wᵀ(tanh(V h_k) ⊙ sigmoid(U h_k)))`` over the chunks of each document, and
    the document embedding is ``Σ_k a_k h_k``. The weights ``a_k`` are returned as chunk scores.

    Args:
        hidden_size: chunk embedding size H.
        attention_dim: size of the gating projections (the paper's L; 128 by default).
    """

    def __init__(self, hidden_size: int, attention_dim: int = 128) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.value = nn.Linear(hidden_size, attention_dim)
        self.gate = nn.Linear(hidden_size, attention_dim)
        self.score = nn.Linear(attention_dim, 1)

    @property
    def output_dim(self) -> int:
        return self.hidden_size

    def forward(
        self, chunk_embeddings: torch.Tensor, doc_index: torch.Tensor, num_docs: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        gated = torch.tanh(self.value(chunk_embeddings)) * torch.sigmoid(
            self.gate(chunk_embeddings)
        )
        weights = segment_softmax(self.score(gated).squeeze(-1), doc_index, num_docs)
        return segment_sum(chunk_embeddings * weights[:, None], doc_index, num_docs), weights


class TransformerAggregator(nn.Module):
    """A small transformer over each document's chunk sequence, then gated attention pooling.

    The recurrence-over-transformer / transformer-over-transformer model of Pappagari et al.
    2019 (arXiv 1910.10781, "ToBERT"), with the pooling of Ilse et al. 2018 (arXiv 1802.04712).
    Documents are padded per batch to their longest chunk count (a key-padding mask hides the
    padding) and unpacked again before pooling.

    Positions: learned embeddings for ``max_chunks_positions`` positions. A document with more
    chunks has its positions **rescaled** onto the table (chunk ``p`` of ``n`` sits at
    ``p·(P-1)/(n-1)``, linearly interpolating neighbouring rows) rather than clamped, so the
    model still sees where in the story each chunk falls (opening, middle, ending).

    Args:
        hidden_size: chunk embedding size H.
        num_layers: transformer encoder layers (1 by default).
        num_heads: attention heads; must divide ``hidden_size``.
        max_chunks_positions: rows of the positional table (P).
        dropout: dropout inside the transformer layers.
        feedforward_dim: feed-forward size; ``2·H`` by default.
        attention_dim: gating size of the final attention pooling.
    """

    def __init__(
        self,
        hidden_size: int,
        num_layers: int = 1,
        num_heads: int = 4,
        max_chunks_positions: int = 512,
        dropout: float = 0.1,
        feedforward_dim: int | None = None,
        attention_dim: int = 128,
    ) -> None:
        super().__init__()
        if num_heads < 1 or hidden_size % num_heads:
            raise LongtailError(
                f"transformer aggregator: num_heads {num_heads} must divide hidden_size {hidden_size}"
            )
        if max_chunks_positions < 1:
            raise LongtailError("transformer aggregator: max_chunks_positions must be at least 1")
        self.hidden_size = hidden_size
        self.positions = nn.Embedding(max_chunks_positions, hidden_size)
        nn.init.normal_(self.positions.weight, std=0.02)
        layer = nn.TransformerEncoderLayer(
            hidden_size,
            num_heads,
            dim_feedforward=feedforward_dim or 2 * hidden_size,
            dropout=dropout,
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.pool = GatedAttentionAggregator(hidden_size, attention_dim)

    @property
    def output_dim(self) -> int:
        return self.hidden_size

    def _position_embeddings(self, positions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        table = self.positions.weight
        last = table.shape[0] - 1
        scale = torch.where(lengths > last + 1, last / (lengths - 1).clamp(min=1), 1.0)
        exact = positions.to(table.dtype) * scale.to(table.dtype)
        low = exact.floor().long().clamp(max=last)
        high = (low + 1).clamp(max=last)
        frac = (exact - low.to(table.dtype))[:, None]
        return table[low] * (1 - frac) + table[high] * frac

    def forward(
        self, chunk_embeddings: torch.Tensor, doc_index: torch.Tensor, num_docs: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        counts = doc_counts(doc_index, num_docs)
        positions = positions_in_doc(doc_index, num_docs)
        width = max(int(counts.max()), 1) if counts.numel() else 1
        x = chunk_embeddings + self._position_embeddings(positions, counts[doc_index])
        padded = x.new_zeros((num_docs, width, x.shape[1]))
        padded = padded.index_put((doc_index, positions), x)
        padding = torch.arange(width, device=x.device)[None, :] >= counts[:, None]
        padding[:, 0] = False  # a document without chunks must not attend to nothing (NaN)
        hidden = self.encoder(padded, src_key_padding_mask=padding)
        return self.pool(hidden[doc_index, positions], doc_index, num_docs)


@AGGREGATORS.register("mean")
def mean_factory(*, hidden_size: int) -> MeanAggregator:
    return MeanAggregator(hidden_size)


@AGGREGATORS.register("max")
def max_factory(*, hidden_size: int) -> MaxAggregator:
    return MaxAggregator(hidden_size)


@AGGREGATORS.register("mean_max")
def mean_max_factory(*, hidden_size: int) -> MeanMaxAggregator:
    return MeanMaxAggregator(hidden_size)


@AGGREGATORS.register("attention")
def attention_factory(*, hidden_size: int, attention_dim: int = 128) -> GatedAttentionAggregator:
    return GatedAttentionAggregator(hidden_size, attention_dim)


@AGGREGATORS.register("transformer")
def transformer_factory(
    *,
    hidden_size: int,
    num_layers: int = 1,
    num_heads: int = 4,
    max_chunks_positions: int = 512,
    dropout: float = 0.1,
    feedforward_dim: int | None = None,
    attention_dim: int = 128,
) -> TransformerAggregator:
    return TransformerAggregator(
        hidden_size,
        num_layers=num_layers,
        num_heads=num_heads,
        max_chunks_positions=max_chunks_positions,
        dropout=dropout,
        feedforward_dim=feedforward_dim,
        attention_dim=attention_dim,
    )
