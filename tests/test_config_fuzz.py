"""Fuzz the config parser: YAML files, dotted overrides and raw dicts.

Property: ``build_config(apply_overrides(load_config(file), overrides))`` returns an
:class:`~longtail.config.ExperimentConfig` or raises one one-line
:class:`~longtail.errors.LongtailError`; never any other exception. Each ``@example`` is a
traceback fuzzing once found. Deterministic and small so the default suite stays fast.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from longtail.config import (
    ExperimentConfig,
    apply_overrides,
    build_config,
    load_config,
    valid_keys,
)
from longtail.errors import LongtailError

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
KEYS = valid_keys(ExperimentConfig)
YAMLISH = [
    "", "1", "0", "-1", "1e-3", "-1e-3", "nan", ".nan", ".inf", "true", "no", "null", "~",
    "[1, 2]", "[1", "{a: 1}", "{", "a: b", "'quoted'", '"x', "!!int abc", "!!float abc",
    "!!timestamp abc", "!!binary x", "!!python/object:os.system x", "2001-01-01", "0x1F",
    "&a [*a]", "*a", "|", "- a", "? x", "%YAML 1.1", "---", "...", "[" * 600, "\t", "é", "²",
]  # fmt: skip
values = st.one_of(st.sampled_from(YAMLISH), st.text(max_size=10))
keys = st.one_of(
    st.sampled_from(KEYS),
    st.sampled_from(
        [
            "loss.name",
            "loss.gamma",
            "sampler.name",
            "sampler.ratio",
            "train",
            "data.train.x",
            "a..b",
            ".x",
            "x.",
            "loss",
            "output",
        ]
    ),  # fmt: skip
    st.text(alphabet="ab.=_", max_size=6),
)
override = st.one_of(st.builds(lambda k, v: f"{k}={v}", keys, values), st.text(max_size=8))

yaml_value = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=6),
        st.sampled_from(YAMLISH),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(["data", "train", "loss", "name", "epochs",
                                                   "lr", "model", "sampler", "decision"]),
                                  st.integers(0, 3)), inner, max_size=3),
    ),
    max_leaves=10,
)  # fmt: skip


def _build(data: dict[str, Any], overrides: list[str]) -> ExperimentConfig | None:
    try:
        return build_config(apply_overrides(data, overrides), source="fuzz")
    except LongtailError as exc:
        assert "\n" not in str(exc) and str(exc).strip()
        return None


@FUZZ
@given(overrides=st.lists(override, max_size=4))
@example(overrides=["train.lr=!!float abc"])  # was ValueError from the YAML float constructor
@example(overrides=["train.lr=!!int abc"])  # was ValueError
@example(overrides=["train.lr=!!timestamp abc"])  # was AttributeError
@example(overrides=["train.lr=" + "[" * 600])  # was RecursionError
@example(overrides=["loss.gamma=2", "loss=focal"])
@example(overrides=["train=5", "train.epochs=2"])
def test_overrides(overrides: list[str]) -> None:
    _build({}, overrides)
    _build({"loss": "focal", "sampler": {"name": "sqrt"}, "train": {"epochs": 2}}, overrides)


@FUZZ
@given(epochs=st.integers(-3, 10**6), lr=st.floats(allow_nan=True, allow_infinity=True))
def test_valid_overrides_take_effect(epochs: int, lr: float) -> None:
    config = _build({}, [f"train.epochs={epochs}", f"train.lr={lr!r}"])
    valid = epochs >= 1 and lr > 0  # NaN compares False: refused
    assert (config is not None) == valid
    if config is not None:
        assert config.train.epochs == epochs and config.train.lr == lr


@FUZZ
@given(data=yaml_value)
@example(data=[1])  # top-level list: was "config: : Input should be ..."
def test_raw_data(data: Any) -> None:
    try:
        build_config(data, source="fuzz")
    except LongtailError as exc:
        assert "\n" not in str(exc)


@FUZZ
@given(
    text=st.one_of(
        st.text(max_size=40),
        st.lists(st.sampled_from(YAMLISH + ["data:", "  train: x", "train:", "  lr: -1"])).map(
            "\n".join
        ),
    ),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"]),
    overrides=st.lists(override, max_size=2),
)
@example(text="a: " + "[" * 600, encoding="utf-8", overrides=[])  # was RecursionError
@example(text="train: {lr: !!float abc}", encoding="utf-8", overrides=[])  # was ValueError
@example(text="- 1\n- 2", encoding="utf-8", overrides=[])
def test_yaml_files(text: str, encoding: str, overrides: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "exp.yaml"
        path.write_bytes(text.encode(encoding, errors="replace"))
        try:
            data = load_config(path)
        except LongtailError as exc:
            assert "\n" not in str(exc)
            return
        assert isinstance(data, dict)
        _build(data, overrides)


def test_missing_and_directory_config_files(tmp_path: Path) -> None:
    with pytest.raises(LongtailError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(LongtailError, match="is a directory"):
        load_config(tmp_path)
