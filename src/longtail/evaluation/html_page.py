"""The page around a report: figures (inline SVG or base64 PNG), tables, escaping, CSS, the
figure-check script and the atomic write. The public building blocks here are shared by the run
report (:mod:`.html_report`) and the comparison report (:mod:`.html_compare`)."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from longtail import __version__
from longtail.errors import LongtailError
from longtail.evaluation.markdown import format_inline as report_format_inline
from longtail.evaluation.markdown import is_number  # the same number test as report.md
from longtail.io_utils import atomic_write_text

_IMAGE_MAGIC = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


class Markup(str):
    """A string that is already safe HTML and must not be escaped again."""


def write_html_report(html: str, path: str | os.PathLike[str]) -> Path:
    """Write ``html`` to ``path`` atomically (UTF-8); parent folders are created."""
    if not isinstance(html, str) or "<html" not in html[:400]:
        raise LongtailError(f"refusing to write {path}: not an HTML document")
    return atomic_write_text(path, html)


# ---------------------------------------------------------------- building blocks


def figure_block(
    fig_id: str, title: str, payload: str | bytes, caption: str
) -> tuple[str, str, str]:
    """``(id, title, html)`` of one ``<figure>``: SVG text inlined, PNG/JPEG bytes as base64."""
    if isinstance(payload, bytes):
        mime = next((m for magic, m in _IMAGE_MAGIC.items() if payload.startswith(magic)), None)
        if mime is None:
            raise LongtailError(f"figure {title!r} is not PNG or JPEG bytes; embed it as a PNG")
        data = base64.b64encode(payload).decode("ascii")
        body = f'<img src="data:{mime};base64,{data}" alt="{escape(title)}">'
    else:
        body = _inline_svg(payload, fig_id, title)
    html = (
        f'<figure id="{fig_id}">{body}<figcaption><strong>{escape(title)}.</strong> '
        f"{escape(caption)}</figcaption></figure>"
    )
    return fig_id, title, html


def _inline_svg(svg: str, prefix: str, title: str) -> str:
    """Matplotlib's SVG made fit to sit in an HTML page: no prolog, ids unique per figure."""

    def rename(tag: re.Match[str]) -> str:  # only inside tags: text nodes hold user strings
        t = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m[1]}"', tag[0])
        t = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m[1]})", t)
        return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m[1]}"', t)

    body = re.sub(r"<[^<>]+>", rename, svg[svg.index("<svg") :])
    return body.replace("<svg ", f'<svg role="img" aria-label="{escape(title)}" ', 1)


def contents_nav(figures: list[tuple[str, str, str]]) -> str:
    """The page's list of links to its figures (those with an id)."""
    items = "".join(f'<li><a href="#{i}">{escape(t)}</a></li>' for i, t, _ in figures if i)
    return f"<nav><ul>{items}</ul></nav>" if items else ""


def skipped_figure(text: str) -> tuple[str, str, str]:
    """A note in place of a figure that cannot be drawn (no id: not counted as a figure)."""
    return "", "", note_paragraph(text)


def note_paragraph(text: str) -> str:
    """A grey explanatory paragraph, escaped."""
    return f'<p class="note">{escape(text)}</p>'


def warnings_section(warnings: Sequence[Any]) -> str:
    """The page's warnings, each an ARIA alert; "No warnings." when there are none."""
    if not warnings:
        return '<p class="ok">No warnings.</p>'
    items = "".join(
        f'<div class="warning" role="alert">WARNING: {escape(str(w))}</div>' for w in warnings
    )
    return f'<section id="warnings">{items}</section>'


def html_table(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> str:
    """A table; cells are escaped unless :class:`Markup`, numbers are right-aligned."""

    def cell(tag: str, value: Any) -> str:
        text = value if isinstance(value, Markup) else escape(str(value))
        numeric = not isinstance(value, Markup) and is_number(str(value))
        return (
            f'<{tag} class="num">{text}</{tag}>'
            if numeric and tag == "td"
            else f"<{tag}>{text}</{tag}>"
        )

    head = "".join(cell("th", h) for h in header)
    body = "".join("<tr>" + "".join(cell("td", c) for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_document(title: str, parts: Sequence[str]) -> str:
    """The whole self-contained page: CSP, CSS, the figure-check script and ``parts``."""
    body = "\n".join(p for p in parts if p)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n<script>{_SCRIPT}</script>\n"
        f"</head>\n<body>\n<main>\n{body}\n"
        f'<footer><p class="note">Generated by longtail {escape(__version__)}.</p></footer>\n'
        '</main>\n<pre id="js-errors" hidden></pre>\n</body>\n</html>\n'
    )


def format_signed(value: Any) -> str:
    """A difference with its sign, 4 decimals, or n/a."""
    return "n/a" if value is None else f"{float(value):+.4f}"


def format_p_value(value: Any) -> str:
    """A p-value to 3 significant digits, or n/a."""
    return "n/a" if value is None else f"{float(value):.3g}"


def finite_or_none(value: float) -> float | None:
    """NaN and infinities as None (JSON-safe, shown as n/a)."""
    return value if np.isfinite(value) else None


def difference_or_none(x: float | None, ref: float | None) -> float | None:
    """``x - ref``, or None when either is missing."""
    return None if x is None or ref is None else x - ref


def format_inline(value: Any) -> str:
    """A config value for a table cell: report.md's one-line form, cut at 400 characters."""
    return report_format_inline(value, max_chars=400)


_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
_CSS = """
body{margin:0;background:#fff;color:#1b1b1b;
  font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1100px;margin:0 auto;padding:1.2rem 1.5rem 3rem}
h1{font-size:1.6rem;margin:.4rem 0 .6rem}
h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0 .8rem;font-size:.88rem}
th,td{border:1px solid #b9bec6;padding:.25rem .55rem;text-align:left;vertical-align:top}
th{background:#eef1f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:nth-child(even){background:#fafbfc}
.warning{background:#fdecea;border:2px solid #c62828;color:#7f1010;font-weight:600;
  padding:.6rem .9rem;margin:.5rem 0;border-radius:4px}
.ok{color:#2e7d32}
.note{color:#555;font-size:.88rem}
figure{margin:1.2rem 0;padding:.8rem;border:1px solid #e1e4e8;border-radius:4px}
figure svg,figure img{display:block;max-width:100%;height:auto;margin:0 auto}
figcaption{font-size:.88rem;color:#333;margin-top:.5rem}
nav ul{columns:2;margin:.3rem 0}
code{background:#f3f3f3;padding:0 .2rem}
"""
# Counts rendered figures for headless checks; keeps script errors where a test can read them.
_SCRIPT = """
(function () {
  var errors = [];
  function show() {
    var pre = document.getElementById("js-errors");
    if (pre) { pre.textContent = errors.join("\\n"); }
  }
  window.onerror = function (message, source, line, column) {
    errors.push(String(message) + " (line " + line + ", column " + column + ")");
    show();
    return false;
  };
  function rendered(figure) {
    var img = figure.querySelector("img");
    if (img) { return img.complete ? img.naturalWidth > 0 : false; }
    var svg = figure.querySelector("svg");
    if (!svg) { return false; }
    try { return svg.getBBox().width > 0; } catch (e) { return false; }
  }
  window.addEventListener("load", function () {
    var figures = document.querySelectorAll("figure[id]");
    var ok = 0;
    for (var i = 0; i < figures.length; i++) { if (rendered(figures[i])) { ok++; } }
    document.body.setAttribute("data-figures-ok", String(ok));
    document.body.setAttribute("data-figures-total", String(figures.length));
    show();
  });
})();
"""
