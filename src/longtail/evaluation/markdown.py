"""Markdown building blocks shared by the reports: aligned tables, numbers, inline values.

Every user string goes through :func:`longtail.safe_text.markdown_text`, so a label cannot inject
markup or table cells.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from longtail.evaluation.metrics import to_jsonable
from longtail.safe_text import markdown_text


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table with padded columns, so it lines up in a terminal too. Every cell is
    escaped (:func:`longtail.safe_text.markdown_text`): numbers and plain words stay as they are,
    a label's ``|`` or ``<script>`` cannot break the table or become markup."""
    cells = [[_md(c) for c in header]] + [[_md(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = [all(is_number(row[i]) for row in cells[1:]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(row, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(parts) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if n else "-" * (w + 2)
            for w, n in zip(widths, numeric, strict=True)
        )
        + "|"
    )
    return [line(cells[0]), rule, *(line(r) for r in cells[1:])]


def format_value(value: Any) -> str:
    """A metric for a table cell: 4 decimals, integers as is, missing or NaN as n/a."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return str(value)
    return str(value) if isinstance(value, int | np.integer) else f"{float(value):.4f}"


def format_inline(value: Any, max_chars: int | None = None) -> str:
    """A config value on one line: mappings and lists as JSON (cut to ``max_chars`` with an
    ellipsis when given), anything else as :func:`format_value`."""
    if isinstance(value, Mapping | list | tuple):
        text = json.dumps(to_jsonable(value), default=str, separators=(", ", ": "))
        return text if max_chars is None or len(text) <= max_chars else text[: max_chars - 1] + "…"
    return format_value(value)


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text == "n/a"
    return True


def _md(value: Any) -> str:
    """User text inside a line or a table cell: one line, ``|`` escaped, no markup (see
    :func:`longtail.safe_text.markdown_text`)."""
    return markdown_text(value)
