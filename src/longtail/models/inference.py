"""Logits (or the head's input vectors) for every row of a split, in the input order."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from longtail.data.tokenized import TokenizedSplit, as_split
from longtail.models.batchers import TokenBatcher, to_device
from longtail.text.batching import cpu_batch_tokens, token_budget_batches


def inference_autocast(device: torch.device) -> Any:
    """Prediction and validation precision: bf16 autocast on a CUDA GPU that supports it, else
    fp16 there; fp32 on the CPU and elsewhere (where reduced precision is slower or unsupported).
    The logits come back as float32 either way, and training validates under the same rule, so
    the decision is tuned on logits made as prediction makes them."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


@torch.inference_mode()
def predict_logits(
    model: nn.Module,
    data: TokenizedSplit | Sequence,
    *,
    batch_size: int,
    device: torch.device,
    pad_id: int = 0,
    batcher: Any = None,
    progress=None,
    return_embedding: bool = False,
    max_batch_tokens: int | None | Literal["auto"] = "auto",
) -> np.ndarray:
    """Logits for every row, in the input order (batches are formed longest-first internally).

    ``data`` is a :class:`TokenizedSplit` or plain token ids per row; ``batcher`` turns rows into
    model inputs (default: padded token ids, see :mod:`longtail.models.batchers`). With
    ``return_embedding`` the rows' embeddings (what the head reads) instead of logits.
    ``max_batch_tokens`` caps rows x padded width per batch as well as ``batch_size`` rows;
    ``"auto"``: :func:`~longtail.text.batching.cpu_batch_tokens` for token-id rows (1024 on a
    CPU, where smaller batches are faster per token; none on a GPU), none for other rows.
    """
    split = as_split(data)
    batcher = batcher or TokenBatcher(pad_id)
    if max_batch_tokens == "auto":
        max_batch_tokens = cpu_batch_tokens(device) if isinstance(batcher, TokenBatcher) else None
    model.eval()
    out: np.ndarray | None = None
    for batch in token_budget_batches(split.lengths, batch_size, max_batch_tokens):
        inputs = to_device(batcher(split, batch, training=False), device)
        with inference_autocast(device):
            outputs = (
                model(**inputs, return_embedding=True)[1] if return_embedding else model(**inputs)
            )
        logits = outputs.float().cpu().numpy()
        if out is None:
            out = np.zeros((len(split.ids), logits.shape[1]), dtype=np.float32)
        out[batch] = logits
        if progress is not None:
            progress.update(len(batch))
    return out if out is not None else np.zeros((0, 0), dtype=np.float32)
