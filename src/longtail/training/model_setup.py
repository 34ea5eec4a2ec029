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
from longtail.config import LongDocumentConfig, ModelConfig
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
    settings: ModelConfig,
    long_documents: LongDocumentConfig,
    encoder: Any,
    num_logits: int,
    data: PreparedData,
    *,
    seed: int,
    solved_head: bool,
    model_name: str,
    pad_id: int,
    window: int,
    log: Callable[[str], None],
) -> ModelSetup:
    """The classifier the ``model`` section (``settings``) and ``long_documents`` describe, over
    ``encoder``; with long documents in frozen mode the training and validation documents are
    embedded here, once, through the shared cache. ``seed`` draws end-to-end chunk subsets;
    ``solved_head``: the strategy solves a frozen encoder's head (said in the log). A frozen
    encoder's settings are checked by the run first (:func:`~longtail.training.frozen.check_frozen`).
    """
    extra = data.train.extra

    def tokenized(texts: list[str], y: Any, features: Any) -> TokenizedSplit:
        if data.encode is None:
            raise LongtailError("this data backend cannot add rows; drop --arrow")
        return TokenizedSplit(data.encode(texts), y, features)

    frozen = settings.encoder == "frozen"
    embeds_once = frozen or (data.documents and long_documents.mode == "frozen")
    if settings.runtime != "torch" and not embeds_once:
        raise LongtailError(
            f"--runtime {settings.runtime} runs a frozen encoder, and this run fine-tunes it; "
            "add --encoder frozen, or train with --runtime torch and predict with --runtime "
            f"{settings.runtime}"
        )
    if not data.documents:  # extra features on short texts were refused by prepare_data
        hidden = settings.head_hidden or encoder.config.hidden_size
        model = TextClassifier(
            encoder, num_logits, pooling=settings.pooling, dropout=settings.dropout,
            head_hidden=hidden if settings.head == "mlp" else None,
        )  # fmt: skip
        if frozen:
            return _frozen_text_setup(
                settings, long_documents.cache_dir, model, data, model_name, pad_id, window,
                solved_head, log,
            )  # fmt: skip
        return ModelSetup(
            model, model, TokenBatcher(pad_id), data.train, data.validation, tokenized
        )
    ld = long_documents
    num_extra = 0 if extra is None else extra.shape[1]
    model = build_document_model(encoder, num_logits, settings, ld, num_extra)
    if frozen and ld.mode != "frozen":
        log("model.encoder=frozen: long documents take the frozen chunk-embedding path")
    if ld.mode == "end_to_end" and not frozen:
        batcher = DocumentBatcher(pad_id, max_chunks=ld.max_chunks, seed=seed)
        return ModelSetup(model, model, batcher, data.train, data.validation, tokenized)
    chunking = chunk_settings(ld, window, frozen=True)
    budget = chunking.max_chunks_encoded  # the same chunks in training, validation, test, predict
    root = Path(ld.cache_dir) if ld.cache_dir else default_cache_dir()
    runtime = settings.runtime
    attach_runtime(model, runtime, cache_dir=root, log=log)
    cache = EmbeddingCache(
        root,
        encoder_key=runtime_encoder_key(encoder_fingerprint(model_name, encoder), runtime),
        chunking_key=document_chunking_key(chunking, pooling=settings.pooling),
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
    batcher = EmbeddingBatcher(None, seed)  # the budget bounded the encoding already
    return ModelSetup(
        model, FrozenEncoderModel(model), batcher, train, validation,
        lambda texts, y, features: embedded(tokenized(texts, y, features), texts), cached=True,
    )  # fmt: skip


def _frozen_text_setup(
    settings: ModelConfig,
    cache_dir: str | None,
    model: TextClassifier,
    data: PreparedData,
    model_name: str,
    pad_id: int,
    window: int,
    solved_head: bool,
    log: Callable[[str], None],
) -> ModelSetup:
    """Short texts on a frozen encoder: every text encoded once through the shared cache, the
    head trained on the pooled embeddings (:mod:`longtail.training.frozen`)."""
    max_length = min(settings.max_length, window)
    cache = text_cache(settings, cache_dir, model_name, model.encoder, data.encode, max_length)
    attach_runtime(model, settings.runtime, cache_dir=cache.root, log=log)
    device = encoding_device(settings.runtime)
    features = TextFeatures(model, data.encode, cache, pad_id=pad_id, device=device, log=log)
    trainable, train, validation = frozen_text_parts(
        model, data.train, data.validation,
        (data.train_texts, data.validation_texts), features=features,
    )  # fmt: skip
    how = (
        "is solved by L-BFGS (strategy linear_probe; --strategy vanilla or --epochs N train it "
        "by SGD)"
        if solved_head
        else "trains"
    )
    log(
        f"model.encoder=frozen: the encoder stays frozen in every phase; the {settings.head} "
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
