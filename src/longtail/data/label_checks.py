"""Label columns that parse but cannot be learned from, refused before training.

:meth:`longtail.data.LabelSpace.fit` calls these on training labels, and
:func:`longtail.data.arrow_labels.fit_and_encode_arrow` on their counts (``--arrow``): a label
delimiter that splits nothing, continuous numbers (a regression target), a different label in
every row (an id column), and multilabel targets where a label (or the whole label set) is the
same in every row. Each is a one-line :class:`~longtail.errors.LongtailError` naming the file and
the fix. Labels that look like one class written two ways (``Spam``/``spam``, ``1``/``1.0``) are a
warning: they may be meant apart, but usually are not.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from longtail.errors import LongtailError


def preview(names: Sequence[str], limit: int = 20) -> str:
    """``'a', 'b', ... (40 in all)`` for messages."""
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names)} in all)"


def check_delimiter_not_empty(delimiter: str | None, source: str) -> None:
    """An empty delimiter would split every label into characters."""
    if delimiter is not None and not delimiter:
        raise LongtailError(
            f"{source}: the label delimiter is empty; give the character that separates "
            "a row's labels (e.g. --label-delimiter '|'), or leave it out for one label per row"
        )


def check_multilabel_task(
    task: str | None, has_lists: bool, delimiter: str | None, source: str
) -> None:
    """Labels that are lists, or a delimiter, make the task multilabel: another task is refused."""
    if task in (None, "multilabel"):
        return
    why = "some labels are lists" if has_lists else f"label_delimiter={delimiter!r}"
    raise LongtailError(
        f"{source}: task {task!r} was given but {why} (multilabel); "
        "use task 'multilabel' or give one label per row"
    )


def check_delimiter_used(labels: Sequence[Any], delimiter: str, source: str) -> None:
    """A delimiter found in no label splits nothing: the delimiter is wrong, or the task is
    single-label (and training it as multilabel would hide that)."""
    if any(delimiter in str(v) for v in labels):
        return
    raise_unused_delimiter(list(dict.fromkeys(str(v).strip() for v in labels)), delimiter, source)


def raise_unused_delimiter(distinct: Sequence[str], delimiter: str, source: str) -> NoReturn:
    """The error of :func:`check_delimiter_used`, from the distinct (stripped) labels in order of
    first appearance: for callers that count labels instead of holding them."""
    examples = preview(list(distinct), limit=3)
    raise LongtailError(
        f"{source}: the label delimiter {delimiter!r} occurs in no label (labels such as "
        f"{examples}); give the character that separates a row's labels, or drop "
        "--label-delimiter for one label per row"
    )


#: A single-label column with at least this many distinct numbers, some not whole, and on average
#: fewer than :data:`_REGRESSION_ROWS_PER_VALUE` rows per value, is taken for a regression target:
#: a score such as 0.137 or 2.5 per row. Bins (0.5-step ratings, 0.25-step grades) repeat.
_REGRESSION_MIN_VALUES = 10
_REGRESSION_ROWS_PER_VALUE = 5
#: A label column with a different value in each of at least this many rows is an id column.
_IDS_MIN_ROWS = 20


def _as_number(name: str) -> float | None:
    try:
        number = float(name)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def check_not_regression(counts: Mapping[str, int], source: str) -> None:
    """Refuse continuous numbers as class labels (each would become a class of its own)."""
    numbers = [_as_number(name) for name in counts]
    if len(counts) < _REGRESSION_MIN_VALUES or any(n is None for n in numbers):
        return
    if all(float(n).is_integer() for n in numbers):
        return
    rows = sum(counts.values())
    if len(counts) * _REGRESSION_ROWS_PER_VALUE <= rows:
        return
    examples = ", ".join(list(counts)[:3])
    raise LongtailError(
        f"{source}: the label column holds {len(counts)} different numbers in {rows} rows "
        f"({examples}, ...): it looks like a regression target, and longtail trains classifiers; "
        "bin the values into classes (e.g. low/medium/high) or pick the class label column "
        "(--label-column)"
    )


def check_not_ids(counts: Mapping[str, int], n_rows: int, source: str) -> None:
    """Refuse a column whose every row has its own label: ids or free text, not classes."""
    if n_rows < _IDS_MIN_ROWS or len(counts) < n_rows:
        return
    examples = ", ".join(repr(n) for n in list(counts)[:3])
    raise LongtailError(
        f"{source}: every row has a different label ({n_rows} classes in {n_rows} rows, "
        f"{examples}, ...): the label column looks like an id or free text, not classes; "
        "pick the class label column (--label-column)"
    )


def check_multilabel_counts(rows_per_label: Mapping[str, int], n_rows: int, source: str) -> None:
    """Refuse multilabel targets with nothing to learn.

    Args:
        rows_per_label: Label name → number of rows holding it (each row counted once).
        n_rows: Rows in the data.
        source: File name for the message.

    Raises:
        LongtailError: When every row has the same label set, or when a label is on in every
            row: it has no negative example, would always be predicted and would score a perfect
            F1 that lifts macro-F1.
    """
    always = sorted({name for name, n in rows_per_label.items() if n >= n_rows})
    if not always:
        return
    if len(always) == len(rows_per_label):
        raise LongtailError(
            f"{source}: every row has the same labels ({preview(always)}), so nothing can be "
            "learned; check the label column (--label-column) and the delimiter"
        )
    names = preview(always)
    raise LongtailError(
        f"{source}: label{'s' if len(always) > 1 else ''} {names} {'are' if len(always) > 1 else 'is'} "
        f"on in every one of the {n_rows} rows, so there is no negative example to learn from "
        "and it would always be predicted; remove it from the labels (or add rows without it)"
    )


def _spelling_key(name: str) -> str:
    """What two spellings of one label share: the number it reads as, else its casefolded text."""
    number = _as_number(name)
    return repr(number) if number is not None else " ".join(name.casefold().split())


def warn_label_variants(names: Sequence[str], source: str) -> None:
    """Warn once about labels that differ only in case, inner spaces or number format."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(_spelling_key(name), []).append(name)
    alike = [sorted(group) for group in groups.values() if len(group) > 1]
    if not alike:
        return
    shown = "; ".join(" and ".join(repr(n) for n in group) for group in alike[:3])
    more = f" (and {len(alike) - 3} more groups)" if len(alike) > 3 else ""
    warnings.warn(
        f"{source}: labels {shown}{more} look like one class written differently (case, spaces "
        "or number format) but are trained as separate classes; write each class one way if "
        "they are the same",
        stacklevel=3,
    )
