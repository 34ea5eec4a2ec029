from __future__ import annotations

import json
import warnings

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
    space = LabelSpace.fit(["a,b", "b", "a"], task="multilabel")
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


def test_missing_words_are_missing_labels_and_lowercase_none_is_a_class() -> None:
    with pytest.raises(LongtailError, match=r"\(rows 3\); 'NaN' is read as missing"):
        LabelSpace.fit(["a", "b", "NaN"], source="t.csv")
    assert LabelSpace.fit(["none", "spam", "none"]).names == ["none", "spam"]


@pytest.mark.parametrize("bad", [None, float("nan"), "", "  ", "null", "NaN"])
def test_a_missing_value_inside_a_label_list_is_an_error(bad) -> None:
    labels = [["a"], ["b", bad], ["a", "b"], []]
    with pytest.raises(LongtailError, match=r"1 row\(s\) have a missing value .* \(rows 5\)"):
        LabelSpace.fit(labels, row_numbers=[2, 5, 6, 7])
    space = LabelSpace.fit([["a"], ["b"], ["a", "b"], []])
    with pytest.raises(LongtailError, match="among their labels"):
        space.encode([["a", bad]])


def test_missing_words_in_delimited_labels_are_errors_but_blank_pieces_are_not() -> None:
    with pytest.raises(LongtailError, match=r"missing value \('None'\)"):
        LabelSpace.fit(["a|None", "b", "a|b"], label_delimiter="|")
    space = LabelSpace.fit(["a|", "b||c", " | a"], label_delimiter="|")
    np.testing.assert_array_equal(space.encode(["a|", "b||c"]), [[1, 0, 0], [0, 1, 1]])


def test_empty_or_unused_delimiter_is_refused() -> None:
    with pytest.raises(LongtailError, match="the label delimiter is empty"):
        LabelSpace.fit(["ham", "spam"], label_delimiter="")
    with pytest.raises(LongtailError, match=r"delimiter '\|' occurs in no label.*'ham', 'spam'"):
        LabelSpace.fit(["ham", "spam", "ham"], label_delimiter="|", source="t.csv")
    # lists need no delimiter: giving one is harmless
    assert LabelSpace.fit([["a"], ["b"], ["a", "b"]], label_delimiter="|").task == "multilabel"


def test_a_label_in_every_row_or_one_label_set_for_all_rows_is_refused() -> None:
    with pytest.raises(LongtailError, match=r"label 'all' is on in every one of the 3 rows"):
        LabelSpace.fit([["a", "all"], ["b", "all"], ["all", "a"]], source="m.jsonl")
    with pytest.raises(LongtailError, match=r"every row has the same labels \('a', 'b'\)"):
        LabelSpace.fit([["b", "a"], ["a", "b"], ["a", "b", "a"]])
    # a label in all rows but one is learnable
    assert LabelSpace.fit([["a", "c"], ["b", "c"], ["a"]]).names == ["a", "b", "c"]


def test_continuous_numbers_are_refused_as_a_regression_target() -> None:
    scores = [round(0.137 * i + 0.01, 3) for i in range(30)]
    with pytest.raises(LongtailError, match=r"30 different numbers in 30 rows.*regression target"):
        LabelSpace.fit(scores, source="s.csv")
    with pytest.raises(LongtailError, match="regression target"):
        LabelSpace.fit([f"{s}" for s in scores[:20]] * 2)  # as CSV strings, each value twice
    # half-star ratings repeat: classes, not a regression target
    ratings = [0.5 * (i % 10) for i in range(60)]
    assert LabelSpace.fit(ratings).num_classes == 10


def test_a_different_label_in_every_row_is_refused_as_ids() -> None:
    with pytest.raises(LongtailError, match=r"every row has a different label \(25 classes in 25"):
        LabelSpace.fit([str(1000 + i) for i in range(25)], source="ids.csv")
    assert LabelSpace.fit(["a", "b", "c"]).num_classes == 3  # a tiny file is not judged


def test_labels_written_two_ways_warn_once() -> None:
    with pytest.warns(UserWarning, match=r"labels '1' and '1\.0'; 'Spam' and 'spam' look like one"):
        space = LabelSpace.fit(["1", "1.0", "Spam", "spam", "ham"], source="t.csv")
    assert space.num_classes == 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LabelSpace.fit(["spam ", "spam", "ham"])  # stripped: one class, nothing to warn about


def test_from_counts_orders_binary_as_fit_does() -> None:
    assert LabelSpace.from_counts({"ham": 30, "spam": 10}).names == ["ham", "spam"]
    assert LabelSpace.from_counts({"a": 5, "b": 5}).names == ["a", "b"]
    assert LabelSpace.fit(["a", "b"]).names == LabelSpace.from_counts({"a": 1, "b": 1}).names
    space = LabelSpace.from_counts({"x": 3, "y": 1}, "multilabel", label_delimiter="|")
    assert space.task == "multilabel" and space.label_delimiter == "|"
