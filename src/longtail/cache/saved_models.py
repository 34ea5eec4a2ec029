"""The embedding cache of a saved frozen long-document model, for ``predict`` and ``evaluate``.

Training embeds each chunk once with the frozen encoder and caches it
(:func:`~longtail.models.documents.embed_documents`); a model directory says how its documents
were cut (``longtail.json["long_documents"]``), which rebuilds the very key training used, so
predicting on a file training already scored reads every chunk from the cache.

Which directory: ``--cache-dir`` if given, else the ``long_documents.cache_dir`` the model was
trained with (recorded in ``longtail.json["config"]``), else :func:`default_cache_dir`. A cache
that cannot be written is never a reason to fail: entries already there are still read, new ones
are encoded without caching, and one log line says so.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from longtail.cache.embeddings import (
    EmbeddingCache,
    default_cache_dir,
    document_chunking_key,
    encoder_fingerprint_as,
    unwritable_reason,
)
from longtail.cache.onnx_graphs import runtime_encoder_key
from longtail.logs import info
from longtail.text.chunking import ChunkSettings


def uses_frozen_documents(meta: dict[str, Any]) -> bool:
    """Whether a saved model's documents were embedded by a frozen encoder through the cache."""
    documents = meta.get("long_documents")
    encoder = ((meta.get("config") or {}).get("model") or {}).get("encoder")
    return documents is not None and (documents.get("mode") == "frozen" or encoder == "frozen")


def trained_runtime(meta: dict[str, Any]) -> str:
    """The runtime a saved model's frozen encoder made its training features under (``model.
    runtime``; ``"torch"`` for models saved before runtimes existed and for fine-tuned ones)."""
    return ((meta.get("config") or {}).get("model") or {}).get("runtime") or "torch"


def trained_cache_root(meta: dict[str, Any], cache_dir: str | os.PathLike[str] | None) -> Path:
    """``cache_dir``, else the one training used (``longtail.json``), else the default."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    recorded = ((meta.get("config") or {}).get("long_documents") or {}).get("cache_dir")
    return Path(recorded).expanduser() if recorded else default_cache_dir()


def saved_model_cache(
    meta: dict[str, Any],
    model: Any,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    runtime: str = "torch",
    log: Callable[[str], None] = info,
) -> EmbeddingCache | None:
    """The cache a frozen long-document ``model`` (with its ``longtail.json`` ``meta``) was
    trained with, keyed as training keyed it for vectors made under ``runtime``; ``None`` for
    any other model."""
    if not uses_frozen_documents(meta):
        return None
    from longtail.models.encoder import resolve_model_name

    chunking = ChunkSettings.from_json(meta["long_documents"])
    name = resolve_model_name(((meta.get("config") or {}).get("model") or {}).get("name"))
    cache = EmbeddingCache(
        trained_cache_root(meta, cache_dir),
        encoder_key=runtime_encoder_key(encoder_fingerprint_as(name, model.encoder), runtime),
        chunking_key=document_chunking_key(chunking, pooling=model.pooling),
        hidden_size=model.encoder.config.hidden_size,
    )  # fmt: skip
    why = unwritable_reason(cache.root)
    if why is not None:
        cache.writable = False  # entries already there are still read
        log(
            f"embedding cache at {cache.root} is not writable ({why}): chunks not in it are "
            "encoded without caching"
        )
    return cache
