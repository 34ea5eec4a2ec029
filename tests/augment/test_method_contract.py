"""The contract of every augmentation method in :data:`longtail.augment.AUGMENTERS`.

Each test takes its parameter list from the registry, so a newly registered method is covered
at once; it then needs an entry in ``MINIMAL`` (how to build it offline, with tiny models) and
``OUT_OF_RANGE`` (one documented bad value), and a test below says so when either is missing.
The tiny models are the fixtures of the method's own tests (``test_back_translation``,
``test_llm_local``); nothing here touches the network.
"""

from __future__ import annotations

import inspect
import json
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from test_back_translation import tiny_marian  # noqa: F401  (fixture)
from test_llm_local import tiny_gpt2  # noqa: F401  (fixture)

from longtail.augment import AUGMENTERS, Augmenter, augment_minority, build_augmenter
from longtail.augment.wordnet import DictSynonyms
from longtail.cli import build_parser
from longtail.config import OFF
from longtail.errors import LongtailError

METHODS = [name for name in AUGMENTERS.names() if name != OFF]  # the methods; `none` below
TEXTS = ["win cash now please", "hi see you later at home", "call now to claim the prize"]
EXAMPLES = ["free text reply now", "claim the prize today"]

# name -> (pytest request -> the smallest parameters that build a method that runs offline)
MINIMAL: dict[str, Callable[[pytest.FixtureRequest], dict[str, Any]]] = {
    "eda": lambda request: {"synonyms": DictSynonyms({"cash": ["money"], "prize": ["award"]})},
    "back_translation": lambda request: {
        "forward_model": str(request.getfixturevalue("tiny_marian")),
        "backward_model": str(request.getfixturevalue("tiny_marian")),
        "max_new_tokens": 4,
        "num_beams": 2,
    },
    "llm": lambda request: {
        "backend": "local",
        "model": str(request.getfixturevalue("tiny_gpt2")),
        "max_new_tokens": 6,
        "temperature": 1.0,
    },
}

# name -> a documented parameter value that must be refused when the method is built
OUT_OF_RANGE: dict[str, dict[str, Any]] = {
    "eda": {"alpha_sr": 1.5},
    "back_translation": {"num_beams": 0},
    "llm": {"backend": "no-such-backend"},
}


def _minimal(name: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    assert name in MINIMAL, f"add a MINIMAL offline config for the augmentation method {name!r}"
    return MINIMAL[name](request)


def _build(spec: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # WordNet may be absent: EDA warns and swaps/deletes
        return build_augmenter(spec)


def _augment(method: Any, texts: list[str], n: int, seed: int) -> list[list[str]]:
    if getattr(method, "uses_examples", False):
        return method.augment(texts, n, seed=seed, examples=EXAMPLES)
    return method.augment(texts, n, seed=seed)


def _one_line(exc: pytest.ExceptionInfo[LongtailError]) -> str:
    message = str(exc.value)
    assert message and "\n" not in message
    return message


def _numeric_parameters(name: str) -> list[str]:
    """The keyword parameters of the method that take a number: a numeric default (not a bool)
    or an ``int`` / ``float`` annotation (``num_aug: int | None = None``)."""
    return [
        p.name
        for p in inspect.signature(AUGMENTERS.get(name)).parameters.values()
        if (isinstance(p.default, (int, float)) and not isinstance(p.default, bool))
        or re.search(r"\b(int|float)\b", str(p.annotation))
    ]


def test_every_method_has_a_contract_entry():
    assert sorted(MINIMAL) == METHODS, "MINIMAL must list every registered method"
    assert sorted(OUT_OF_RANGE) == METHODS, "OUT_OF_RANGE must list every registered method"


def test_unknown_method_names_every_registered_one():
    with pytest.raises(LongtailError) as exc:
        build_augmenter("no-such-method")
    message = _one_line(exc)
    assert "no-such-method" in message and all(name in message for name in METHODS)


def test_augment_help_names_every_method():
    commands = next(a for a in build_parser()._actions if a.dest == "command")
    parser = commands.choices["augment"]
    (method,) = [a for a in parser._actions if "--method" in a.option_strings]
    assert all(name in method.help for name in METHODS), method.help


@pytest.mark.parametrize("name", METHODS)
def test_name_attribute_is_the_registered_name(name):
    """The cache and the statistics key on ``method.name``: it must be the registry's name."""
    assert getattr(AUGMENTERS.get(name), "name", None) == name


@pytest.mark.parametrize("name", METHODS)
def test_built_by_bare_name_or_one_line_saying_what_is_missing(name):
    try:
        method = _build(name)
    except LongtailError as exc:
        message = str(exc)
        assert "\n" not in message and name in message and "=" in message, message
    else:
        assert isinstance(method, Augmenter) and method.name == name


@pytest.mark.parametrize("name", METHODS)
def test_spec_object_and_name_build_the_same_method(name, request):
    params = _minimal(name, request)
    method = _build({"name": name, **params})
    assert isinstance(method, Augmenter) and method.name == name
    assert _build(method) is method  # a ready object passes through
    again = _build({"name": name, **params})
    if hasattr(method, "cache_params"):
        fingerprint = json.dumps(method.cache_params(), sort_keys=True)  # JSON: it is hashed
        assert fingerprint == json.dumps(again.cache_params(), sort_keys=True)


@pytest.mark.parametrize("name", METHODS)
def test_unknown_parameter_is_one_line_naming_method_and_parameter(name, request):
    with pytest.raises(LongtailError) as exc:
        _build({"name": name, **_minimal(name, request), "no_such_option": 1})
    message = _one_line(exc)
    assert repr(name) in message and "no_such_option" in message


@pytest.mark.parametrize("name", METHODS)
def test_out_of_range_value_is_one_line_naming_the_parameter(name, request):
    bad = OUT_OF_RANGE[name]
    with pytest.raises(LongtailError) as exc:
        _build({"name": name, **_minimal(name, request), **bad})
    message = _one_line(exc)
    assert any(key in message for key in bad), message


def _misuse_failures(
    name: str, params: dict[str, Any], values: tuple[Any, ...], *, must_refuse: bool
) -> list[str]:
    """Each numeric option set to each value: refused when the method is built (before any model
    loads) in one LongtailError line naming the method, the option and the value, or (unless
    ``must_refuse``: a value that makes sense, or an option this configuration does not use) the
    built method returns one list of at most ``n`` texts per text. Anything else is listed."""
    failures = []
    for key in _numeric_parameters(name):
        for value in values:
            try:
                method = _build({"name": name, **params, key: value})
            except LongtailError as exc:
                message = str(exc)
                if "\n" in message or not all(s in message for s in (name, key, repr(value))):
                    failures.append(f"{key}={value!r}: refused without naming it: {message}")
                continue
            except Exception as exc:  # noqa: BLE001  (what the contract forbids)
                failures.append(f"{key}={value!r}: built with {type(exc).__name__}: {exc}")
                continue
            if must_refuse:
                failures.append(f"{key}={value!r}: accepted when the method was built")
                continue
            try:
                out = _augment(method, TEXTS[:2], 2, seed=0)
            except Exception as exc:  # noqa: BLE001  (a bad value must fail when built)
                failures.append(f"{key}={value!r}: accepted, then {type(exc).__name__}: {exc}")
                continue
            if len(out) != 2 or any(len(o) > 2 for o in out):
                failures.append(f"{key}={value!r}: augment returned {out!r} for 2 texts")
    return failures


@pytest.mark.parametrize("name", METHODS)
def test_number_given_as_text_is_one_line(name, request):
    """``longtail augment ... alpha_sr=abc``: one error line, e.g. ``eda: alpha_sr must be a
    number in [0, 1], got 'abc'``, never Python's ValueError from ``float()``."""
    assert _numeric_parameters(name), f"{name} has no numeric parameter"
    failures = _misuse_failures(name, _minimal(name, request), ("abc",), must_refuse=True)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("name", METHODS)
def test_negative_or_zero_number_is_refused_when_built_or_harmless(name, request):
    failures = _misuse_failures(name, _minimal(name, request), (-1, 0), must_refuse=False)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("name", METHODS)
def test_augment_returns_up_to_n_strings_per_text_reproducibly(name, request):
    method = _build({"name": name, **_minimal(name, request)})
    out = _augment(method, TEXTS, 2, seed=0)
    assert len(out) == len(TEXTS)
    assert all(isinstance(o, list) and len(o) <= 2 for o in out)
    assert all(isinstance(t, str) for o in out for t in o)
    assert sum(len(o) for o in out) > 0, "the method generated nothing at all"
    assert _augment(method, TEXTS, 2, seed=0) == out  # seeded
    assert _augment(method, TEXTS, 0, seed=0) == [[] for _ in TEXTS]
    assert _augment(method, [], 2, seed=0) == []


@pytest.mark.parametrize("name", METHODS)
def test_augment_minority_runs_every_method_from_its_spec(name, request):
    texts = [f"hi ok see you later home {w}" for w in "love lunch good night thanks".split()]
    texts += ["win cash now please today", "claim the prize now please"]
    y = np.array([0] * 5 + [1] * 2)
    result = augment_minority(
        texts,
        y,
        "binary",
        augmenter={"name": name, **_minimal(name, request)},
        target_ratio=1.0,
        min_words=0,
    )
    assert result.stats["method"] == name
    assert len(result.texts) <= 3 and set(result.source_index.tolist()) <= {5, 6}
    assert result.y.tolist() == [1] * len(result.texts)
    assert result.stats["classes"][1]["requested"] >= 3


def test_off_is_a_registered_method_that_builds_nothing():
    assert OFF in AUGMENTERS.names()
    assert AUGMENTERS.build(OFF) is None
