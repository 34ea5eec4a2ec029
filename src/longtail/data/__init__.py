"""Data loading, label spaces, stratified splits and cleaning.

The path from a user's file to arrays::

    table = read_table("train.csv")                  # texts + raw labels + row numbers
    table = drop_empty_texts(table)
    space = LabelSpace.fit(table.labels, source=table.source, row_numbers=table.row_numbers)
    y = space.encode(table.labels, source=table.source, row_numbers=table.row_numbers)
    train_idx, val_idx = stratified_split(y, space.task, val_fraction=0.1, seed=0)
"""

from __future__ import annotations

from longtail.data.cleaning import drop_empty_texts, empty_text_rows, strip_email_headers
from longtail.data.labels import DEFAULT_DELIMITER, LabelSpace, normalize_label
from longtail.data.readers import SUPPORTED_FORMATS, TextTable, is_missing, read_table
from longtail.data.splits import StratificationError, stratified_kfold, stratified_split

__all__ = [
    "DEFAULT_DELIMITER",
    "SUPPORTED_FORMATS",
    "LabelSpace",
    "StratificationError",
    "TextTable",
    "drop_empty_texts",
    "empty_text_rows",
    "is_missing",
    "normalize_label",
    "read_table",
    "strip_email_headers",
    "stratified_kfold",
    "stratified_split",
]
