"""longtail.json's schema: every field the loaders read is checked, with one line naming it."""

import copy
import json

import pytest

from longtail import __version__
from longtail.errors import LongtailError
from longtail.models.io import read_meta
from longtail.models.meta import FORMAT_VERSION, validate_meta

HASH = "0" * 64
TEXT = {
    "format_version": FORMAT_VERSION,
    "longtail_version": "0.1.0",
    "task": "binary",
    "labels": {"task": "binary", "names": ["ham", "spam"], "label_delimiter": None},
    "thresholds": [0.4],
    "threshold_objective": "f1",
    "threshold_fallback": [],
    "threshold_untuned": [],
    "temperature": 1.3,
    "max_length": 32,
    "long_documents": None,
    "extra_features": [],
    "text_column": "text",
    "label_column": "label",
    "base_model": "tiny",
    "trust_remote_code": False,
    "config": {"train": {"lr": 5e-5}},
    "training": {"best_epoch": 1, "history": [], "still_improving": None},
    "architecture": {"kind": "text", "num_logits": 2, "pooling": "mean", "dropout": 0.1},
    "files": {"head.safetensors": HASH, "encoder/model.safetensors": HASH},
}
HIERARCHICAL = copy.deepcopy(TEXT) | {
    "task": "multilabel",
    "labels": {"task": "multilabel", "names": ["a", "b", "c"], "label_delimiter": "|"},
    "thresholds": [0.5, 0.4, 0.3],
    "extra_features": ["length"],
    "long_documents": {"aggregator": "attention", "mode": "frozen", "chunk_length": 32,
                       "stride": 8, "max_chars": 2_000_000, "on_too_long": "error"},
    "architecture": {"kind": "hierarchical", "num_logits": 3, "pooling": "mean", "dropout": 0.1,
                     "aggregator": {"name": "attention"}, "num_extra_features": 1,
                     "chunk_batch_size": 16},
}  # fmt: skip


def _with(base: dict, path: str, value) -> dict:
    data = copy.deepcopy(base)
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target[key]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return data


_DELETE = object()


@pytest.mark.parametrize("meta", [TEXT, HIERARCHICAL], ids=["text", "hierarchical"])
def test_what_current_code_writes_passes_and_keeps_every_key(meta):
    checked = validate_meta(copy.deepcopy(meta), "m/longtail.json")
    assert checked["config"] == meta["config"]
    assert checked["training"]["best_epoch"] == 1
    assert checked["labels"] == meta["labels"]


def test_defaults_fill_optional_fields():
    minimal = {k: v for k, v in TEXT.items() if k in
               ("format_version", "task", "labels", "thresholds", "max_length", "architecture", "files")}  # fmt: skip
    checked = validate_meta(minimal, "m/longtail.json")
    assert checked["temperature"] == 1.0 and checked["extra_features"] == []
    assert checked["text_column"] == "text" and checked["trust_remote_code"] is False
    assert checked["training"]["still_improving"] is None


def test_unknown_keys_are_kept_for_forward_compatibility():
    data = _with(TEXT, "written_by_a_newer_release", {"x": 1})
    data["architecture"]["new_knob"] = 3
    checked = validate_meta(data, "m/longtail.json")
    assert checked["written_by_a_newer_release"] == {"x": 1}
    assert checked["architecture"]["new_knob"] == 3


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("labels", _DELETE, "field 'labels': is missing"),
        ("labels", None, "field 'labels'"),
        ("labels.names", ["ham", "ham"], "repeated: ham"),
        ("labels.names", "ham,spam", "field 'labels.names'"),
        ("labels.task", "multiclass", "labels.task 'multiclass' differs from task 'binary'"),
        ("thresholds", "0.5", "field 'thresholds'"),
        ("thresholds", ["0.5"], "field 'thresholds.0'"),
        ("thresholds", [0.5, 0.5], "thresholds holds 2 value(s); a binary model"),
        ("thresholds", [float("nan")], "thresholds must be finite"),
        ("temperature", "1.0", "field 'temperature'"),
        ("temperature", -1.0, "field 'temperature': Input should be greater than 0"),
        ("temperature", None, "field 'temperature'"),
        ("max_length", 3.5, "field 'max_length'"),
        ("max_length", True, "field 'max_length'"),
        ("task", "regression", "field 'task'"),
        ("architecture", _DELETE, "field 'architecture': is missing"),
        ("architecture.num_logits", 3, "architecture.num_logits is 3 but there are 2 labels"),
        ("architecture.kind", "hierarchical", "needs its aggregator"),
        ("long_documents", {"chunk_length": 32, "stride": 0, "max_chars": 9}, "disagree"),
        ("extra_features", ["length"], "extra_features names 1 feature(s)"),
        ("training", [], "field 'training'"),
        ("trust_remote_code", "yes", "field 'trust_remote_code'"),
        ("files", _DELETE, "field 'files': is missing"),
        ("files", {"../../etc/passwd": HASH}, "is not a path inside the model directory"),
        ("files", {"head.safetensors": "abc"}, "not a SHA-256"),
    ],
)
def test_bad_fields_name_the_file_and_the_field(path, value, expected):
    with pytest.raises(LongtailError) as info:
        validate_meta(_with(TEXT, path, value), "m/longtail.json")
    message = str(info.value)
    assert message.startswith("m/longtail.json: ") and expected in message
    assert "\n" not in message and ("fix that field" in message or "fix the file" in message)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [([1, 2], "got a list"), (None, "got null"), ("x", "got a string"), (3, "got a number")],
)
def test_not_an_object(raw, expected):
    with pytest.raises(LongtailError, match=expected):
        validate_meta(raw, "m/longtail.json")


def test_newer_format_names_the_writing_version_and_says_upgrade():
    data = _with(TEXT, "format_version", FORMAT_VERSION + 1) | {"longtail_version": "9.0.0"}
    data["labels"] = "a newer layout this version cannot read"
    with pytest.raises(LongtailError) as info:
        validate_meta(data, "m/longtail.json")
    message = str(info.value)
    assert "written by longtail 9.0.0" in message and f"this is longtail {__version__}" in message
    assert "upgrade longtail" in message


@pytest.mark.parametrize("version", [0, "1", None, _DELETE])
def test_unknown_format_versions(version):
    with pytest.raises(LongtailError, match="format_version"):
        validate_meta(_with(TEXT, "format_version", version), "m/longtail.json")


def test_read_meta_refuses_unreadable_json(tmp_path):
    (tmp_path / "longtail.json").write_text("[" * 100_000, encoding="utf-8")
    with pytest.raises(LongtailError, match="longtail.json"):
        read_meta(tmp_path)
    (tmp_path / "longtail.json").write_text(json.dumps(TEXT), encoding="utf-8")
    assert read_meta(tmp_path)["task"] == "binary"


def test_a_model_is_written_with_the_lowest_format_version_that_describes_it():
    from longtail.models.meta import format_version_for

    plain = {"calibration": "temperature", "isotonic": None, "logit_adjust": None}
    assert format_version_for(plain, {"kind": "text"}) == 1  # older longtails still read it
    assert format_version_for(plain | {"calibration": "none"}, {"kind": "text"}) == 1
    # what a version-1 reader would ignore, and so predict wrongly with
    assert format_version_for(plain | {"calibration": "isotonic"}, {"kind": "text"}) == 2
    assert format_version_for(plain | {"logit_adjust": {"tau": 1.0}}, {"kind": "text"}) == 2
    assert format_version_for(plain, {"kind": "text", "head_hidden": 32}) == 2
    for version in (1, 2):  # both are read
        assert validate_meta(_with(TEXT, "format_version", version), "m/longtail.json")
