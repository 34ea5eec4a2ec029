"""Options generated from the config model: one flag and one keyword per config leaf, the
historical flags unchanged, help from the field descriptions and the registries."""

from __future__ import annotations

import argparse
import inspect
import keyword
import re

import pytest

from longtail.cli import build_parser, main
from longtail.cli.train import config_flag_keys
from longtail.config import ExperimentConfig, valid_keys
from longtail.options import REGISTRIES, option_keys, options, options_by_dest

#: Every ``longtail train`` flag that set a config key before the flags were generated, and its
#: key: each must keep working exactly as it did.
HISTORICAL_FLAGS = {
    "--data": "data.train",
    "--validation-data": "data.validation",
    "--test-data": "data.test",
    "--text-column": "data.text_column",
    "--label-column": "data.label_column",
    "--label-delimiter": "data.label_delimiter",
    "--task": "data.task",
    "--positive-label": "data.positive_label",
    "--val-fraction": "data.val_fraction",
    "--strict": "data.strict",
    "--arrow": "data.arrow",
    "--arrow-cache-dir": "data.arrow_cache_dir",
    "--model": "model.name",
    "--max-length": "model.max_length",
    "--pooling": "model.pooling",
    "--gradient-checkpointing": "model.gradient_checkpointing",
    "--trust-remote-code": "model.trust_remote_code",
    "--encoder": "model.encoder",
    "--runtime": "model.runtime",
    "--head": "model.head",
    "--head-hidden": "model.head_hidden",
    "--epochs": "train.epochs",
    "--max-steps": "train.max_steps",
    "--batch-size": "train.batch_size",
    "--lr": "train.lr",
    "--head-lr": "train.head_lr",
    "--layer-decay": "train.layer_decay",
    "--grad-accum": "train.grad_accum",
    "--mixed-precision": "train.mixed_precision",
    "--early-stopping-metric": "train.early_stopping_metric",
    "--patience": "train.patience",
    "--seed": "train.seed",
    "--save-steps": "train.save_steps",
    "--logging-steps": "train.logging_steps",
    "--compile": "train.compile",
    "--loss": "loss",
    "--sampler": "sampler",
    "--threshold-objective": "decision.objective",
    "--threshold-beta": "decision.beta",
    "--threshold-floor": "decision.floor",
    "--calibrate": "decision.calibrate",
    "--logit-adjust": "decision.logit_adjust",
    "--strategy": "strategy",
    "--sam": "sam",
    "--aux-loss": "aux_loss",
    "--augment": "augment.method",
    "--augment-ratio": "augment.target_ratio",
    "--augment-cache-dir": "augment.cache_dir",
    "--long-documents": "long_documents.enabled",
    "--no-long-documents": "long_documents.enabled",
    "--long-mode": "long_documents.mode",
    "--chunk-length": "long_documents.chunk_length",
    "--stride": "long_documents.stride",
    "--aggregator": "long_documents.aggregator",
    "--max-chunks": "long_documents.max_chunks",
    "--chunk-batch-size": "long_documents.chunk_batch_size",
    "--activation-memory-mb": "long_documents.activation_memory_mb",
    "--cache-dir": "long_documents.cache_dir",
    "--extra-features": "data.extra_features",
    "--extra-features-from": "data.extra_features_from",
    "--extra-features-folds": "data.extra_features_folds",
    "--output": "output",
    "--track": "track",
    "--track-dir": "track_dir",
}

#: ``longtail train`` flags that set no single config key.
SPECIAL_DESTS = {"help", "config", "no_calibration", "aux_weight", "resume", "overwrite"}


def _train_parser() -> argparse.ArgumentParser:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices["train"]


def _parse(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(["train", *argv])


def test_every_config_leaf_has_exactly_one_option_flag_and_keyword():
    leaves = valid_keys(ExperimentConfig)  # the config's own walk, used for its error hints
    assert sorted(option.key for option in options()) == sorted(leaves)
    flag_keys = config_flag_keys()
    assert sorted(flag_keys.values()) == sorted(leaves)  # each leaf set by exactly one flag
    assert {o.dest: o.key for o in options()} == flag_keys


def test_flags_and_keywords_are_unique_identifiers_that_clash_with_nothing():
    flags = [option.flag for option in options()]
    dests = [option.dest for option in options()]
    assert len(set(flags)) == len(flags) and len(set(dests)) == len(dests)
    for dest in dests:
        assert dest.isidentifier() and not keyword.iskeyword(dest), dest
    assert not SPECIAL_DESTS & set(dests)
    from longtail.api import train

    own = {"config", "overrides", "resume", "overwrite", "verbose"}
    assert own <= set(inspect.signature(train).parameters)
    assert not own & set(dests), "an option would shadow a parameter of longtail.train"
    parser_dests = [a.dest for a in _train_parser()._actions if a.option_strings]
    assert len(parser_dests) == len(set(parser_dests))


@pytest.mark.parametrize(("flag", "key"), sorted(HISTORICAL_FLAGS.items()))
def test_every_historical_flag_still_sets_the_same_key(flag, key):
    [action] = [a for a in _train_parser()._actions if flag in a.option_strings]
    assert config_flag_keys()[action.dest] == key


def test_historical_flags_parse_their_values_as_before():
    args = _parse(
        ["--lr", "3e-5", "--strict", "--no-long-documents", "--extra-features", "a, b,"]
        + ["--track", "mlflow", "--track", "wandb", "--logit-adjust", "tuned", "--max-length", "9"]
    )
    assert (args.lr, args.strict, args.long_documents) == (3e-5, True, False)
    assert args.extra_features == ["a", "b"]
    assert args.track == ["mlflow", "wandb"]
    assert (args.logit_adjust, args.max_length) == ("tuned", 9)
    unset = _parse([])
    assert all(getattr(unset, o.dest) is None for o in options())  # unset leaves the config
    with pytest.raises(SystemExit):
        _parse(["--task", "regression"])  # choices from the Literal


def test_fields_without_a_flag_before_now_have_one():
    args = _parse(
        ["--min-steps", "7", "--max-epochs", "9", "--warmup-ratio", "0.1"]
        + ["--tuning-check", "none", "--augment-min-words", "2", "--on-too-long", "truncate"]
        + ["--no-chunk-checkpointing", "--no-tune-thresholds", "--no-group-by-length"]
    )
    from longtail.cli.train import config_from_args

    config = config_from_args(args)
    assert (config.train.min_steps, config.train.max_epochs, config.train.warmup_ratio) == (
        7,
        9,
        0.1,
    )
    assert config.decision.tuning_check == "none" and config.augment.min_words == 2
    assert config.long_documents.on_too_long == "truncate"
    assert config.long_documents.checkpoint is False
    assert config.decision.tune_thresholds is False and config.train.group_by_length is False


def test_every_leaf_is_documented_in_the_schema_and_the_help_is_its_description():
    schema = ExperimentConfig.model_json_schema()

    def description(key: str) -> str:
        node = schema
        for part in key.split("."):
            node = node["properties"][part]
            if "$ref" in node:
                node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
        return node.get("description", "")

    help_of = {a.dest: a.help for a in _train_parser()._actions}
    for option in options():
        assert description(option.key).strip(), f"{option.key} has no Field(description=...)"
        assert description(option.key) == option.description
        assert help_of[option.dest] == option.description.replace("%", "%%")


def test_registry_keys_are_the_config_component_keys():
    from longtail.config.loading import _spec_keys

    assert set(REGISTRIES) == _spec_keys()


@pytest.fixture
def throwaway_entries():
    """One extra name in every registry, removed afterwards."""
    added = []
    for key, registry in REGISTRIES.items():
        name = f"zz_throwaway_{key.replace('.', '_')}"
        registry().register(name)(lambda **_: None)
        added.append((registry(), name))
    yield {key: f"zz_throwaway_{key.replace('.', '_')}" for key in REGISTRIES}
    for registry, name in added:
        del registry._factories[name]


def test_a_newly_registered_component_appears_in_train_help(throwaway_entries, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for key, name in throwaway_entries.items():
        [option] = [o for o in options() if o.key == key]
        [block] = re.findall(rf"^  {re.escape(option.flag)} .*?(?=^  -|\Z)", out, re.M | re.S)
        assert name in block, (option.flag, block)
    assert len(re.findall("zz_throwaway_", out)) == len(REGISTRIES)


def test_the_throwaway_entries_are_gone_afterwards():
    for registry in REGISTRIES.values():
        assert not [n for n in registry().names() if n.startswith("zz_throwaway_")]


def test_estimator_parameters_are_options_of_the_same_names():
    from longtail.estimator import PARAMETER_KEYS, LongtailClassifier

    init = inspect.signature(LongtailClassifier.__init__).parameters
    flag_keys = config_flag_keys()
    assert set(PARAMETER_KEYS) <= set(init)
    for name, key in PARAMETER_KEYS.items():
        assert flag_keys[name] == key  # the estimator's `lr` is the CLI's --lr
    assert PARAMETER_KEYS["model"] == "model.name"


def test_option_keys_refuses_a_name_that_is_no_option():
    assert option_keys("lr", "augment") == {"lr": "train.lr", "augment": "augment.method"}
    with pytest.raises(KeyError):
        option_keys("learning_rate")
    assert options_by_dest()["threshold_objective"].key == "decision.objective"
