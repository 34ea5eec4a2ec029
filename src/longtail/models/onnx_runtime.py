"""The encoder through ONNX Runtime on the CPU: fp32, or int8 dynamic quantisation.

A runtime replaces one thing: the encoder and its pooling, ``(input_ids, attention_mask) →
(B, H)`` pooled embeddings (``model.embed``). What sits above it (the head, a long-document
aggregator, the decision) stays in PyTorch, where it costs microseconds per row, so one graph
serves short-text and hierarchical models, prediction and frozen-encoder training alike.

- ``torch``: the model as loaded (the default).
- ``onnx``: the same computation exported to ONNX and run by onnxruntime's CPU provider; checked
  against PyTorch on a padded probe batch (max |difference| <= 1e-4) before it is used.
- ``onnx-int8``: that graph with dynamic quantisation (Jacob et al. 2018, "Quantization and
  Training of Neural Networks for Efficient Integer-Arithmetic-Only Inference", arXiv 1712.05877):
  the weights of every ``MatMul`` stored as int8 **per output channel** (Krishnamoorthi 2018,
  arXiv 1806.08342), activations quantised per tensor as they arrive. Per channel and MatMul
  only, because that keeps all-MiniLM-L6-v2's 512-token chunk embeddings at cosine 0.993 (mean,
  0.983 worst, 64 real texts) with fp32's, where onnxruntime's default (every op, per tensor)
  gives 0.92. The embeddings change, so the speed is paid for in quality: the benchmark
  (``benchmarks/onnx_runtime.py``) prints both. A graph whose probe embeddings fall below
  cosine :data:`INT8_MIN_COSINE` is refused. Activations get one scale per batch, so an int8
  embedding depends a little on the texts batched with it (cosine >= 0.98 between a text alone
  and in a batch of 16): int8 results are not batch-invariant, fp32 ones are.

ONNX Runtime runs on the CPU here; with a GPU, PyTorch is the faster path and stays in charge.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import numpy as np
import torch
from torch import nn

from longtail.config import ModelConfig
from longtail.errors import LongtailError
from longtail.models.classifier import pool_tokens
from longtail.models.onnx_export import (
    INPUT_NAMES,
    MIN_OPSET,
    PARITY_ATOL,
    _export,
    check_parity,
    quantize_int8,
    require_onnx,
)

#: ``("torch", "onnx", "onnx-int8")``, as ``model.runtime`` spells them (one list).
RUNTIMES: tuple[str, ...] = get_args(ModelConfig.model_fields["runtime"].annotation)
#: Graph layout version: part of a cached graph's key, so a change here never reuses old files.
GRAPH_FORMAT = 1
OUTPUT_NAME = "embedding"
#: The quantised graph's probe embeddings must keep at least this cosine with fp32's.
INT8_MIN_COSINE = 0.95


def check_runtime(runtime: str) -> str:
    """``runtime`` if it is one of :data:`RUNTIMES`, else a one-line error listing them."""
    if runtime not in RUNTIMES:
        raise LongtailError(f"unknown runtime {runtime!r}; valid: {', '.join(RUNTIMES)}")
    return runtime


class PooledEncoder(nn.Module):
    """The encoder and its pooling as one module with positional inputs (what is exported)."""

    def __init__(self, encoder: nn.Module, pooling: str) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return pool_tokens(hidden, attention_mask, self.pooling)


def probe_batch(encoder: nn.Module, seed: int = 0) -> dict[str, torch.Tensor]:
    """Two rows of seeded token ids, 9 and 40 long, so the batch holds padding (a tracer that
    dropped the mask would fail the parity check). Real text is not needed to compare graphs."""
    vocab = int(getattr(encoder.config, "vocab_size", 1000))
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(min(999, vocab - 1), vocab, (2, 40), generator=generator)
    mask = torch.ones_like(ids)
    mask[0, 9:] = 0
    ids[0, 9:] = int(getattr(encoder.config, "pad_token_id", None) or 0)
    return {"input_ids": ids.long(), "attention_mask": mask.long()}


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return (a * b).sum(axis=1) / np.maximum(norms, 1e-12)


def build_encoder_graph(
    encoder: nn.Module, pooling: str, runtime: str, path: str | os.PathLike[str]
) -> dict[str, Any]:
    """Export ``encoder`` + ``pooling`` to ``path`` for ``runtime`` (``onnx`` or ``onnx-int8``).

    Written atomically: a temporary file, checked (fp32 against PyTorch within
    :data:`~longtail.models.onnx_export.PARITY_ATOL`; int8 by cosine), then renamed. Returns what
    was checked: ``{"exporter", "max_abs_diff"}`` and, for int8, ``"min_cosine"``.
    """
    if check_runtime(runtime) == "torch":
        raise LongtailError("the torch runtime runs the model as loaded; nothing to export")
    require_onnx()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    graph = PooledEncoder(encoder, pooling).float().eval()
    probe = probe_batch(encoder)
    stem = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fp32, int8 = stem.with_suffix(".fp32.onnx"), stem.with_suffix(".int8.onnx")
    try:
        exporter = _export(graph, probe, fp32, MIN_OPSET, output_name=OUTPUT_NAME)
        error = check_parity(fp32, graph, probe, output_name=OUTPUT_NAME)
        if not error <= PARITY_ATOL:
            raise LongtailError(
                f"the exported encoder differs from PyTorch by {error:.2e} (> {PARITY_ATOL}); "
                "use --runtime torch for this model"
            )
        checked: dict[str, Any] = {"exporter": exporter, "max_abs_diff": error}
        written = fp32
        if runtime == "onnx-int8":
            quantize_int8(fp32, int8)
            with torch.inference_mode():
                expected = graph(probe["input_ids"], probe["attention_mask"]).numpy()
            got = OnnxEncoder(int8, threads=1).run(probe["input_ids"], probe["attention_mask"])
            cosine = float(_cosines(got, expected).min())
            if not cosine >= INT8_MIN_COSINE:
                raise LongtailError(
                    f"int8 quantisation moves this encoder's embeddings too far (cosine {cosine:.3f}"
                    f" < {INT8_MIN_COSINE} with fp32); use --runtime onnx or torch"
                )
            checked["min_cosine"] = cosine
            written = int8
        os.replace(written, path)
    finally:
        fp32.unlink(missing_ok=True)
        int8.unlink(missing_ok=True)
    return checked


class OnnxEncoder:
    """A pooled-encoder graph in an onnxruntime session: ``(input_ids, attention_mask)`` tensors
    → ``(B, H)`` float32 embeddings on the CPU, called where ``model.embed`` would be.

    ``threads``: onnxruntime's intra-op threads; default PyTorch's own count, so the two
    runtimes use the same cores.
    """

    def __init__(self, path: str | os.PathLike[str], threads: int | None = None) -> None:
        require_onnx()
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(threads or torch.get_num_threads())
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: no notes about unused initialisers
        self.path = Path(path)
        self.session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )

    def run(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> np.ndarray:
        feeds = {
            name: tensor.detach().to("cpu", torch.int64).numpy()
            for name, tensor in zip(INPUT_NAMES, (input_ids, attention_mask), strict=True)
        }
        return self.session.run([OUTPUT_NAME], feeds)[0]

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.run(input_ids, attention_mask))


def use_encoder_graph(model: nn.Module, embed: Callable[..., torch.Tensor]) -> None:
    """Route ``model``'s pooled encoder (``model.embed``) through ``embed``: an instance
    attribute over the method, so training code, the aggregator and the head are untouched.
    The model must then run on the CPU, where the graph's outputs are."""
    if not callable(getattr(model, "embed", None)):
        raise LongtailError(f"{type(model).__name__} has no pooled encoder to replace")
    model.embed = embed  # type: ignore[method-assign]
