"""Short texts on a frozen encoder: encode each text once, cache it, train only the head.

``model.encoder=frozen`` (``longtail train --encoder frozen``) is the regime many practitioners
run first — a classifier on sentence embeddings — with every loss, sampler, strategy and decision
of longtail on top. Each text is encoded once into its pooled embedding (the model's own pooling)
and stored in the on-disk :class:`~longtail.cache.EmbeddingCache` that frozen long documents use
(same root, ``longtail cache info`` / ``clear`` see both), keyed by the encoder's weights, the
tokenizer, ``max_length``, the pooling and the text. The head (linear, or a one-hidden-layer MLP)
then trains on those vectors for many epochs in seconds; its checkpoints hold the head only.

The model directory is an ordinary one (encoder + head), so ``predict``, ``evaluate`` and
``export`` run the full model on new texts.

:class:`TextFeatures` is the one way to get the features of any texts (from the cache, or encoded
and cached): phases that re-train a head on new rows use it through ``ModelSetup.represent``.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from longtail.cache import (
    EmbeddingCache,
    chunking_fingerprint,
    default_cache_dir,
    encoder_fingerprint,
)
from longtail.cache.onnx_graphs import runtime_encoder_key
from longtail.config import ExperimentConfig, ModelConfig, is_off
from longtail.data.tokenized import TokenizedSplit
from longtail.errors import LongtailError
from longtail.logs import info
from longtail.models.classifier import TextClassifier
from longtail.models.inference import predict_logits
from longtail.text.batching import cpu_batch_tokens, pad_batch, token_budget_batches

#: Texts per encoder batch when filling the cache (sorted by length, so little padding).
ENCODE_BATCH_SIZE = 32


class FrozenTextModel(nn.Module):
    """The trainable part of a :class:`TextClassifier` (dropout, MLP layer, head), fed with
    pooled embeddings.

    It shares those modules with the classifier, so training it trains the classifier's head;
    the encoder is not a submodule, so checkpoints and best-weight copies hold the head alone
    (a 91 MB encoder is saved once, in the model directory, not per epoch).
    """

    def __init__(self, model: TextClassifier) -> None:
        super().__init__()
        self.dropout = model.dropout
        self.hidden = model.hidden
        self.head = model.head
        self._classify = model.classify  # a bound method: the encoder stays unregistered
        model.encoder.requires_grad_(False)
        model.encoder.eval()

    def forward(
        self, features: torch.Tensor, return_embedding: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        logits = self._classify(features)
        return (logits, features) if return_embedding else logits


class FeatureBatcher:
    """Pooled embeddings: ``{"features": (B, H)}`` from a split whose rows are vectors."""

    def set_epoch(self, epoch: int) -> None:
        """Nothing random here."""

    def __call__(self, split: Any, rows: list[int], *, training: bool) -> dict[str, Any]:
        ids = split.ids
        features = ids[rows] if torch.is_tensor(ids) else torch.stack([ids[i] for i in rows])
        return {"features": features.float()}


@dataclass
class CacheStats:
    """What one :class:`TextFeatures` call found: cache hits, texts encoded, seconds."""

    texts: int = 0
    hits: int = 0
    encoded: int = 0
    seconds: float = 0.0

    def line(self, what: str) -> str:
        return (
            f"text embeddings ({what}): {self.hits} of {self.texts} from the cache, "
            f"{self.encoded} encoded, in {self.seconds:.1f} s"
        )


#: Tokenised into the cache key, so another tokenizer (or truncation) never reuses an entry.
_PROBE = "Longtail probe: naïve café, 東京, 1234567 — ÆØÅ αβγ emoji 🙂 " * 24


def text_cache(
    model: ModelConfig,
    cache_dir: str | None,
    model_name: str,
    encoder: nn.Module,
    tokenize: Callable[[list[str]], Sequence[Sequence[int]]],
    max_length: int,
) -> EmbeddingCache:
    """The cache of pooled text embeddings for this encoder, tokenisation, length and pooling.

    The key holds :func:`~longtail.cache.encoder_fingerprint` (name, config, sampled weights),
    ``max_length``, the pooling and the runtime of the ``model`` section, and the token ids of a
    fixed probe text under ``tokenize`` (which tells tokenizers and truncation apart). It lives
    under the same root as the long-document chunk cache (``cache_dir``: ``long_documents.cache_dir``,
    default :func:`~longtail.cache.default_cache_dir`), in its own key directory.
    """
    return EmbeddingCache(
        Path(cache_dir) if cache_dir else default_cache_dir(),
        encoder_key=runtime_encoder_key(encoder_fingerprint(model_name, encoder), model.runtime),
        chunking_key=chunking_fingerprint(
            kind="short_text",
            probe=list(tokenize([_PROBE])[0]),
            max_length=max_length,
            pooling=model.pooling,
            dtype="float32",
        ),  # fmt: skip
        hidden_size=encoder.config.hidden_size,
    )


class TextFeatures:
    """Pooled encoder embeddings ``(N, H)`` of texts: read from the cache, else encoded (and
    cached). ``stats`` holds the counts of the last call.

    Args:
        model: the classifier whose encoder and pooling make the embeddings.
        tokenize: texts → token ids, exactly as the training splits were tokenised.
        cache: the :func:`text_cache` (``None``: encode every time).
        device: where the encoder runs.
    """

    def __init__(
        self,
        model: TextClassifier,
        tokenize: Callable[[list[str]], Sequence[Sequence[int]]] | None,
        cache: EmbeddingCache | None,
        *,
        pad_id: int,
        device: torch.device,
        log: Callable[[str], None] = info,
    ) -> None:
        self.model, self.tokenize, self.cache = model, tokenize, cache
        self.pad_id, self.device, self.log = pad_id, device, log
        self.stats = CacheStats()

    def __call__(
        self, texts: Sequence[str], ids: Sequence[Sequence[int]] | None = None, what: str = "rows"
    ) -> torch.Tensor:
        """Embeddings of ``texts``; ``ids`` (their token ids) saves tokenising them again."""
        started = time.perf_counter()
        found = self.cache.get_many(texts) if self.cache is not None else [None] * len(texts)
        missing = [i for i, hit in enumerate(found) if hit is None]
        if missing:
            if ids is None:
                if self.tokenize is None:
                    raise LongtailError("this data backend cannot encode new rows; drop --arrow")
                ids = dict(zip(missing, self.tokenize([texts[i] for i in missing]), strict=True))
            writing = self.cache.writing() if self.cache is not None else contextlib.nullcontext()
            with writing:  # `longtail cache clear` is refused meanwhile
                for rows, vectors in self._encode(missing, ids):
                    for position, row in enumerate(rows):  # cached batch by batch: a killed
                        found[row] = vectors[position : position + 1]  # run keeps its work
                        if self.cache is not None:
                            self.cache.put(texts[row], found[row])
        width = self.model.encoder.config.hidden_size
        out = torch.cat(found) if found else torch.zeros((0, width))
        self.stats = CacheStats(
            len(texts), len(texts) - len(missing), len(missing), time.perf_counter() - started
        )
        self.log(self.stats.line(what))
        return out.float()

    def _encode(self, missing: list[int], ids: Any) -> Iterator[tuple[list[int], torch.Tensor]]:
        """``(rows, (len(rows), H) pooled embeddings)`` per batch of ``missing``, longest first."""
        model = self.model
        model.eval()
        model.encoder.to(self.device)
        bar = tqdm(total=len(missing), desc="encode texts", unit="text", leave=False, disable=None)
        try:
            lengths = [len(ids[i]) for i in missing]
            cap = cpu_batch_tokens(self.device)
            for batch in token_budget_batches(lengths, ENCODE_BATCH_SIZE, cap):
                rows = [missing[i] for i in batch]
                input_ids, mask = pad_batch([ids[i] for i in rows], self.pad_id)
                with torch.inference_mode():
                    pooled = model.embed(input_ids.to(self.device), mask.to(self.device))
                yield rows, pooled.float().cpu()
                bar.update(len(rows))
        finally:
            bar.close()
            model.encoder.to("cpu")


class FrozenEncoderWarning(UserWarning):
    """An encoder setting given together with ``--encoder frozen``, where it does nothing."""


def check_frozen(config: ExperimentConfig, *, documents: bool) -> None:
    """Options that need a trainable encoder: refused with the fix (before anything is encoded),
    or, for the encoder's own learning-rate settings, a :class:`FrozenEncoderWarning`."""
    from longtail.training.strategies import build_strategy

    unused = sorted({"lr", "layer_decay"} & config.train.model_fields_set)
    if unused:
        warnings.warn(
            f"{' and '.join(f'train.{key}' for key in unused)} set the encoder's learning rate, "
            "which --encoder frozen never trains; the head trains at train.head_lr (--head-lr)",
            FrozenEncoderWarning,
            stacklevel=2,
        )

    if config.data.arrow:
        raise LongtailError(
            "--encoder frozen does not combine with --arrow yet (one cached vector per text); "
            "drop --arrow, or use --encoder finetune"
        )
    if not is_off(config.aux_loss):
        raise LongtailError(
            "the auxiliary contrastive loss shapes the encoder's embeddings, and --encoder frozen "
            "trains only the head; drop --aux-loss (or use --encoder finetune)"
        )
    if documents and config.model.head == "mlp":
        raise LongtailError(
            "--head mlp is for short texts; long documents have their own aggregator "
            "(--aggregator): drop --head mlp, or --no-long-documents to truncate the texts"
        )
    for phase in build_strategy(config.strategy, epochs=config.train.epochs):
        if phase.trainable == "top_layers":
            raise LongtailError(
                f"strategy phase {phase.name!r} trains the top {phase.top_layers} encoder "
                "layer(s), and --encoder frozen trains only the head; use --encoder finetune, "
                "or a strategy whose phases train the head"
            )


def frozen_text_parts(
    model: TextClassifier,
    train: TokenizedSplit,
    validation: TokenizedSplit,
    texts: tuple[list[str], list[str]],
    *,
    features: TextFeatures,
) -> tuple[FrozenTextModel, TokenizedSplit, TokenizedSplit]:
    """The trainable head and the training and validation splits as cached embeddings."""
    train_x = features(texts[0], train.ids, "training split")
    validation_x = features(texts[1], validation.ids, "validation split")
    return (
        FrozenTextModel(model),
        TokenizedSplit(train_x, train.y, train.extra),
        TokenizedSplit(validation_x, validation.y, validation.extra),
    )


def phase_rows_on_features(
    model: nn.Module,
    phase: Any,
    split: TokenizedSplit,
    validation: TokenizedSplit,
    batcher: Any,
    eval_batch_size: int,
    log: Callable[[str], None],
) -> tuple[nn.Module, Any, TokenizedSplit, TokenizedSplit, float]:
    """``(module, batcher, train, validation, seconds spent embedding)`` a phase trains on.

    A classifier-only phase of a short-text model gets the pooled encoder embeddings of its rows,
    computed once with the frozen encoder (the vectors a frozen encoder gives are the same every
    epoch), and trains the head on them (:class:`~longtail.training.frozen.FrozenTextModel`):
    seconds, not an encoder pass per epoch. Its checkpoint holds the head alone; on ``--resume``
    the embeddings are computed again from the restored encoder. Document models, whose
    aggregator reads chunk embeddings, keep the token path.
    """
    if phase.trainable not in ("classifier", "scales") or not isinstance(model, TextClassifier):
        return model, batcher, split, validation, 0.0
    started = time.perf_counter()
    device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    model.to(device)

    def embedded(rows: TokenizedSplit) -> TokenizedSplit:
        vectors = predict_logits(
            model, rows, batch_size=eval_batch_size, batcher=batcher, device=device,
            return_embedding=True,
        )  # fmt: skip
        return TokenizedSplit(torch.from_numpy(vectors), rows.y, rows.extra)

    train, validation = embedded(split), embedded(validation)
    model.to("cpu")
    seconds = time.perf_counter() - started
    log(
        f"phase {phase.name}: the frozen encoder embedded {len(split.ids)} + "
        f"{len(validation.ids)} rows once ({seconds:.1f} s); "
        "the head trains on those vectors"
    )
    return FrozenTextModel(model), FeatureBatcher(), train, validation, seconds
