"""The frozen-encoder path for short texts: head-only module, cached features, config defaults."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from longtail.cache import EmbeddingCache
from longtail.config import FROZEN_TRAIN_DEFAULTS, build_config
from longtail.data.tokenized import TokenizedSplit
from longtail.errors import LongtailError
from longtail.evaluation.convergence import stop_reason
from longtail.models import TextClassifier
from longtail.text.batching import pad_batch, tokenize
from longtail.training.frozen import (
    FeatureBatcher,
    FrozenTextModel,
    TextFeatures,
    check_frozen,
    text_cache,
)

TEXTS = ["free cash prize now", "see you at lunch", "free cash prize now", "good night"]


@pytest.fixture
def tiny(tiny_model_dir):
    encoder = AutoModel.from_pretrained(tiny_model_dir)
    return encoder, AutoTokenizer.from_pretrained(tiny_model_dir)


def _features(model, tokenizer, cache, logs=None):
    return TextFeatures(
        model, lambda texts: tokenize(tokenizer, texts, 32), cache, pad_id=0,
        device=torch.device("cpu"), log=(logs.append if logs is not None else lambda line: None),
    )  # fmt: skip


@pytest.mark.parametrize("hidden", [None, 8])
def test_frozen_module_holds_the_head_only_and_matches_the_full_model(tiny, hidden):
    encoder, tokenizer = tiny
    model = TextClassifier(encoder, 3, dropout=0.0, head_hidden=hidden)
    frozen = FrozenTextModel(model)
    expected = {"head.weight", "head.bias"} | (
        {"hidden.0.weight", "hidden.0.bias"} if hidden else set()
    )
    assert set(frozen.state_dict()) == expected  # checkpoints never carry the encoder
    assert not any(p.requires_grad for p in model.encoder.parameters())
    ids, mask = pad_batch(tokenize(tokenizer, TEXTS, 32), 0)
    model.eval()
    with torch.no_grad():
        full = model(ids, mask)
        from_features = frozen(model.embed(ids, mask))
    torch.testing.assert_close(full, from_features)
    with torch.no_grad():  # a step on the frozen module moves the classifier's own head
        frozen.head.weight.add_(1.0)
    assert torch.equal(model.head.weight, frozen.head.weight)


def test_features_are_cached_once_and_equal_the_pooled_embedding(tiny, tmp_path):
    encoder, tokenizer = tiny
    model = TextClassifier(encoder, 2)
    config = build_config({"model": {"encoder": "frozen"}})
    tok = lambda texts: tokenize(tokenizer, texts, 32)  # noqa: E731
    cache = text_cache(config.model, config.long_documents.cache_dir, "tiny", encoder, tok, 32)
    logs: list[str] = []
    features = _features(model, tokenizer, cache, logs)
    first = features(TEXTS, what="a")
    assert (features.stats.hits, features.stats.encoded) == (0, 4)
    again = features(TEXTS, what="b")
    assert (features.stats.hits, features.stats.encoded) == (4, 0)
    torch.testing.assert_close(first, again)
    ids, mask = pad_batch(tok(TEXTS), 0)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(first, model.embed(ids, mask), atol=1e-5, rtol=1e-5)
    assert logs[-1].startswith("text embeddings (b): 4 of 4 from the cache, 0 encoded")


def test_the_cache_key_separates_length_pooling_and_encoder(tiny, tmp_path):
    encoder, tokenizer = tiny
    config = build_config(
        {"model": {"encoder": "frozen"}, "long_documents": {"cache_dir": str(tmp_path)}}
    )
    tok = lambda n: lambda texts: tokenize(tokenizer, texts, n)  # noqa: E731
    base = text_cache(config.model, config.long_documents.cache_dir, "tiny", encoder, tok(32), 32)
    assert isinstance(base, EmbeddingCache) and base.root == tmp_path
    cls = build_config({"model": {"encoder": "frozen", "pooling": "cls"}})
    others = [
        text_cache(config.model, config.long_documents.cache_dir, "tiny", encoder, tok(16), 16),
        text_cache(cls.model, cls.long_documents.cache_dir, "tiny", encoder, tok(32), 32),
        text_cache(config.model, config.long_documents.cache_dir, "other", encoder, tok(32), 32),
    ]
    assert len({base.directory.name, *(c.directory.name for c in others)}) == 4
    assert (
        base.directory
        == text_cache(
            config.model, config.long_documents.cache_dir, "tiny", encoder, tok(32), 32
        ).directory
    )


def test_feature_batcher_stacks_rows():
    split = TokenizedSplit(torch.arange(12.0).reshape(4, 3), [0, 1, 0, 1])
    batch = FeatureBatcher()(split, [2, 0], training=True)["features"]
    assert batch.tolist() == [[6.0, 7.0, 8.0], [0.0, 1.0, 2.0]]
    listed = TokenizedSplit(list(torch.arange(12.0).reshape(4, 3)))
    assert FeatureBatcher()(listed, [2, 0], training=False)["features"].tolist() == batch.tolist()


def test_frozen_defaults_train_long_unless_set():
    frozen = build_config({"model": {"encoder": "frozen"}})
    train = frozen.train
    assert (train.epochs, train.max_epochs, train.min_steps) == (None, 200, 0)  # to convergence
    assert (train.patience, train.warmup_ratio) == (10, 0.0)
    assert {k: getattr(train, k) for k in FROZEN_TRAIN_DEFAULTS} == FROZEN_TRAIN_DEFAULTS
    given = build_config({"model": {"encoder": "frozen"}, "train": {"epochs": 4, "patience": None}})
    assert (given.train.epochs, given.train.patience) == (4, None)
    plain = build_config({})
    assert (plain.train.epochs, plain.train.patience, plain.train.max_epochs) == (None, 3, 100)


@pytest.mark.parametrize(
    ("model", "needle"),
    [
        ({"encoder": "frozen", "gradient_checkpointing": True}, "drop --gradient-checkpointing"),
        ({"head_hidden": 16}, "add --head mlp"),
    ],
)
def test_model_settings_that_contradict_each_other(model, needle):
    with pytest.raises(LongtailError, match=needle):
        build_config({"model": model})


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"aux_loss": "supcon"}, "drop --aux-loss"),
        ({"strategy": "prefinetune_da"}, "trains the top 1 encoder layer"),
        ({"data": {"arrow": True}}, "drop --arrow"),
    ],
)
def test_options_that_need_a_trainable_encoder(data, needle):
    config = build_config({"model": {"encoder": "frozen"}, **data})
    with pytest.raises(LongtailError, match=needle):
        check_frozen(config, documents=False)


def test_check_frozen_accepts_head_phases():
    for strategy in ("vanilla", "lp_ft", "drw"):
        check_frozen(
            build_config({"model": {"encoder": "frozen"}, "strategy": strategy}), documents=False
        )
    with pytest.raises(LongtailError, match="--head mlp is for short texts"):
        check_frozen(build_config({"model": {"encoder": "frozen", "head": "mlp"}}), documents=True)


def test_stop_reason_names_epochs_steps_and_the_kept_epoch():
    history = [
        {"epoch": 1, "step": 10, "val_score": 0.5},
        {"epoch": 2, "step": 20, "val_score": 0.7},
        {"epoch": 3, "step": 30, "val_score": 0.6},
    ]
    line = stop_reason(history, stopped_early=True, patience=1)
    assert line.startswith("3 epochs, 30 steps: early stopping (no better validation score in 1")
    assert "weights of epoch 2 kept (validation score 0.7000)" in line
    assert "budget" in stop_reason(history, stopped_early=False, patience=10)  # older records
    assert stop_reason([], stopped_early=False, patience=None) == "no epoch ran"
    converged = stop_reason(
        history, stopped_early=True, patience=3, stop="early_stopping", min_steps=500
    )
    assert "no better validation score in 3 epochs, after at least 500 steps" in converged
    assert "train.epochs) ran out" in stop_reason(
        history, stopped_early=False, patience=2, stop="epochs"
    )
    budget = stop_reason(
        history, stopped_early=False, patience=3, stop="max_epochs", max_epochs=100
    )
    assert "train.max_epochs (100) ran out before early stopping" in budget
    assert "null" in stop_reason(history, stopped_early=False, patience=None, stop="max_epochs")
    assert "train.max_steps 30) ran out" in stop_reason(
        history, stopped_early=False, patience=3, stop="max_steps", max_steps=30
    )
    assert "perfect validation score" in stop_reason(
        history, stopped_early=True, patience=3, stop="perfect_score"
    )


def test_an_encoder_learning_rate_is_a_named_warning():
    from longtail.training.frozen import FrozenEncoderWarning

    config = build_config({"model": {"encoder": "frozen"}, "train": {"lr": 1e-4}})
    with pytest.warns(FrozenEncoderWarning, match="train.lr set the encoder's learning rate"):
        check_frozen(config, documents=False)
