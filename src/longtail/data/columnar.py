"""Records from column-oriented sources: Parquet files and saved Hugging Face datasets.

Both come as columns; :mod:`longtail.data.readers` wants rows numbered from 1 (the record index
is what a user can find in these formats), so each reader returns ``(columns, records,
row_numbers)`` like the text parsers. pyarrow and ``datasets`` are imported only when such a
file is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from longtail.errors import LongtailError

Records = tuple[list[str], list[dict[str, Any]], list[int]]
"""Column names, one dict per row, and each row's 1-based number as a user would find it."""


def is_saved_dataset(path: Path) -> bool:
    """Whether ``path`` is a directory written by ``Dataset`` or ``DatasetDict.save_to_disk``."""
    return (path / "state.json").exists() or (path / "dataset_dict.json").exists()


def read_parquet(path: Path) -> Records:
    """Every row of a Parquet file; duplicate column names are refused, not silently merged."""
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise LongtailError(f"{path}: cannot read Parquet ({exc}); re-export the file") from exc
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise LongtailError(
            f"{path}: duplicate column name(s) {', '.join(map(repr, dupes))}; "
            "give every column a unique name"
        )
    try:
        data = pq.read_table(path).to_pydict()
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise LongtailError(f"{path}: cannot read Parquet ({exc}); re-export the file") from exc
    return _records(names, data)


def read_saved_dataset(path: Path) -> Records:
    """Every row of a ``Dataset.save_to_disk`` directory, ClassLabel integers read as names.

    A ``DatasetDict`` directory is refused with its split names, so the user can pick one.
    """
    dict_file = path / "dataset_dict.json"
    if dict_file.exists():
        try:
            splits = [str(s) for s in json.loads(dict_file.read_text(encoding="utf-8"))["splits"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise LongtailError(f"{dict_file} is damaged ({exc}); save the dataset again") from exc
        raise LongtailError(
            f"{path} is a DatasetDict with splits {', '.join(splits)}; "
            f"pass one split directory, e.g. {path / (splits[0] if splits else 'train')}"
        )
    import datasets

    try:
        dataset = datasets.load_from_disk(str(path))
    except Exception as exc:  # datasets raises many types for a damaged directory
        raise LongtailError(f"{path}: cannot load Hugging Face dataset ({exc})") from exc
    data = dataset.to_dict()
    for name, feature in dataset.features.items():
        data[name] = _class_names(feature, data[name], path)
    return _records(list(dataset.column_names), data)


def _class_names(feature: Any, values: list[Any], path: Path) -> list[Any]:
    """Replace ClassLabel integers (and lists of them) by the class names.

    ``-1`` is ``datasets``' "no label" (the test split of GLUE, for one) and becomes ``None``, a
    missing label; an integer past the last name is refused, naming the record.
    """
    if hasattr(feature, "int2str"):
        return [_class_name(feature, v, path, i) for i, v in enumerate(values, start=1)]
    inner = getattr(feature, "feature", None)
    if inner is not None and hasattr(inner, "int2str"):
        return [
            None if v is None else [_class_name(inner, x, path, i) for x in v]
            for i, v in enumerate(values, start=1)
        ]
    return values


def _class_name(feature: Any, value: Any, path: Path, record: int) -> str | None:
    if value is None or value < 0:
        return None
    if value >= feature.num_classes:
        raise LongtailError(
            f"{path} record {record}: class id {value} is out of range: the ClassLabel has "
            f"{feature.num_classes} names ({', '.join(feature.names[:5])}); fix the label or the "
            "dataset's features"
        )
    return feature.int2str(value)


def _records(columns: list[str], data: dict[str, list[Any]]) -> Records:
    n = len(data[columns[0]]) if columns else 0
    records = [{c: data[c][i] for c in columns} for i in range(n)]
    return columns, records, list(range(1, n + 1))
