"""Encoder + head models and their on-disk format (safetensors + ``longtail.json``)."""

from __future__ import annotations

from longtail.models.classifier import TextClassifier
from longtail.models.encoder import (
    DEFAULT_HUB_MODEL,
    load_encoder,
    load_tokenizer,
    resolve_model_name,
)
from longtail.models.io import load_model_dir, save_model_dir

__all__ = [
    "DEFAULT_HUB_MODEL",
    "TextClassifier",
    "load_encoder",
    "load_model_dir",
    "load_tokenizer",
    "resolve_model_name",
    "save_model_dir",
]
