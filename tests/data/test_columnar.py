"""Parquet and saved Hugging Face datasets read as numbered rows, with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from longtail.data.columnar import is_saved_dataset, read_parquet, read_saved_dataset
from longtail.errors import LongtailError


def test_parquet_rows_are_numbered_from_one(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"text": ["a", "b", "c"], "label": [1, 0, None]}), path)
    columns, records, rows = read_parquet(path)
    assert columns == ["text", "label"]
    assert records == [
        {"text": "a", "label": 1},
        {"text": "b", "label": 0},
        {"text": "c", "label": None},
    ]
    assert rows == [1, 2, 3]


def test_parquet_duplicate_columns_are_named_not_merged(tmp_path: Path) -> None:
    path = tmp_path / "dup.parquet"
    table = pa.Table.from_arrays(
        [pa.array(["a"]), pa.array(["b"]), pa.array(["x"])], names=["text", "text", "label"]
    )
    pq.write_table(table, path)
    with pytest.raises(LongtailError, match=r"duplicate column name\(s\) 'text'; give every"):
        read_parquet(path)


def test_damaged_parquet_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(LongtailError, match=r"bad\.parquet: cannot read Parquet .*re-export") as e:
        read_parquet(path)
    assert "\n" not in str(e.value)


def test_multilabel_class_labels_become_names(tmp_path: Path) -> None:
    features = datasets.Features(
        {
            "text": datasets.Value("string"),
            "labels": datasets.Sequence(datasets.ClassLabel(names=["sports", "tech", "arts"])),
        }
    )
    path = tmp_path / "hf"
    datasets.Dataset.from_dict(
        {"text": ["a", "b", "c"], "labels": [[0, 2], [], [1]]}, features=features
    ).save_to_disk(str(path))
    columns, records, rows = read_saved_dataset(path)
    assert columns == ["text", "labels"]
    assert [r["labels"] for r in records] == [["sports", "arts"], [], ["tech"]]
    assert rows == [1, 2, 3]


def test_saved_dataset_detection(tmp_path: Path) -> None:
    part = datasets.Dataset.from_dict({"text": ["a"], "label": ["x"]})
    part.save_to_disk(str(tmp_path / "one"))
    datasets.DatasetDict({"train": part}).save_to_disk(str(tmp_path / "splits"))
    (tmp_path / "plain").mkdir()
    assert is_saved_dataset(tmp_path / "one")
    assert is_saved_dataset(tmp_path / "splits")
    assert not is_saved_dataset(tmp_path / "plain")


def test_damaged_dataset_dict_says_save_again(tmp_path: Path) -> None:
    (tmp_path / "dataset_dict.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(LongtailError, match=r"dataset_dict\.json is damaged .*save the dataset"):
        read_saved_dataset(tmp_path)


def _class_label_dataset(tmp_path: Path, labels: list[int]) -> Path:
    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["ham", "spam"])}
    )
    data = {"text": [f"t{i}" for i in range(len(labels))], "label": labels}
    path = tmp_path / "ds"
    datasets.Dataset.from_dict(data, features=features).save_to_disk(str(path))
    return path


def test_classlabel_minus_one_is_a_missing_label(tmp_path: Path) -> None:
    _, records, _ = read_saved_dataset(_class_label_dataset(tmp_path, [0, -1, 1]))
    assert [r["label"] for r in records] == ["ham", None, "spam"]


def test_classlabel_id_out_of_range_names_the_record(tmp_path: Path) -> None:
    path = _class_label_dataset(tmp_path, [0, 1, 1])
    # written with a valid id, then read with a ClassLabel of one name fewer
    info_file = path / "dataset_info.json"
    info = json.loads(info_file.read_text(encoding="utf-8"))
    info["features"]["label"]["names"] = ["ham"]
    info_file.write_text(json.dumps(info), encoding="utf-8")
    with pytest.raises(LongtailError, match=r"record 2: class id 1 is out of range"):
        read_saved_dataset(path)
