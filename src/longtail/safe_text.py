"""User text made safe for the documents people open: spreadsheets (CSV) and Markdown.

Labels, file names and column names are user data. Written unchanged they can act:

- **CSV formula injection** (OWASP, "CSV Injection"): a spreadsheet runs a cell that starts with
  ``=``, ``+``, ``-`` or ``@`` as a formula (tab and carriage return can hide such a start).
  :func:`spreadsheet_cell` prefixes those cells with ``'``, which spreadsheets show as text.
- **Markdown / HTML injection**: ``report.md`` is rendered by GitHub, TensorBoard and editors; a
  label ``<script>`` or ``[x](javascript:...)`` would become markup. :func:`markdown_text`
  escapes what could start markup and leaves ordinary words, numbers and ``n/a`` as they are.

Policy for CSV: only the reports a person opens in a spreadsheet are escaped, namely the
predictions CSV of ``longtail predict``. Data files that longtail or the user's pipeline reads back
(``augment`` output, ``make-imbalanced`` output, ``datasets export``) keep the exact text: a
prefixed ``'`` would change the training text and the labels (``-1`` would become a new class
``'-1``), silently corrupting the data. Open those in a spreadsheet with formulas disabled, or
import them as text.
"""

from __future__ import annotations

import re
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def spreadsheet_cell(value: Any) -> Any:
    """``value`` for a CSV cell a spreadsheet will open: text starting with ``= + - @``, a tab or a
    carriage return gets a leading ``'``.

    Non-strings (row numbers, probabilities) and strings that are a plain number (``-1``,
    ``+0.5``, ``-2e-3``: a spreadsheet reads them as numbers, never as formulas) pass unchanged,
    so negative numbers stay numbers.

    Example:
        >>> spreadsheet_cell("=HYPERLINK(\\"http://x\\")"), spreadsheet_cell("-1"), spreadsheet_cell(-0.5)
        ('\\'=HYPERLINK("http://x")', '-1', -0.5)
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


_SPECIAL = re.compile(r"[\\`*_~|\]<&]")
_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")  # what a backslash escapes
_ENTITY = re.compile(r"#?\w+;")


def _escape(match: re.Match[str]) -> str:
    """The escaped form of one special character, judged by its neighbours."""
    text, i, char = match.string, match.start(), match.group()
    before = text[i - 1] if i > 0 else " "
    after = text[i + 1] if i + 1 < len(text) else " "
    spaced = before.isspace() and after.isspace()  # "p * w": never emphasis
    if char == "\\":
        # before punctuation, or last (the caller may append some): a plain one stays plain
        needed = i + 1 == len(text) or after in _PUNCTUATION  # ("true \\ predicted")
    elif char in "*~":
        needed = not spaced
    elif char == "_":
        needed = not spaced and not (before.isalnum() and after.isalnum())  # snake_case stays
    elif char == "]":
        needed = after == "("  # the end of [text](url)
    elif char == "<":
        return "&lt;" if after.isascii() and (after.isalpha() or after in "/!?") else char
    elif char == "&":
        return "&amp;" if _ENTITY.match(text, i + 1) else char
    else:  # ` and |
        needed = True
    return "\\" + char if needed else char


def markdown_text(value: Any) -> str:
    """``value`` as text inside a line of Markdown (a table cell, a bullet, a heading).

    Whitespace runs, newlines included, become one space (no new lines, headings or rows);
    `` ` `` and ``|``, ``*`` and ``~`` (unless between spaces), an underscore at a word's edge,
    the ``]`` of ``](`` and a backslash before punctuation get a backslash;
    ``<`` before a tag or link and ``&`` before an entity become ``&lt;`` / ``&amp;``. Other text is
    unchanged: ``not_spam``, ``sci.space``, ``R&D``, ``<0.001``, ``[0.1, 0.3]`` and ``-0.5`` read as
    they are.

    Example:
        >>> markdown_text("<script>alert(1)</script> | **x**")
        '&lt;script>alert(1)&lt;/script> \\\\| \\\\*\\\\*x\\\\*\\\\*'
    """
    text = " ".join(str(value).split())
    return _SPECIAL.sub(_escape, text)
