"""Label spaces: detect the task from raw labels, fix the class order, encode and decode.

Conventions (see :mod:`longtail.tasks`):

* Raw values are normalised to strings: ``1`` and ``1.0`` → ``"1"``, ``True`` → ``"true"``,
  other floats → ``repr``, strings are stripped.
* Task detection: any list value (or a string holding a JSON list, as a CSV cell does) →
  multilabel; a ``label_delimiter`` → multilabel from delimited strings; ``task="multilabel"``
  with plain strings splits on ``","`` (:data:`DEFAULT_DELIMITER`); otherwise 2 distinct values →
  binary, more → multiclass.
* Binary: ``names[1]`` is the positive class: ``positive_label`` if given, else the minority class
  (ties → the later name in sorted order). Multiclass / multilabel: names sorted (numerically when
  every name is an integer).
* Multilabel rows may have zero labels (an empty list); ``None``/NaN/``""`` and the strings of
  :data:`~longtail.data.readers.MISSING_LABEL_STRINGS` (``"NaN"``, ``"None"``, ...) are missing
  labels, alone or inside a list.
* Label columns with nothing to learn are refused (:mod:`longtail.data.label_checks`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from longtail.data.label_checks import (
    check_delimiter_not_empty,
    check_delimiter_used,
    check_multilabel_counts,
    check_multilabel_task,
    check_not_ids,
    check_not_regression,
    preview,
    warn_label_variants,
)
from longtail.data.readers import (
    format_rows,
    is_missing_label,
    missing_label_message,
)
from longtail.errors import LongtailError
from longtail.tasks import TASKS

DEFAULT_DELIMITER = ","
_INTEGER = re.compile(r"-?[0-9]+")
_LIST_TYPES = (list, tuple, np.ndarray)


def normalize_label(value: Any) -> str:
    """Turn one raw single label into its canonical string."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def _sort_names(names: set[str]) -> list[str]:
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses
    if all(_INTEGER.fullmatch(n) for n in names):
        return sorted(names, key=int)
    return sorted(names)


_preview = preview


@dataclass
class LabelSpace:
    """The classes of a task, in model output order.

    Attributes:
        task: ``"binary"``, ``"multiclass"`` or ``"multilabel"``.
        names: Class names; index ``i`` is model output ``i`` (binary: ``names[1]`` is positive).
        label_delimiter: How multilabel strings are split (``None``: only lists are multilabel).
    """

    task: str
    names: list[str]
    label_delimiter: str | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise LongtailError(f"unknown task {self.task!r}; valid tasks: {', '.join(TASKS)}")
        if len(set(self.names)) != len(self.names) or len(self.names) < 2:
            raise LongtailError(f"label names must be >= 2 unique strings, got {self.names!r}")
        if self.task == "binary" and len(self.names) != 2:
            raise LongtailError(f"a binary task needs exactly 2 names, got {self.names!r}")
        self._index = {name: i for i, name in enumerate(self.names)}

    @property
    def num_classes(self) -> int:
        return len(self.names)

    @property
    def positive_label(self) -> str | None:
        """The positive class of a binary task (``names[1]``), else ``None``."""
        return self.names[1] if self.task == "binary" else None

    @classmethod
    def fit(
        cls,
        labels: Sequence[Any],
        task: str | None = None,
        label_delimiter: str | None = None,
        positive_label: Any = None,
        source: str = "labels",
        row_numbers: Sequence[int] | None = None,
    ) -> LabelSpace:
        """Detect (or validate) the task and the class order from raw training labels.

        Args:
            labels: Raw label values, one per row.
            task: Force a task; it is checked against the labels.
            label_delimiter: Split string labels on this (implies multilabel).
            positive_label: Binary only: the class that becomes index 1.
            source: File name for error messages.
            row_numbers: Row numbers for error messages (default: 1, 2, ...).

        Raises:
            LongtailError: On missing labels, a single class, a task that does not fit the
                labels, or an unknown ``positive_label``.
        """
        rows = list(row_numbers) if row_numbers is not None else list(range(1, len(labels) + 1))
        labels = [_parse_json_list(v) for v in labels]
        if task is not None and task not in TASKS:
            raise LongtailError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
        check_delimiter_not_empty(label_delimiter, source)
        _check_missing(labels, source, rows)
        has_lists = any(isinstance(v, _LIST_TYPES) for v in labels)
        multilabel = has_lists or label_delimiter is not None or task == "multilabel"
        if multilabel:
            check_multilabel_task(task, has_lists, label_delimiter, source)
            delimiter = label_delimiter or DEFAULT_DELIMITER
            if label_delimiter is not None and not has_lists:
                check_delimiter_used(labels, label_delimiter, source)
            sets = _label_sets(labels, delimiter, source, rows)
            counts = Counter(n for names in sets for n in names)
        else:
            delimiter = None
            counts = Counter(normalize_label(v) for v in labels)
            check_not_regression(counts, source)
            check_not_ids(counts, len(labels), source)
        space = cls.from_counts(
            counts,
            "multilabel" if multilabel else task,
            label_delimiter=delimiter,
            positive_label=positive_label,
            source=source,
        )
        if multilabel:
            check_multilabel_counts(counts, len(labels), source)
        warn_label_variants(space.names, source)
        return space

    @classmethod
    def from_counts(
        cls,
        counts: Mapping[str, int],
        task: str | None = None,
        label_delimiter: str | None = None,
        positive_label: Any = None,
        source: str = "labels",
    ) -> LabelSpace:
        """The label space of classes counted already (normalised names → rows or occurrences).

        What :meth:`fit` does once it has counted, for callers that count without Python rows
        (:mod:`longtail.data.arrow`). ``task`` ``None`` means binary for 2 names, else multiclass.

        Raises:
            LongtailError: On fewer than two classes, a binary task without exactly two, or an
                unknown or misplaced ``positive_label``.
        """
        counts = Counter({name: int(n) for name, n in counts.items() if n})
        if len(counts) < 2:
            only = f"only one class {next(iter(counts))!r}" if counts else "no labels at all"
            raise LongtailError(
                f"{only} in {source}; a classifier needs at least two classes; "
                "check the label column"
            )
        space_task = task or ("binary" if len(counts) == 2 else "multiclass")
        if space_task == "binary" and len(counts) != 2:
            raise LongtailError(
                f"task 'binary' needs exactly 2 classes but {source} has {len(counts)}: "
                f"{_preview(_sort_names(set(counts)))}; use task 'multiclass'"
            )
        if positive_label is not None and space_task != "binary":
            raise LongtailError(
                f"positive_label={positive_label!r} only applies to binary tasks, "
                f"but {source} is {space_task}; drop the option"
            )
        names = _sort_names(set(counts))
        if space_task == "binary":
            names = _binary_order(names, counts, positive_label, source)
        return cls(space_task, names, label_delimiter if space_task == "multilabel" else None)

    def encode(
        self,
        labels: Sequence[Any],
        source: str = "labels",
        row_numbers: Sequence[int] | None = None,
    ) -> np.ndarray:
        """Raw labels → ``int64 (n,)`` class indices or a ``float32 (n, C)`` multi-hot array.

        Raises:
            LongtailError: For a missing or unknown label, naming the file, row and known labels.
        """
        rows = list(row_numbers) if row_numbers is not None else list(range(1, len(labels) + 1))
        labels = [_parse_json_list(v) for v in labels]
        _check_missing(labels, source, rows)
        if self.task == "multilabel":
            y = np.zeros((len(labels), self.num_classes), dtype=np.float32)
            delimiter = self.label_delimiter or DEFAULT_DELIMITER
            for i, names in enumerate(_label_sets(labels, delimiter, source, rows)):
                for name in names:
                    y[i, self._lookup(name, source, rows[i])] = 1.0
            return y
        out = np.empty(len(labels), dtype=np.int64)
        for i, value in enumerate(labels):
            if isinstance(value, _LIST_TYPES):
                raise LongtailError(
                    f"{source} row {rows[i]}: label {list(value)!r} is a list but the task is "
                    f"{self.task}; give one label per row"
                )
            out[i] = self._lookup(normalize_label(value), source, rows[i])
        return out

    def decode(self, y: np.ndarray | Sequence[Any]) -> list[Any]:
        """Class indices → names; multilabel multi-hot decisions (nonzero = on) → name lists."""
        arr = np.asarray(y)
        if self.task == "multilabel":
            if arr.ndim != 2 or arr.shape[1] != self.num_classes:
                raise ValueError(f"expected shape (n, {self.num_classes}), got {arr.shape}")
            return [[self.names[j] for j in np.flatnonzero(row)] for row in arr]
        return [self.names[int(i)] for i in arr.reshape(-1)]

    def counts(self, y: np.ndarray) -> np.ndarray:
        """Documents per class, shape ``(C,)`` ``int64``."""
        arr = np.asarray(y)
        if self.task == "multilabel":
            return (arr != 0).sum(axis=0).astype(np.int64)
        return np.bincount(arr.astype(np.int64), minlength=self.num_classes).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` reads it back."""
        return {
            "task": self.task,
            "names": list(self.names),
            "label_delimiter": self.label_delimiter,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelSpace:
        """Rebuild a label space saved with :meth:`to_dict`."""
        if not isinstance(data, dict) or "task" not in data or "names" not in data:
            raise LongtailError(f"label space needs 'task' and 'names', got {data!r}")
        return cls(str(data["task"]), [str(n) for n in data["names"]], data.get("label_delimiter"))

    def _lookup(self, name: str, source: str, row: int) -> int:
        index = self._index.get(name)
        if index is None:
            raise LongtailError(
                f"{source} row {row}: unknown label {name!r}; known labels: {_preview(self.names)}; "
                "fix the label or retrain with it"
            )
        return index


def _parse_json_list(value: Any) -> Any:
    """A CSV cell like ``["earn", "grain"]`` is the JSON list it spells; other values as they are."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            try:
                parsed = json.loads(text)
            except (ValueError, RecursionError):
                return value
            if isinstance(parsed, list):
                return parsed
    return value


def _split(value: Any, delimiter: str) -> list[str]:
    """One row's labels, in order, without repeats. Blank pieces of a delimited string
    (``"a|b|"``, ``"a||b"``) are formatting, not labels, and are skipped."""
    if isinstance(value, _LIST_TYPES):
        parts = [normalize_label(v) for v in value]
    else:
        parts = normalize_label(value).split(delimiter)
    return list(dict.fromkeys(p.strip() for p in parts if p.strip()))


def _label_sets(
    labels: Sequence[Any], delimiter: str, source: str, rows: Sequence[int]
) -> list[list[str]]:
    """Each row's labels (:func:`_split`), refusing a missing value among them.

    A ``null``/NaN/``""`` inside a JSON list, or a piece like ``NaN`` or ``None`` of a delimited
    string (:data:`~longtail.data.readers.MISSING_LABEL_STRINGS`), is a missing label as it would
    be on its own: the row's other labels may be incomplete, so it is an error, not skipped.
    An empty list ``[]`` is a row with no labels.
    """
    sets, bad, values = [], [], []
    for i, value in enumerate(labels):
        if isinstance(value, _LIST_TYPES):
            members = list(value)
            empty = [m for m in members if _missing(m)]
        else:
            members = normalize_label(value).split(delimiter)
            empty = [m for m in members if m.strip() and _missing(m)]
        if empty:
            bad.append(rows[i])
            values.append(empty[0])
        sets.append(_split(value, delimiter))
    if bad:
        shown = ", ".join(sorted({_short(v) for v in values}))
        raise LongtailError(
            f"{source}: {len(bad)} row(s) have a missing value ({shown}) among their labels "
            f"(rows {format_rows(bad)}); remove it, or fill in the label ([] is a row with no labels)"
        )
    return sets


def _short(value: Any) -> str:
    if value is None:
        return "null"
    return repr(value.strip()) if isinstance(value, str) else repr(value)


def _check_missing(labels: Sequence[Any], source: str, rows: Sequence[int]) -> None:
    """Refuse missing labels, and values that are not labels (objects, lists inside lists)."""
    for i, value in enumerate(labels):
        members = value if isinstance(value, _LIST_TYPES) else [value]
        bad = next((m for m in members if isinstance(m, (dict, *_LIST_TYPES))), None)
        if bad is not None:
            kind = "an object" if isinstance(bad, dict) else "a nested list"
            raise LongtailError(
                f"{source} row {rows[i]}: the label is {kind}; give a string, a number, or "
                "(multilabel) a list of strings"
            )
    missing = [i for i, v in enumerate(labels) if _missing(v)]
    if missing:
        raise LongtailError(
            missing_label_message(
                source, [labels[i] for i in missing], [rows[i] for i in missing], None
            )
        )


def _missing(value: Any) -> bool:
    return not isinstance(value, _LIST_TYPES) and is_missing_label(value)


def _binary_order(
    names: list[str], counts: Counter[str], positive_label: Any, source: str
) -> list[str]:
    if positive_label is not None:
        positive = normalize_label(positive_label)
        if positive not in counts:
            raise LongtailError(
                f"positive_label {positive!r} is not a class in {source}; "
                f"classes: {_preview(names)}"
            )
    else:
        # Minority class is positive; on a tie the later name in sorted order wins.
        positive = min(reversed(names), key=lambda n: counts[n])
    return [next(n for n in names if n != positive), positive]
