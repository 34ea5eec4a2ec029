from __future__ import annotations

import bz2
import csv
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from longtail.data import read_table
from longtail.errors import LongtailError

ROWS = [
    {"text": "free cash now", "label": "spam"},
    {"text": 'line one\nline two, with "quotes"', "label": "ham"},
    {"text": "tab\there", "label": "ham"},
]


def _write_delimited(path: Path, delimiter: str, rows=ROWS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"], delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _jsonl(rows=ROWS) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def _check(table, path: Path) -> None:
    assert table.texts == [r["text"] for r in ROWS]
    assert table.labels == [r["label"] for r in ROWS]
    assert table.source == str(path)
    assert table.columns == ["text", "label"]
    assert len(table) == 3


def test_csv_round_trip_with_quoted_newlines(tmp_path: Path) -> None:
    path = _write_delimited(tmp_path / "train.csv", ",")
    table = read_table(path)
    _check(table, path)
    # Header is line 1; the second record spans lines 3-4, so the third starts on line 5.
    assert table.row_numbers == [2, 3, 5]


def test_tsv_round_trip(tmp_path: Path) -> None:
    path = _write_delimited(tmp_path / "train.tsv", "\t")
    _check(read_table(path), path)


def test_jsonl_round_trip_with_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text(_jsonl().replace("\n", "\n\n", 1), encoding="utf-8")
    table = read_table(path)
    _check(table, path)
    assert table.row_numbers == [1, 3, 4]


def test_json_array(tmp_path: Path) -> None:
    path = tmp_path / "train.json"
    path.write_text(json.dumps(ROWS), encoding="utf-8")
    _check(read_table(path), path)


@pytest.mark.parametrize("name", ["train.jsonl.gz", "train.csv.gz", "train.tsv.bz2"])
def test_compressed(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    plain = tmp_path / name.rsplit(".", 1)[0]
    if ".jsonl" in name:
        plain.write_text(_jsonl(), encoding="utf-8")
    else:
        _write_delimited(plain, "," if ".csv" in name else "\t")
    compress = gzip.compress if name.endswith(".gz") else bz2.compress
    path.write_bytes(compress(plain.read_bytes()))
    _check(read_table(path), path)


def test_parquet_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), path)
    table = read_table(path)
    _check(table, path)
    assert table.row_numbers == [1, 2, 3]


def test_hf_dataset_dir(tmp_path: Path) -> None:
    import datasets

    path = tmp_path / "hf"
    datasets.Dataset.from_dict(
        {"text": [r["text"] for r in ROWS], "label": [r["label"] for r in ROWS]}
    ).save_to_disk(str(path))
    _check(read_table(path), path)


def test_hf_class_label_becomes_names(tmp_path: Path) -> None:
    import datasets

    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])}
    )
    path = tmp_path / "hf"
    datasets.Dataset.from_dict(
        {"text": ["a", "b"], "label": [1, 0]}, features=features
    ).save_to_disk(str(path))
    assert read_table(path).labels == ["pos", "neg"]


def test_hf_dataset_dict_lists_splits(tmp_path: Path) -> None:
    import datasets

    part = datasets.Dataset.from_dict({"text": ["a"], "label": ["x"]})
    path = tmp_path / "hfdict"
    datasets.DatasetDict({"train": part, "test": part}).save_to_disk(str(path))
    with pytest.raises(LongtailError, match=r"splits train, test.*hfdict/train"):
        read_table(path)


def test_jsonl_lists_and_numbers_kept_raw(tmp_path: Path) -> None:
    path = tmp_path / "ml.jsonl"
    path.write_text('{"text": "a", "label": ["x", "y"]}\n{"text": "b", "label": 1}\n')
    assert read_table(path).labels == [["x", "y"], 1]


def test_no_labels_for_prediction(tmp_path: Path) -> None:
    path = tmp_path / "new.csv"
    path.write_text("text\nhello\n", encoding="utf-8")
    assert read_table(path, require_labels=False).labels is None
    assert read_table(path, label_column=None).texts == ["hello"]


def test_missing_text_becomes_empty_string(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": null, "label": "a"}\n{"label": "b"}\n')
    assert read_table(path).texts == ["", ""]


# --- bad input: one LongtailError naming the file and the row or column -------------------------


def _error(path: Path, **kwargs) -> str:
    with pytest.raises(LongtailError) as info:
        read_table(path, **kwargs)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    assert "no such file" in _error(tmp_path / "nope.csv")


def test_unknown_format_lists_supported(tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"x")
    message = _error(path)
    assert ".xlsx" in message and ".csv" in message and ".parquet" in message


def test_plain_directory(tmp_path: Path) -> None:
    assert "save_to_disk" in _error(tmp_path)


def test_unknown_text_column_lists_columns(tmp_path: Path) -> None:
    path = _write_delimited(tmp_path / "d.csv", ",")
    message = _error(path, text_column="body")
    assert "'body'" in message and "'text', 'label'" in message


def test_unknown_label_column(tmp_path: Path) -> None:
    path = _write_delimited(tmp_path / "d.csv", ",")
    message = _error(path, label_column="target")
    assert "'target'" in message and "'label'" in message


def test_non_utf8_names_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\nok,a\ncaf\xe9,b\n".encode("latin-1"))
    message = _error(path)
    assert "line 3" in message and "UTF-8" in message


def test_malformed_jsonl_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": \n')
    assert "line 2" in _error(path)


def test_jsonl_line_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n["b", "y"]\n')
    assert "line 2" in _error(path)


@pytest.mark.parametrize("content", ["", "text,label\n", "\n\n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(content)
    assert "empty" in _error(path) or "no data rows" in _error(path)


def test_empty_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    assert "no data rows" in _error(path)


def test_missing_labels_name_rows(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("text,label\na,x\nb,\nc,y\nd,  \n")
    message = _error(path)
    assert "2 row(s)" in message and "rows 3, 5" in message and "'label'" in message


def test_missing_labels_nan_in_parquet(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"text": ["a", "b"], "label": [1.0, float("nan")]}), path)
    assert "rows 2" in _error(path)


def test_duplicate_header(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("text,label,text\na,b,c\n")
    message = _error(path)
    assert "line 1" in message and "'text'" in message


def test_wrong_field_count_names_line(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("text,label\na,x\nb,y,extra\n")
    assert "line 3" in _error(path)


def test_bad_gzip(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl.gz"
    path.write_bytes(b"not gzip")
    assert "gz" in _error(path)


@pytest.mark.parametrize("word", ["NaN", "NA", "nan", "N/A", "null", "None", "#N/A", " NULL "])
@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_words_for_missing_are_missing_labels_in_delimited_files(tmp_path, word, suffix):
    rows = [*ROWS, {"text": "x", "label": word}]
    path = _write_delimited(tmp_path / f"d{suffix}", "," if suffix == ".csv" else "\t", rows)
    with pytest.raises(LongtailError, match=r"1 row\(s\) have no value in label column 'label' "
                       r"\(rows 6\); '.+' is read as missing.*rename it"):  # fmt: skip
        read_table(path)


@pytest.mark.parametrize("label", ["none", "na", "Null", "NaN-free", "n.a."])
def test_words_that_pandas_keeps_stay_class_names(tmp_path, label):
    path = _write_delimited(tmp_path / "d.csv", ",", [*ROWS, {"text": "x", "label": label}])
    assert read_table(path).labels[-1] == label


def test_missing_words_are_missing_in_json_and_parquet_too(tmp_path):
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text(_jsonl([*ROWS, {"text": "x", "label": "None"}, {"text": "y", "label": None}]))
    with pytest.raises(
        LongtailError, match=r"2 row\(s\).*\(rows 4, 5\); 'None' is read as missing"
    ):
        read_table(jsonl)
    parquet = tmp_path / "d.parquet"
    pq.write_table(pa.table({"text": ["a", "b", "c"], "label": ["x", "nan", "y"]}), parquet)
    with pytest.raises(LongtailError, match=r"\(rows 2\); 'nan' is read as missing"):
        read_table(parquet)


def test_texts_spelling_missing_words_are_still_texts(tmp_path):
    path = _write_delimited(tmp_path / "d.csv", ",", [{"text": "N/A", "label": "ham"}])
    assert read_table(path).texts == ["N/A"]


def test_predict_reads_rows_whatever_their_label_cells_hold(tmp_path):
    path = _write_delimited(tmp_path / "d.csv", ",", [*ROWS, {"text": "x", "label": "NaN"}])
    table = read_table(path, label_column=None, require_labels=False)
    assert table.labels is None and len(table) == 4


def test_text_column_equal_to_label_column_is_refused(tmp_path):
    path = _write_delimited(tmp_path / "d.csv", ",")
    with pytest.raises(LongtailError, match="text column and the label column are both 'label'"):
        read_table(path, text_column="label", label_column="label")
    assert read_table(path, text_column="label", label_column=None).texts[0] == "spam"
