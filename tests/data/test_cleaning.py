from __future__ import annotations

import pytest

from longtail.data import TextTable, drop_empty_texts, strip_email_headers
from longtail.errors import LongtailError


def _table() -> TextTable:
    return TextTable(
        texts=["hello", "", "  \n\t", "world"],
        labels=["a", "b", "a", "b"],
        row_numbers=[2, 3, 4, 5],
        source="train.csv",
        columns=["text", "label"],
    )


def test_drop_empty_texts_warns_and_keeps_rows_aligned() -> None:
    table = _table()
    with pytest.warns(UserWarning, match=r"train\.csv: 2 row\(s\) have empty text \(rows 3, 4\)"):
        cleaned = drop_empty_texts(table)
    assert cleaned.texts == ["hello", "world"]
    assert cleaned.labels == ["a", "b"]
    assert cleaned.row_numbers == [2, 5]
    assert cleaned.dropped_rows == [3, 4]
    assert len(table) == 4  # input untouched


def test_drop_empty_texts_strict_raises_with_count_and_rows() -> None:
    with pytest.raises(LongtailError, match=r"train\.csv: 2 row\(s\).*rows 3, 4"):
        drop_empty_texts(_table(), strict=True)


def test_nothing_to_drop_returns_same_table() -> None:
    table = _table().subset([0, 3])
    assert drop_empty_texts(table) is table


def test_all_empty_is_an_error() -> None:
    table = _table().subset([1, 2])
    with pytest.raises(LongtailError, match="every row"):
        drop_empty_texts(table)


def test_strip_email_headers() -> None:
    post = "From: a@b.c\nSubject: hockey\n\nGreat game.\n\nSecond paragraph."
    assert strip_email_headers(post) == "Great game.\n\nSecond paragraph."
    assert strip_email_headers("no headers here") == "no headers here"
