"""A pretrained encoder, a pooling step and a linear head: the short-text classifier."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


def pool_tokens(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """``(B, L, H)`` token states → ``(B, H)``: masked mean over real tokens, or the first token.

    Shared by :class:`TextClassifier` and the hierarchical model, so a chunk embedding equals the
    short-text embedding of the same ids.
    """
    if pooling == "cls":
        return hidden[:, 0]
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


def init_bias_from_priors(head: nn.Linear, positive_rates: np.ndarray) -> None:
    """Start each sigmoid output at its label's prevalence (Lin et al. 2017, arXiv 1708.02002, §4.1).

    With hundreds of rare labels a zero bias predicts 0.5 everywhere, and the first steps are
    spent pushing every logit down; starting from the prior keeps early gradients sane.
    """
    rates = np.clip(np.asarray(positive_rates, dtype=np.float64), 1e-6, 1 - 1e-6)
    with torch.no_grad():
        head.bias.copy_(torch.tensor([math.log(p / (1 - p)) for p in rates]))


class TextClassifier(nn.Module):
    """Encoder → pooled representation → dropout → linear head → logits.

    Args:
        encoder: a Hugging Face ``AutoModel`` (BERT, RoBERTa, MPNet, ...).
        num_logits: 2 for binary, C for multiclass and multilabel (see ``longtail.tasks``).
        pooling: ``"mean"`` (masked mean over tokens, how sentence encoders such as MiniLM were
            trained) or ``"cls"`` (first token).
        dropout: dropout before the head (and, with ``head_hidden``, before its output layer).
        head_hidden: ``None`` for a linear head; else the width of one hidden ReLU layer (an MLP
            head), whose output layer is still ``self.head``.
    """

    def __init__(
        self,
        encoder: nn.Module,
        num_logits: int,
        pooling: str = "mean",
        dropout: float = 0.1,
        head_hidden: int | None = None,
    ):
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        width = encoder.config.hidden_size
        self.hidden: nn.Module | None = None
        if head_hidden is not None:
            self.hidden = nn.Sequential(
                nn.Linear(width, head_hidden), nn.ReLU(), nn.Dropout(dropout)
            )
            width = head_hidden
        self.head = nn.Linear(width, num_logits)
        # BERT-style encoders carry a pooler (dense + tanh over [CLS]) that we never call: we pool
        # ``last_hidden_state`` ourselves. Frozen, it costs no optimizer state, and data-parallel
        # training does not stop on parameters that receive no gradient.
        pooler = getattr(encoder, "pooler", None)
        if isinstance(pooler, nn.Module):
            pooler.requires_grad_(False)

    def init_head_bias_from_priors(self, positive_rates: np.ndarray) -> None:
        init_bias_from_priors(self.head, positive_rates)

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return pool_tokens(hidden, attention_mask, self.pooling)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        return_embedding: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits; with ``return_embedding`` also the pooled embedding the head reads (for
        contrastive auxiliary losses and the augmentation-quality plot)."""
        embedding = self.embed(input_ids, attention_mask)
        logits = self.classify(embedding)
        return (logits, embedding) if return_embedding else logits

    def classify(self, embedding: torch.Tensor) -> torch.Tensor:
        """Pooled embeddings ``(B, H)`` → logits: everything above the encoder (the frozen-encoder
        path trains only this, on cached embeddings)."""
        hidden = self.dropout(embedding)
        if self.hidden is not None:
            hidden = self.hidden(hidden)
        return self.head(hidden)
