"""Text preprocessing: chunking long documents into encoder-sized pieces."""

from __future__ import annotations

from longtail.text.chunking import chunk_token_ids, num_chunks, tokenize_documents

__all__ = ["chunk_token_ids", "num_chunks", "tokenize_documents"]
