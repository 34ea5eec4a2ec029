"""Tokenisation once, and dynamic padding.

Padding every batch to ``max_length`` wastes most of the compute on short texts (an SMS is ~30
tokens). Texts are tokenised once without padding; each batch is padded to its own longest row
(rounded up to a multiple of 8 for tensor cores). Batches of similar length for training come
from :class:`longtail.sampling.length_grouped.LengthGroupedBatchSampler`; for prediction from
:func:`inference_batches`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

TOKENIZE_CHUNK = 4096


def tokenize(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids per text (special tokens added, truncated to ``max_length``, unpadded)."""
    ids: list[list[int]] = []
    for start in range(0, len(texts), TOKENIZE_CHUNK):
        chunk = list(texts[start : start + TOKENIZE_CHUNK])
        ids.extend(tokenizer(chunk, truncation=True, max_length=max_length)["input_ids"])
    return ids


def pad_batch(
    sequences: Sequence[Sequence[int]], pad_id: int, multiple_of: int = 8
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad to the batch's longest row; returns ``(input_ids, attention_mask)``."""
    longest = max(len(s) for s in sequences)
    width = int(math.ceil(longest / multiple_of) * multiple_of) if multiple_of > 1 else longest
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        input_ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        attention_mask[row, : len(seq)] = 1
    return input_ids, attention_mask


def inference_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Deterministic batches for prediction: longest first, so padding waste is minimal."""
    order = np.argsort(-np.asarray(lengths), kind="stable").tolist()
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
