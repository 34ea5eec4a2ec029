"""Result settings: the config without paths and memory knobs, data files by their content."""

from __future__ import annotations

import shutil

import longtail.fingerprint as fingerprint
from longtail.config import build_config
from longtail.fingerprint import NOT_AFFECTING_RESULTS, data_fingerprint, result_settings


def _config(tmp_path, train, test=None, **sections):
    data = {"train": str(train)} | ({"test": str(test)} if test else {})
    return build_config(
        {"data": data, "model": {"name": "some/encoder"}, "output": str(tmp_path / "run")}
        | sections
    )


def test_a_name_not_on_disk_is_a_hub_dataset_and_enters_as_written(tmp_path):
    assert data_fingerprint("stanfordnlp/imdb") == "stanfordnlp/imdb"
    folder = tmp_path / "arrow"
    folder.mkdir()
    (folder / "part-0.arrow").write_bytes(b"one")
    first = data_fingerprint(str(folder))
    (folder / "part-0.arrow").write_bytes(b"two")
    assert first.startswith("sha256:") and data_fingerprint(str(folder)) != first


def test_data_keys_left_out_do_not_count_and_paths_never_do(tmp_path):
    train = tmp_path / "train.csv"
    train.write_text("text,label\na,x\nb,y\n", encoding="utf-8")
    test = shutil.copy(train, tmp_path / "test.csv")
    full = result_settings(_config(tmp_path, train, test))
    assert full["data.train"] == full["data.test"] == data_fingerprint(str(train))
    assert not NOT_AFFECTING_RESULTS & full.keys()

    training_only = result_settings(_config(tmp_path, train, test), data_keys=("data.train",))
    assert "data.test" not in training_only and training_only["data.train"] == full["data.train"]
    (tmp_path / "test.csv").write_text("text,label\na,y\nb,y\n", encoding="utf-8")
    assert result_settings(_config(tmp_path, train, test), data_keys=("data.train",)) == (
        training_only
    )
    elsewhere = _config(tmp_path / "moved", shutil.copy(train, tmp_path / "t2.csv"), test)
    assert result_settings(elsewhere, data_keys=("data.train",)) == training_only


def test_a_null_loss_enters_as_the_default_it_resolves_to(tmp_path, monkeypatch):
    default = result_settings(_config(tmp_path, "t.csv"), task="multilabel")
    spelled_out = result_settings(
        _config(tmp_path, "t.csv", loss={"name": "bce"}), task="multilabel"
    )
    assert default == spelled_out and default["train.early_stopping_metric"] == "pr_auc_macro"
    assert default["decision.fbr"] == 0.3
    fbr_set = result_settings(_config(tmp_path, "t.csv", decision={"fbr": 0.3}), task="multilabel")
    assert fbr_set == default
    auto = result_settings(_config(tmp_path, "t.csv"))  # task unknown: every task's default
    assert auto["loss@multilabel.name"] == "bce" and "loss@multilabel.pos_weight" not in auto
    assert auto["loss@binary.weights"] == "effective_number"
    assert (auto["decision.fbr@binary"], auto["decision.fbr@multiclass"]) == (0.0, 0.2)
    assert "decision.fbr" not in auto

    weighted = {"name": "bce", "pos_weight": "sqrt_ratio", "max_weight": 100.0}
    monkeypatch.setitem(fingerprint.TASK_DEFAULTS, "loss", lambda task: weighted)
    after = result_settings(_config(tmp_path, "t.csv"), task="multilabel")
    assert after["loss.pos_weight"] == "sqrt_ratio" and after != default  # a grid retrains


#: Every config key longtail had on 2026-12-07, when :data:`longtail.fingerprint.ADDED_OPTIONS`
#: began. Frozen: a key added later goes into ``ADDED_OPTIONS``, never here.
KEYS_OF_2026_12_07 = frozenset(
    (
        "data.train",
        "data.validation",
        "data.test",
        "data.text_column",
        "data.label_column",
        "data.label_delimiter",
        "data.task",
        "data.positive_label",
        "data.val_fraction",
        "data.strict",
        "data.arrow",
        "data.arrow_cache_dir",
        "data.extra_features",
        "data.extra_features_from",
        "data.extra_features_folds",
        "model.name",
        "model.max_length",
        "model.pooling",
        "model.dropout",
        "model.gradient_checkpointing",
        "model.trust_remote_code",
        "model.encoder",
        "model.runtime",
        "model.head",
        "model.head_hidden",
        "train.epochs",
        "train.min_steps",
        "train.max_epochs",
        "train.max_steps",
        "train.batch_size",
        "train.eval_batch_size",
        "train.lr",
        "train.head_lr",
        "train.layer_decay",
        "train.weight_decay",
        "train.warmup_ratio",
        "train.grad_accum",
        "train.max_grad_norm",
        "train.mixed_precision",
        "train.early_stopping_metric",
        "train.patience",
        "train.group_by_length",
        "train.save_steps",
        "train.logging_steps",
        "train.compile",
        "train.seed",
        "long_documents.enabled",
        "long_documents.mode",
        "long_documents.chunk_length",
        "long_documents.stride",
        "long_documents.aggregator",
        "long_documents.max_chunks",
        "long_documents.chunk_batch_size",
        "long_documents.checkpoint",
        "long_documents.activation_memory_mb",
        "long_documents.max_chars",
        "long_documents.on_too_long",
        "long_documents.cache_dir",
        "loss",
        "sampler",
        "strategy",
        "sam",
        "aux_loss",
        "augment.method",
        "augment.target_ratio",
        "augment.cache_dir",
        "augment.min_words",
        "augment.quality_plot",
        "decision.calibrate",
        "decision.logit_adjust",
        "decision.objective",
        "decision.beta",
        "decision.floor",
        "decision.tune_thresholds",
        "decision.fbr",
        "decision.tuning_check",
        "decision.tuning_confidence",
        "output",
        "track",
        "track_dir",
    )
)


def test_every_option_added_since_2026_12_07_is_registered_with_its_value_from_before():
    from longtail.config import ExperimentConfig
    from longtail.config.loading import leaf_fields

    unregistered = sorted(
        key
        for key, _ in leaf_fields(ExperimentConfig)
        if key not in KEYS_OF_2026_12_07
        and key not in fingerprint.ADDED_OPTIONS
        and key not in fingerprint.NOT_AFFECTING_RESULTS  # never in the settings
    )
    assert not unregistered, (
        f"new config keys {unregistered}: add each to longtail.fingerprint.ADDED_OPTIONS with "
        "the value that does what longtail did before it, so that checkpoints resume and grid "
        "cells stay finished across the upgrade"
    )


def test_an_added_option_at_its_former_value_leaves_the_settings_as_before(tmp_path, monkeypatch):
    data = tmp_path / "train.csv"
    data.write_text("text,label\na,x\nb,y\n", encoding="utf-8")
    settings = result_settings(_config(tmp_path, data))
    registered = fingerprint.without_added_defaults(settings)
    assert "decision.target_priors" not in registered and "train.lr" in registered
    monkeypatch.setitem(fingerprint.ADDED_OPTIONS, "train.lr", settings["train.lr"])
    before = {k: v for k, v in registered.items() if k != "train.lr"}
    assert fingerprint.without_added_defaults(settings) == before
    faster = result_settings(
        build_config(
            {"data": {"train": str(data)}, "model": {"name": "some/encoder"}, "train": {"lr": 0.5}}
        )
    )
    assert fingerprint.without_added_defaults(faster)["train.lr"] == 0.5, "another value counts"
