"""The text-format parser on its own: the format comes from the suffix it is given, not the name."""

from __future__ import annotations

import gzip

import pytest

from longtail.data.text_files import TEXT_SUFFIXES, quoted_names, read_text_records
from longtail.errors import LongtailError


def test_a_json_file_is_an_array_or_json_lines_by_its_first_character(tmp_path):
    array = tmp_path / "a.json"
    array.write_text('[{"text": "x", "label": 1},\n {"text": "y", "label": 0}]', encoding="utf-8")
    columns, records, rows = read_text_records(array, ".json", None)
    assert columns == ["text", "label"] and [r["text"] for r in records] == ["x", "y"]
    assert rows == [1, 2]  # record index in an array
    lines = tmp_path / "l.json"
    lines.write_text('{"text": "x"}\n\n{"text": "y"}\n', encoding="utf-8")
    assert read_text_records(lines, ".json", None)[2] == [1, 3]  # line numbers in JSON Lines


def test_delimited_and_compressed_text_is_parsed_with_the_suffix_delimiter(tmp_path):
    path = tmp_path / "t.tsv.gz"
    path.write_bytes(gzip.compress(b"text\tlabel\na, b\tpos\n"))
    columns, records, rows = read_text_records(path, ".tsv", ".gz")
    assert columns == ["text", "label"] and records == [{"text": "a, b", "label": "pos"}]
    assert rows == [2]  # the header is line 1
    assert TEXT_SUFFIXES[".tab"] == "\t"


def test_a_key_twice_in_one_object_names_the_line_and_the_key(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a"}\n{"text": "b", "text": "c"}\n', encoding="utf-8")
    with pytest.raises(LongtailError, match=r"line 2: duplicate key\(s\) 'text'"):
        read_text_records(path, ".jsonl", None)


def test_quoted_names_lists_names_or_says_none():
    assert quoted_names(["a", "b c"]) == "'a', 'b c'"
    assert quoted_names([]) == "(none)"


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ('text,label\n"hi,ham\nfree cash,spam\n', 2),  # opened in the first field
        ('text,label\nhi,ham\nok,"spam\nfree cash,spam\n', 3),  # in the label: fields still match
        ('text,label\nhi,ham\n"oops', 3),  # at the very end, no newline
        ('text,label\n"two\nlines",ham\n"x,spam\n', 4),  # after a valid multi-line field
    ],
)
def test_an_unterminated_quote_names_the_line_it_opens(tmp_path, content, line):
    path = tmp_path / "q.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LongtailError, match=rf"q\.csv line {line}: unterminated quote.*close"):
        read_text_records(path, ".csv", None)


def test_closed_escaped_and_mid_field_quotes_are_read_as_before(tmp_path):
    path = tmp_path / "q.tsv"
    path.write_text('text\tlabel\n"say ""hi""\n twice"\tham\n5" screen\tspam\n', encoding="utf-8")
    _, records, rows = read_text_records(path, ".tsv", None)
    assert records == [
        {"text": 'say "hi"\n twice', "label": "ham"},
        {"text": '5" screen', "label": "spam"},
    ]
    assert rows == [2, 4]
