"""Exported encoder graphs for the ONNX runtimes (:mod:`longtail.models.onnx_runtime`), on disk.

Exporting MiniLM takes seconds, quantising it a few more; both are done once per encoder,
pooling and runtime and kept beside the embedding cache::

    <cache root>/onnx/<sha256(encoder fingerprint, pooling, runtime, graph format)[:32]>.onnx

A file that onnxruntime cannot open is deleted and exported again. A root that cannot be written
gets the graph in a temporary directory for this process, and one log line says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from longtail.cache.embeddings import (
    default_cache_dir,
    encoder_fingerprint_as,
    unwritable_reason,
)
from longtail.logs import info
from longtail.models.onnx_runtime import (
    GRAPH_FORMAT,
    OnnxEncoder,
    build_encoder_graph,
    check_runtime,
    use_encoder_graph,
)

GRAPH_DIR = "onnx"


def runtime_encoder_key(encoder_key: str, runtime: str) -> str:
    """The embedding-cache encoder key of vectors made under ``runtime``.

    ``onnx`` matches PyTorch within 1e-4 (checked when exported), so it shares ``torch``'s
    entries; ``onnx-int8`` makes other vectors, so its entries get a key of their own.
    """
    if check_runtime(runtime) != "onnx-int8":
        return encoder_key
    return hashlib.sha256(json.dumps([encoder_key, runtime]).encode()).hexdigest()


def graph_path(
    encoder: nn.Module,
    pooling: str,
    runtime: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Where the graph of ``encoder`` + ``pooling`` for ``runtime`` is kept.

    The key reads the encoder's weights and configuration but no name, so training (the encoder
    loaded from its hub name) and prediction (the copy in the model directory) share a graph.
    """
    fingerprint = encoder_fingerprint_as("", encoder)
    key = hashlib.sha256(
        json.dumps([fingerprint, pooling, check_runtime(runtime), GRAPH_FORMAT]).encode()
    ).hexdigest()
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return root / GRAPH_DIR / f"{key[:32]}.onnx"


def encoder_session(
    encoder: nn.Module,
    pooling: str,
    runtime: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    log: Callable[[str], None] = info,
) -> OnnxEncoder:
    """An onnxruntime session over the cached graph, exported first when missing or unreadable."""
    path = graph_path(encoder, pooling, runtime, cache_dir=cache_dir)
    if path.is_file():
        try:
            return OnnxEncoder(path)
        except Exception as exc:  # a damaged file: export it again
            log(f"ONNX graph {path} does not load ({type(exc).__name__}); exporting it again")
            path.unlink(missing_ok=True)
    if unwritable_reason(path.parent) is not None:
        fallback = Path(tempfile.mkdtemp(prefix="longtail-onnx-")) / path.name
        log(f"{path.parent} is not writable: the ONNX graph goes to {fallback} for this run")
        path = fallback
    log(f"runtime {runtime}: exporting the encoder to {path} (once per encoder)")
    checked = build_encoder_graph(encoder, pooling, runtime, path)
    detail = f"max |onnx - torch| {checked['max_abs_diff']:.1e}"
    if "min_cosine" in checked:
        detail += f"; int8 embeddings at cosine >= {checked['min_cosine']:.3f} with fp32"
    log(f"runtime {runtime}: graph checked ({detail})")
    return OnnxEncoder(path)


def attach_runtime(
    model: Any,
    runtime: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    log: Callable[[str], None] = info,
) -> None:
    """Run ``model``'s pooled encoder under ``runtime`` (``torch``: leave it as it is)."""
    if check_runtime(runtime) == "torch":
        return
    session = encoder_session(model.encoder, model.pooling, runtime, cache_dir=cache_dir, log=log)
    use_encoder_graph(model, session)
