"""The model a run trains, in the form its phases read: plain encoder + head, or a document model
over chunks, end to end or on cached frozen-encoder embeddings (:mod:`longtail.models.documents`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from longtail.cache import (
    EmbeddingCache,
    default_cache_dir,
    document_chunking_key,
    encoder_fingerprint,
)
from longtail.cache.onnx_graphs import attach_runtime, runtime_encoder_key
from longtail.config import ExperimentConfig, LongDocumentConfig
from longtail.data.prepare import PreparedData, chunk_settings
from longtail.data.tokenized import TokenizedSplit
from longtail.errors import LongtailError
from longtail.models import TextClassifier
from longtail.models.batchers import DocumentBatcher, EmbeddingBatcher, TokenBatcher
from longtail.models.documents import (
    FrozenEncoderModel,
    build_document_model,
    embed_documents,
)
from longtail.training.frozen import (
    FeatureBatcher,
    TextFeatures,
    check_frozen,
    frozen_text_parts,
    text_cache,
)


@dataclass
class ModelSetup:
    """The model to save, the module to train, its batcher, the splits in the form it reads,
    and ``represent(texts, y, extra)``: new rows (a phase's own data) in that same form.

    ``cached``: the rows are frozen-encoder embeddings from the on-disk cache (``represent`` reads
    it too). ``features``: with a frozen encoder on short texts, the pooled embeddings of any
    texts (:class:`~longtail.training.frozen.TextFeatures`), e.g. for a head-only phase.
    """

    model: Any
    trainable: Any
    batcher: Any
    train: TokenizedSplit
    validation: TokenizedSplit
    represent: Callable[[list[str], Any, Any], TokenizedSplit]
    cached: bool = False
    features: TextFeatures | None = None


def build_model_setup(
    config: ExperimentConfig,
    encoder: Any,
    num_logits: int,
    data: PreparedData,
    *,
    model_name: str,
    pad_id: int,
    window: int,
    log: Callable[[str], None],
) -> ModelSetup:
    """The classifier for ``config`` over ``encoder``; with long documents in frozen mode the
    training and validation documents are embedded here, once, through the shared cache."""
    extra = data.train.extra

    def tokenized(texts: list[str], y: Any, features: Any) -> TokenizedSplit:
        if data.encode is None:
            raise LongtailError("this data backend cannot add rows; drop --arrow")
        return TokenizedSplit(data.encode(texts), y, features)

    frozen = config.model.encoder == "frozen"
    if frozen:
        check_frozen(config, documents=data.documents)
    embeds_once = frozen or (data.documents and config.long_documents.mode == "frozen")
    if config.model.runtime != "torch" and not embeds_once:
        raise LongtailError(
            f"--runtime {config.model.runtime} runs a frozen encoder, and this run fine-tunes it; "
            "add --encoder frozen, or train with --runtime torch and predict with --runtime "
            f"{config.model.runtime}"
        )
    if not data.documents:  # extra features on short texts were refused by prepare_data
        hidden = config.model.head_hidden or encoder.config.hidden_size
        model = TextClassifier(
            encoder, num_logits, pooling=config.model.pooling, dropout=config.model.dropout,
            head_hidden=hidden if config.model.head == "mlp" else None,
        )  # fmt: skip
        if frozen:
            return _frozen_text_setup(config, model, data, model_name, pad_id, window, log)
        return ModelSetup(
            model, model, TokenBatcher(pad_id), data.train, data.validation, tokenized
        )
    ld = config.long_documents
    num_extra = 0 if extra is None else extra.shape[1]
    model = build_document_model(encoder, num_logits, config.model, ld, num_extra)
    if frozen and ld.mode != "frozen":
        log("model.encoder=frozen: long documents take the frozen chunk-embedding path")
    if ld.mode == "end_to_end" and not frozen:
        batcher = DocumentBatcher(pad_id, max_chunks=ld.max_chunks, seed=config.train.seed)
        return ModelSetup(model, model, batcher, data.train, data.validation, tokenized)
    chunking = chunk_settings(ld, window, frozen=True)
    budget = chunking.max_chunks_encoded  # the same chunks in training, validation, test, predict
    root = Path(ld.cache_dir) if ld.cache_dir else default_cache_dir()
    runtime = config.model.runtime
    attach_runtime(model, runtime, cache_dir=root, log=log)
    cache = EmbeddingCache(
        root,
        encoder_key=runtime_encoder_key(encoder_fingerprint(model_name, encoder), runtime),
        chunking_key=document_chunking_key(chunking, pooling=config.model.pooling),
        hidden_size=encoder.config.hidden_size,
    )  # fmt: skip
    device = encoding_device(runtime)

    def embedded(split: TokenizedSplit, texts: list[str]) -> TokenizedSplit:
        vectors = embed_documents(
            model, split.ids, texts, cache=cache, pad_id=pad_id, device=device,
            max_chunks=budget, log=log,
        )  # fmt: skip
        model.to("cpu")
        return TokenizedSplit(vectors, split.y, split.extra)

    train = embedded(data.train, data.train_texts)
    validation = embedded(data.validation, data.validation_texts)
    batcher = EmbeddingBatcher(None, config.train.seed)  # the budget bounded the encoding already
    return ModelSetup(
        model, FrozenEncoderModel(model), batcher, train, validation,
        lambda texts, y, features: embedded(tokenized(texts, y, features), texts), cached=True,
    )  # fmt: skip


def _frozen_text_setup(
    config: ExperimentConfig,
    model: TextClassifier,
    data: PreparedData,
    model_name: str,
    pad_id: int,
    window: int,
    log: Callable[[str], None],
) -> ModelSetup:
    """Short texts on a frozen encoder: every text encoded once through the shared cache, the
    head trained on the pooled embeddings (:mod:`longtail.training.frozen`)."""
    max_length = min(config.model.max_length, window)
    cache = text_cache(
        config.model, config.long_documents.cache_dir, model_name, model.encoder, data.encode,
        max_length,
    )  # fmt: skip
    attach_runtime(model, config.model.runtime, cache_dir=cache.root, log=log)
    device = encoding_device(config.model.runtime)
    features = TextFeatures(model, data.encode, cache, pad_id=pad_id, device=device, log=log)
    trainable, train, validation = frozen_text_parts(
        model, data.train, data.validation,
        (data.train_texts, data.validation_texts), features=features,
    )  # fmt: skip
    how = (
        "is solved by L-BFGS (strategy linear_probe; --strategy vanilla or --epochs N train it "
        "by SGD)"
        if config.strategy == "linear_probe"
        else "trains"
    )
    log(
        f"model.encoder=frozen: the encoder stays frozen in every phase; the {config.model.head} "
        f"head {how} on {train.ids.shape[1]}-d cached embeddings (cache {cache.directory})"
    )

    def represent(texts: list[str], y: Any, extra: Any) -> TokenizedSplit:
        return TokenizedSplit(features(texts, what="new rows"), y, extra)

    return ModelSetup(
        model, trainable, FeatureBatcher(), train, validation, represent, cached=True,
        features=features,
    )  # fmt: skip


def encoding_device(runtime: str) -> torch.device:
    """Where a frozen encoder runs: the GPU when there is one, the CPU under ONNX Runtime."""
    return torch.device("cuda" if runtime == "torch" and torch.cuda.is_available() else "cpu")


def document_settings(ld: LongDocumentConfig, window: int, *, frozen: bool) -> dict[str, Any]:
    """What predict needs to cut documents exactly as training did, and (``frozen``, with a chunk
    budget) to keep the chunks that training encoded."""
    chunking = chunk_settings(ld, window, frozen=frozen)
    return {"aggregator": ld.aggregator, "mode": ld.mode} | chunking.to_json()


def model_window(tokenizer: Any, encoder: Any) -> int:
    """The longest input the encoder takes: its position embeddings or the tokenizer's limit."""
    limits = [
        getattr(encoder.config, "max_position_embeddings", None),
        getattr(tokenizer, "model_max_length", None),
    ]
    usable = [int(v) for v in limits if isinstance(v, int) and 0 < v < 1_000_000]
    return min(usable) if usable else 512
