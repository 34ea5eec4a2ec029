"""Tokenisation once, and dynamic padding.

Padding every batch to ``max_length`` wastes most of the compute on short texts (an SMS is ~30
tokens). Texts are tokenised once without padding; each batch is padded to its own longest row
(rounded up to a multiple of 8 on CUDA, for tensor cores). Batches of similar length for training come
from :class:`longtail.sampling.length_grouped.LengthGroupedBatchSampler`; for prediction from
:func:`token_budget_batches`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

TOKENIZE_CHUNK = 4096


def token_ids_encoder(tokenizer: Any, max_length: int) -> Callable[[list[str]], list[list[int]]]:
    """A function giving the token ids that ``tokenizer(texts, truncation=True,
    max_length=max_length)["input_ids"]`` gives, built for speed.

    A fast (Rust) tokenizer is called directly: its ``encode_batch_fast`` (no character offsets)
    with the truncation the Python call would set (``longest_first``, the tokenizer's
    ``truncation_side``), and no attention masks, type ids or ``BatchEncoding`` built — ids are
    all that is kept. The Rust object's own truncation settings are put back after each call
    (``transformers`` sets them on every call too, and leaves them). Other tokenizers take the
    usual call. Tests check both give the same ids.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None) if tokenizer.is_fast else None
    if backend is None:
        return lambda texts: tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    encode = getattr(backend, "encode_batch_fast", backend.encode_batch)  # tokenizers < 0.20

    def ids(texts: list[str]) -> list[list[int]]:
        before, padding = backend.truncation, backend.padding
        backend.no_padding()
        backend.enable_truncation(
            max_length, stride=0, strategy="longest_first", direction=tokenizer.truncation_side
        )
        try:
            return [encoding.ids for encoding in encode(list(texts))]
        finally:
            if before is None:
                backend.no_truncation()
            else:
                backend.enable_truncation(**before)
            if padding is not None:
                backend.enable_padding(**padding)

    return ids


def tokenize(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids per text (special tokens added, truncated to ``max_length``, unpadded)."""
    encode = token_ids_encoder(tokenizer, max_length)
    ids: list[list[int]] = []
    for start in range(0, len(texts), TOKENIZE_CHUNK):
        ids.extend(encode(list(texts[start : start + TOKENIZE_CHUNK])))
    return ids


def padding_multiple() -> int:
    """What a batch's width is rounded up to: 8 where CUDA tensor cores want it, 1 (the longest
    row exactly) elsewhere — on a CPU every padded position is computed for nothing (padding to
    8 cost longtail's CPU training 1.11x in throughput, docs/benchmarks.md)."""
    return 8 if torch.cuda.is_available() else 1


def pad_batch(
    sequences: Sequence[Sequence[int]], pad_id: int, multiple_of: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad to the batch's longest row, rounded up to ``multiple_of`` (default
    :func:`padding_multiple`); returns ``(input_ids, attention_mask)``."""
    multiple_of = padding_multiple() if multiple_of is None else multiple_of
    longest = max(len(s) for s in sequences)
    width = int(math.ceil(longest / multiple_of) * multiple_of) if multiple_of > 1 else longest
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        input_ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        attention_mask[row, : len(seq)] = 1
    return input_ids, attention_mask


# Padded tokens per batch on CPU. Smaller batches are faster per token there: 1.30x on 256-token
# rows and 1.34x on SMS messages against the former 8192 (MiniLM, 2 cores; chosen by a rule fixed
# before the run: docs/benchmarks.md, "The CPU token budget per prediction batch").
CPU_MAX_BATCH_TOKENS = 1024


def cpu_batch_tokens(device: torch.device) -> int | None:
    """The padded-token cap per inference batch on ``device``: :data:`CPU_MAX_BATCH_TOKENS` on a
    CPU, none elsewhere (a GPU is faster with full batches)."""
    return CPU_MAX_BATCH_TOKENS if torch.device(device).type == "cpu" else None


def token_budget_batches(
    lengths: Sequence[int], batch_size: int, max_tokens: int | None, multiple_of: int | None = None
) -> list[list[int]]:
    """Row indices per batch, longest first: at most ``batch_size`` rows and ``max_tokens`` tokens.

    A batch's token count is its row count times its padded width (the longest row rounded up to
    ``multiple_of``, as :func:`~longtail.text.batching.pad_batch` pads). Without ``max_tokens``
    this is plain longest-first batches of ``batch_size`` rows.
    """
    multiple_of = padding_multiple() if multiple_of is None else multiple_of
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable").tolist()
    batches: list[list[int]] = []
    start = 0
    while start < len(order):
        rows = batch_size
        if max_tokens is not None:
            width = max(1, math.ceil(lengths[order[start]] / multiple_of) * multiple_of)
            rows = max(1, min(batch_size, max_tokens // width))
        batches.append(order[start : start + rows])
        start += rows
    return batches
