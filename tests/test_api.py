"""``longtail.train``'s keywords: every ``longtail train`` flag by its dest, built into the same
config as the flag, with a one-line error for an unknown one. No training runs here."""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import annotated_types
import pytest

import longtail
from longtail.api import experiment_config
from longtail.cli import build_parser
from longtail.cli.train import config_from_args
from longtail.config import ExperimentConfig, dump_config
from longtail.errors import LongtailError
from longtail.options import Option, config_annotation, options

#: The base both sides start from: an mlp head, so ``head_hidden`` has something to size.
BASE = "model:\n  head: mlp\n"


def _number(option: Option, kind: type, current: Any) -> Any:
    """A value inside the field's bounds that is not the current one."""
    field = _field(option.key)
    low = high = None
    for bound in field.metadata:
        if isinstance(bound, annotated_types.Ge | annotated_types.Gt):
            low = getattr(bound, "ge", getattr(bound, "gt", None))
        if isinstance(bound, annotated_types.Le | annotated_types.Lt):
            high = getattr(bound, "le", getattr(bound, "lt", None))
    if low is not None and high is not None:
        value = (low + 3 * high) / 4 if kind is float else int(low) + 1
    else:
        value = (low or 0) + (5 if kind is int else 0.5)
    assert value != current, option.key
    return kind(value)


def _field(key: str) -> Any:
    section, _, name = key.rpartition(".")
    model = config_annotation(section) if section else ExperimentConfig
    return model.model_fields[name]


def _sample(option: Option, current: Any) -> tuple[list[str], Any]:
    """(flag arguments, keyword value) that set ``option`` to something other than its
    ``current`` value; derived from its argparse kind, so a new option is covered without
    editing this."""
    kind = option.kind
    if kind.get("action") == "store_true":
        return [option.flag], True
    if kind.get("action") is argparse.BooleanOptionalAction:
        return [f"--no-{option.flag.removeprefix('--')}"], False
    if kind.get("action") == "append":
        return [option.flag, kind["choices"][-1]], [kind["choices"][-1]]
    if "choices" in kind:
        value = next(c for c in reversed(kind["choices"]) if c != current)
        return [option.flag, value], value
    if kind.get("type") in (int, float):
        value = _number(option, kind["type"], current)
        return [option.flag, str(value)], value
    if kind.get("type") is not None:  # a comma-separated list
        return [option.flag, "a,b"], ["a", "b"]
    literals = [a for a in get_args(option.annotation) if get_origin(a) is Literal]
    value = get_args(literals[0])[-1] if literals else "x"  # a Literal | float: its last name
    return [option.flag, value], value


def _at(config: ExperimentConfig, key: str) -> Any:
    value: Any = config
    for part in key.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize("option", options(), ids=lambda o: o.dest)
def test_a_keyword_and_its_flag_build_the_same_config(option, tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(BASE, encoding="utf-8")
    untouched = _at(experiment_config(config=base), option.key)
    argv, value = _sample(option, untouched)
    from_flag = config_from_args(build_parser().parse_args(["train", "--config", str(base), *argv]))
    from_keyword = experiment_config(config=base, **{option.dest: value})
    assert dump_config(from_keyword) == dump_config(from_flag)
    assert _at(from_keyword, option.key) == value != untouched  # the keyword set its own key


def test_the_historical_keywords_still_work():
    config = experiment_config(
        "train.csv",
        output="runs/x",
        text_column="body",
        label_column="y",
        validation_data="val.csv",
        test_data="test.csv",
        model="enc",
        loss={"name": "focal", "gamma": 2.0},
        sampler="sqrt",
        strategy="drw",
        augment="eda",
        epochs=3,
    )
    assert (config.data.train, config.data.validation, config.data.test) == (
        "train.csv",
        "val.csv",
        "test.csv",
    )
    assert (config.data.text_column, config.data.label_column, config.model.name) == (
        "body",
        "y",
        "enc",
    )
    assert config.loss == {"name": "focal", "gamma": 2.0}
    assert (config.sampler, config.strategy, config.augment.method) == ("sqrt", "drw", "eda")
    assert (config.train.epochs, config.output) == (3, "runs/x")


def test_new_keywords_have_the_flag_names_and_paths_become_text():
    config = experiment_config(
        Path("data") / "train.csv",
        output=Path("runs/a"),
        lr=3e-5,
        max_length=128,
        threshold_objective="mcc",
        cache_dir=Path("cache"),
        extra_features="p, q",
        overrides=["train.lr=1e-4"],  # overrides still win
    )
    assert config.data.train == str(Path("data") / "train.csv") and config.output == "runs/a"
    assert config.long_documents.cache_dir == "cache" and config.data.extra_features == ["p", "q"]
    assert (config.train.lr, config.model.max_length, config.decision.objective) == (
        1e-4,
        128,
        "mcc",
    )


def test_a_config_dict_is_not_written_into():
    given = {"train": {"lr": 1e-3}}
    assert experiment_config(config=given, batch_size=8).train.batch_size == 8
    assert given == {"train": {"lr": 1e-3}}


def test_an_unknown_keyword_is_one_line_naming_it_and_the_closest(tmp_path):
    with pytest.raises(LongtailError) as error:
        longtail.train(tmp_path / "x.csv", output=tmp_path / "run", bogus=1)
    message = str(error.value)
    assert "\n" not in message and "'bogus'" in message and "longtail.train" in message
    with pytest.raises(LongtailError, match=r"'lrr' \(did you mean 'lr'"):
        experiment_config(lrr=1e-3)
    with pytest.raises(LongtailError, match=r"'threshold_objetive' \(did you mean "
                       r"'threshold_objective'"):  # fmt: skip
        experiment_config(threshold_objetive="mcc")
    assert not (tmp_path / "run").exists()  # refused before any run started


def test_the_signature_lists_every_option_as_a_keyword():
    parameters = inspect.signature(longtail.train).parameters
    assert list(parameters)[0] == "data"
    assert parameters["data"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    for option in options():
        parameter = parameters[option.dest]
        assert parameter.default is None, option.dest
        if option.dest != "data":
            assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, option.dest
        assert f"{option.dest} ({option.key})" in longtail.train.__doc__
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    for own in ("config", "overrides", "resume", "overwrite", "verbose"):
        assert own in parameters
