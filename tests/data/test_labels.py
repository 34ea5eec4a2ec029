from __future__ import annotations

import json

import numpy as np
import pytest

from longtail.data import LabelSpace, normalize_label
from longtail.errors import LongtailError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(1, "1"), (1.0, "1"), (np.int64(3), "3"), (np.float32(2.0), "2"), (0.5, "0.5"),
     (True, "true"), (False, "false"), (" spam ", "spam")],
)  # fmt: skip
def test_normalize_label(raw, expected) -> None:
    assert normalize_label(raw) == expected


def test_binary_minority_is_positive() -> None:
    space = LabelSpace.fit(["ham", "spam", "ham", "ham"])
    assert space.task == "binary"
    assert space.names == ["ham", "spam"] and space.positive_label == "spam"
    space = LabelSpace.fit(["a", "b", "b", "b"])
    assert space.names == ["b", "a"]


def test_binary_tie_takes_later_sorted_name() -> None:
    assert LabelSpace.fit(["pos", "neg", "pos", "neg"]).names == ["neg", "pos"]


def test_binary_positive_label_given() -> None:
    space = LabelSpace.fit(["ham", "spam", "ham"], positive_label="ham")
    assert space.names == ["spam", "ham"]
    # An int positive label matches the normalised "1".
    assert LabelSpace.fit([0, 1, 1, 1], positive_label=1).names == ["0", "1"]


def test_binary_unknown_positive_label() -> None:
    with pytest.raises(LongtailError, match=r"'maybe' is not a class in t\.csv.*'ham', 'spam'"):
        LabelSpace.fit(["ham", "spam"], positive_label="maybe", source="t.csv")


def test_mixed_int_and_float_labels_are_one_class() -> None:
    space = LabelSpace.fit([0, 1.0, "1", 0.0])
    assert space.names == ["0", "1"]
    np.testing.assert_array_equal(space.encode([1, 0.0, "0", 1.0]), [1, 0, 0, 1])


def test_multiclass_sorted_and_numeric_sort() -> None:
    space = LabelSpace.fit(["c", "a", "b", "a"])
    assert space.task == "multiclass" and space.names == ["a", "b", "c"]
    assert LabelSpace.fit([10, 2, 1, 2]).names == ["1", "2", "10"]


def test_multilabel_from_lists_allows_empty_rows() -> None:
    labels = [["x", "y"], [], ["z"], ["x"]]
    space = LabelSpace.fit(labels)
    assert space.task == "multilabel" and space.names == ["x", "y", "z"]
    y = space.encode(labels)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, [[1, 1, 0], [0, 0, 0], [0, 0, 1], [1, 0, 0]])
    np.testing.assert_array_equal(space.counts(y), [2, 1, 1])
    assert space.decode(y) == [["x", "y"], [], ["z"], ["x"]]


def test_multilabel_from_delimiter() -> None:
    space = LabelSpace.fit(["a|b", "b", "c| a"], label_delimiter="|")
    assert space.task == "multilabel" and space.names == ["a", "b", "c"]
    np.testing.assert_array_equal(space.encode(["c|a"]), [[1, 0, 1]])


def test_multilabel_task_splits_on_comma_by_default() -> None:
    space = LabelSpace.fit(["a,b", "b"], task="multilabel")
    assert space.names == ["a", "b"] and space.label_delimiter == ","


def test_task_override_is_validated() -> None:
    with pytest.raises(LongtailError, match="needs exactly 2 classes but d.csv has 3"):
        LabelSpace.fit(["a", "b", "c"], task="binary", source="d.csv")
    with pytest.raises(LongtailError, match="lists"):
        LabelSpace.fit([["a"], ["b"]], task="multiclass")
    with pytest.raises(LongtailError, match="unknown task"):
        LabelSpace.fit(["a", "b"], task="regression")
    assert LabelSpace.fit(["a", "b"], task="multiclass").task == "multiclass"


def test_single_class_is_an_error() -> None:
    with pytest.raises(LongtailError, match=r"only one class 'x' in train\.csv.*at least two"):
        LabelSpace.fit(["x", "x"], source="train.csv")


def test_missing_label_in_fit_names_rows() -> None:
    with pytest.raises(LongtailError, match=r"f\.jsonl.*rows 4, 6"):
        LabelSpace.fit(["a", "b", None, float("nan")], source="f.jsonl", row_numbers=[1, 2, 4, 6])


def test_encode_decode_round_trip() -> None:
    labels = ["b", "a", "c", "c", "a"]
    space = LabelSpace.fit(labels)
    y = space.encode(labels)
    assert y.dtype == np.int64 and y.tolist() == [1, 0, 2, 2, 0]
    assert space.decode(y) == labels
    np.testing.assert_array_equal(space.counts(y), [2, 1, 2])


def test_unknown_label_names_file_row_and_known_labels() -> None:
    space = LabelSpace.fit(["ham", "spam"])
    with pytest.raises(LongtailError) as info:
        space.encode(["ham", "eggs"], source="test.csv", row_numbers=[2, 3])
    message = str(info.value)
    assert "test.csv row 3" in message and "'eggs'" in message and "'ham', 'spam'" in message


def test_list_label_in_single_label_encode() -> None:
    space = LabelSpace.fit(["a", "b"])
    with pytest.raises(LongtailError, match="row 1"):
        space.encode([["a"]])


def test_to_dict_from_dict_json_round_trip() -> None:
    for space in (
        LabelSpace.fit(["ham", "spam", "ham"]),
        LabelSpace.fit([["x"], ["y", "z"]]),
        LabelSpace.fit(["a", "b", "c"]),
    ):
        again = LabelSpace.from_dict(json.loads(json.dumps(space.to_dict())))
        assert again == space and again.task == space.task and again.names == space.names


def test_from_dict_rejects_bad_input() -> None:
    with pytest.raises(LongtailError):
        LabelSpace.from_dict({"names": ["a", "b"]})
    with pytest.raises(LongtailError):
        LabelSpace.from_dict({"task": "binary", "names": ["a", "b", "c"]})
