"""What a run asks accelerate for: the distributed state, a fresh ``Accelerator`` per model, and
logits gathered from every process (:func:`gathered_logits`).

Mixed precision follows the hardware (``auto``: bf16 where the GPU supports it, fp16 on older
GPUs, full precision on CPU).

longtail does no distribution of its own: ``accelerate launch`` (or ``torchrun``) starts the
processes, and everything here only asks accelerate where this process stands.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from longtail.config import TrainConfig
from longtail.data.tokenized import TokenizedSplit, as_split
from longtail.models.inference import predict_logits


def silent(_message: str) -> None:
    """Processes other than the main one keep quiet."""


def resolve_mixed_precision(requested: str) -> str:
    """``auto`` → bf16 on GPUs that support it, fp16 on older GPUs, full precision on CPU."""
    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "no"


def _cpu_only() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return not torch.cuda.is_available() and not (mps is not None and mps.is_available())


def distributed_state():
    """accelerate's process-wide view: rank, world size, main process, barriers.

    Launched with ``accelerate launch --multi_gpu --num_processes N`` (or ``torchrun``), every
    process runs the same command; on machines without an accelerator the processes talk over
    gloo (accelerate's MULTI_CPU), which is how the distributed path is tested here.
    """
    from accelerate import PartialState

    return PartialState(cpu=_cpu_only())


def make_accelerator(config: TrainConfig):
    """A fresh ``Accelerator`` for this run.

    accelerate keeps its mixed-precision choice in a process-wide singleton and refuses a second
    ``Accelerator`` with another choice; a Python session (or a grid of runs) may train several
    models with different settings, so the singleton is reset first. The distributed state
    (process group, ranks) is kept.
    """
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=False)
    return Accelerator(
        cpu=_cpu_only(),
        mixed_precision=resolve_mixed_precision(config.mixed_precision),
        gradient_accumulation_steps=config.grad_accum,
    )


def gathered_logits(
    model: nn.Module,
    data: TokenizedSplit | Sequence,
    *,
    batch_size: int,
    device: torch.device,
    pad_id: int = 0,
    batcher: Any = None,
) -> np.ndarray:
    """Logits for every row; under data parallelism each rank predicts a shard and all gather.

    Every rank ends with the full, identical array, so early stopping, calibration and
    thresholds are decided on the whole validation set and agree across ranks.
    """
    split = as_split(data)
    options = {"batch_size": batch_size, "device": device, "pad_id": pad_id, "batcher": batcher}
    state = distributed_state()
    if state.num_processes == 1:
        return predict_logits(model, split, **options)
    from accelerate.utils import gather_object

    rows = list(range(state.process_index, len(split.ids), state.num_processes))
    extra = None if split.extra is None else np.asarray(split.extra)[rows]
    shard = predict_logits(
        model, TokenizedSplit([split.ids[i] for i in rows], None, extra), **options
    )
    pieces = gather_object([(rows, shard)])
    width = max(piece[1].shape[1] for piece in pieces if len(piece[0]))
    out = np.zeros((len(split.ids), width), dtype=np.float32)
    for piece_rows, piece in pieces:
        if piece_rows:
            out[piece_rows] = piece
    return out
