"""Shared fixtures: a tiny randomly initialised BERT built once per session, fixed seeds."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

# Words for the tiny WordPiece vocabulary: enough for the synthetic and real snippets in tests.
_WORDS = (
    "free win prize cash call now claim text reply stop urgent award won offer mobile "
    "hi ok see you later home love lunch tomorrow meeting sorry thanks good night what when "
    "the a an and or to of in on for is are was be it this that with my your me i we they "
    "movie film great bad boring plot actor script screen story long short document chunk "
    "sports politics science music money bank fraud alert account yes no maybe"
).split()


def _build_tiny_model(directory: Path) -> Path:
    from transformers import BertConfig, BertModel, BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(set(_WORDS))]
    vocab += [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    vocab += list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'-")
    directory.mkdir(parents=True, exist_ok=True)
    token_ids = {token: i for i, token in enumerate(dict.fromkeys(vocab))}
    tokenizer = BertTokenizer(vocab=token_ids, do_lower_case=True)
    tokenizer.model_max_length = 128
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=128,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local Hugging Face directory holding a tiny random BERT (hidden 32, 2 layers)."""
    return _build_tiny_model(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(autouse=True)
def _fixed_seeds() -> None:
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
