"""Numeric options of the augmentation methods: parsed and range-checked when the method is built.

:func:`longtail.augment.back_translation.check_number` is the one check every method uses; a bad
value is one :class:`LongtailError` line naming the method, the option, the value and what is
allowed, before any model loads. The models here are empty directories: nothing is loaded.
"""

from __future__ import annotations

from typing import Any

import pytest

from longtail.augment import build_augmenter
from longtail.augment.back_translation import check_number
from longtail.augment.llm_backends import LocalBackend, OpenAIBackend
from longtail.augment.wordnet import DictSynonyms
from longtail.cli.augment import parse_params
from longtail.errors import LongtailError

SYN = DictSynonyms({"cash": ["money"]})


def _params(name: str, model_dir: str) -> dict[str, Any]:
    if name == "eda":
        return {"synonyms": SYN}
    if name == "back_translation":
        return {"forward_model": model_dir, "backward_model": model_dir}
    return {"backend": "local", "model": model_dir}


def test_text_from_the_command_line_is_one_line_naming_the_option():
    params = parse_params(["alpha_sr=abc"])  # what `longtail augment ... alpha_sr=abc` passes
    with pytest.raises(LongtailError) as exc:
        build_augmenter({"name": "eda", "synonyms": SYN, **params})
    assert str(exc.value) == "eda: alpha_sr must be a number in [0, 1], got 'abc'"


@pytest.mark.parametrize(
    ("name", "option", "value", "allowed"),
    [
        ("eda", "p_rd", float("nan"), "a number in [0, 1]"),
        ("eda", "num_aug", 0, "an integer >= 1 (or None)"),
        ("eda", "num_aug", True, "an integer >= 1 (or None)"),
        ("back_translation", "num_beams", "abc", "an integer >= 1"),
        ("back_translation", "temperature", 0, "a number > 0"),
        ("back_translation", "top_k", -1, "an integer >= 0"),
        ("back_translation", "batch_size", 2.5, "an integer >= 1"),
        ("llm", "max_new_tokens", 0, "an integer >= 1"),
        ("llm", "max_new_tokens", "abc", "an integer >= 1"),
        ("llm", "num_examples", -1, "an integer >= 0"),
        ("llm", "batch_size", -1, "an integer >= 1"),
        ("llm", "temperature", -0.5, "a number >= 0"),
        ("llm", "timeout", 0, "a number > 0"),
        ("llm", "max_retries", -1, "an integer >= 0"),
        ("llm", "retry_backoff", float("inf"), "a number >= 0"),
        ("llm", "requests_per_minute", -1, "a number >= 0 (or None)"),
    ],
)
def test_bad_number_is_refused_when_built(name, option, value, allowed, tmp_path):
    with pytest.raises(LongtailError) as exc:
        build_augmenter({"name": name, **_params(name, str(tmp_path)), option: value})
    assert str(exc.value) == f"{name}: {option} must be {allowed}, got {value!r}"


@pytest.mark.parametrize(
    ("name", "option", "value"),
    [
        ("eda", "alpha_sr", 0),  # 0 turns an operation off
        ("eda", "p_rd", 1),
        ("back_translation", "top_k", 0),  # transformers: no top-k cut
        ("llm", "num_examples", 0),  # a zero-shot prompt
        ("llm", "temperature", 0),  # greedy (local)
        ("llm", "max_retries", 0),
        ("llm", "retry_backoff", 0),
        ("llm", "requests_per_minute", 0),  # no rate limit, as None
        ("llm", "requests_per_minute", None),
    ],
)
def test_boundary_values_that_mean_something_are_kept(name, option, value, tmp_path):
    build_augmenter({"name": name, **_params(name, str(tmp_path)), option: value})


def test_numbers_as_text_parse_and_keep_their_type(tmp_path):
    """Config files may quote numbers; the fingerprint sees the same ``int``/``float`` as before."""
    bt = build_augmenter(
        {
            "name": "back_translation",
            **_params("back_translation", str(tmp_path)),
            "num_beams": "4",
            "top_k": 50.0,
            "temperature": 1,
        }
    )
    params = bt.cache_params()
    assert (params["num_beams"], params["top_k"], params["temperature"]) == (4, 50, 1.0)
    assert type(params["num_beams"]) is int and type(params["top_k"]) is int
    assert type(params["temperature"]) is float
    eda = build_augmenter({"name": "eda", "synonyms": SYN, "alpha_sr": " 0.25 ", "num_aug": "3"})
    assert eda.cache_params()["alpha_sr"] == 0.25 and eda.max_per_text == 3


def test_check_number_bounds():
    assert check_number(1e30, "x", "m", low=0) == 1e30
    assert check_number(2**80, "x", "m", integer=True, low=1) == 2**80
    assert check_number(None, "x", "m", low=0, none_ok=True) is None
    for bad in (None, [1], "1e999", "2.5", 2.5, False):
        with pytest.raises(LongtailError, match="m: x must be an integer, got"):
            check_number(bad, "x", "m", integer=True)
    for bad in (10**400, "nan", "-inf", ""):
        with pytest.raises(LongtailError, match="m: x must be a number, got"):
            check_number(bad, "x", "m")
    with pytest.raises(LongtailError, match=r"must be a number in \(0, 1\], got 0"):
        check_number(0, "x", "m", low=0, high=1, low_open=True)
    with pytest.raises(LongtailError, match="must be a number <= 2, got 3"):
        check_number(3, "x", "m", high=2)


def test_backends_check_their_own_numbers(tmp_path):
    with pytest.raises(LongtailError, match="llm: timeout must be a number > 0, got 'soon'"):
        OpenAIBackend("m", "http://127.0.0.1:9", timeout="soon")
    with pytest.raises(LongtailError, match="llm: batch_size must be an integer >= 1, got 0"):
        LocalBackend(str(tmp_path), batch_size=0)
