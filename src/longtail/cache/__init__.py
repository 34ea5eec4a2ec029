"""Caches of expensive intermediate results (chunk embeddings of long documents)."""

from __future__ import annotations

from longtail.cache.embeddings import (
    EmbeddingCache,
    cache_info,
    chunking_fingerprint,
    clear_cache,
    default_cache_dir,
    document_chunking_key,
    encoder_fingerprint,
)

__all__ = [
    "EmbeddingCache",
    "cache_info",
    "chunking_fingerprint",
    "clear_cache",
    "default_cache_dir",
    "document_chunking_key",
    "encoder_fingerprint",
]
