"""User text for spreadsheets and Markdown: formula cells neutralised, markup escaped, words kept."""

from __future__ import annotations

import pytest

from longtail.safe_text import markdown_text, spreadsheet_cell


@pytest.mark.parametrize(
    "text", ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1", "-", "=", "-x"]
)
def test_formula_starts_get_a_quote(text):
    assert spreadsheet_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["-1", "+0.5", "-2e-3", "-.5", "ham", "a=b", "", -0.5, 3, None])
def test_numbers_and_plain_text_pass_unchanged(value):
    assert spreadsheet_cell(value) == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<script>alert(1)</script>", "&lt;script>alert(1)&lt;/script>"),
        ("a|b", "a\\|b"),
        ("**bold** _it_ `code` ~~x~~", "\\*\\*bold\\*\\* \\_it\\_ \\`code\\` \\~\\~x\\~\\~"),
        ("[click](javascript:alert(1))", "[click\\](javascript:alert(1))"),
        ("line\n## heading\n| fake | row |", "line ## heading \\| fake \\| row \\|"),
        ("\\*", "\\\\\\*"),  # a backslash cannot cancel the escape that follows it
        ("&lt;b&gt;", "&amp;lt;b&amp;gt;"),
        ("<http://x.y>", "&lt;http://x.y>"),
    ],
)
def test_markup_is_escaped(text, expected):
    assert markdown_text(text) == expected


@pytest.mark.parametrize(
    "text",
    ["not_spam", "sci.space", "R&D", "<0.001", "a < b", "[0.1, 0.3]", "-0.5", "0.8 ± 0.1",
     "n/a", "true \\ predicted", "spam †", "C++ (v2)", "it's #1!", "don't: 50%", "p * w"],
)  # fmt: skip
def test_ordinary_text_reads_as_it_is(text):
    assert markdown_text(text) == text


def test_escaped_text_renders_as_the_original_text_in_commonmark():
    markdown_it = pytest.importorskip("markdown_it")
    import html

    renderer = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"])
    for text in ["<script>alert(1)</script>", "**x** _y_ `z`", "[a](http://b)", "a\\*b", "&amp;"]:
        rendered = renderer.render(f"label: {markdown_text(text)}").strip()
        assert rendered.startswith("<p>") and rendered.count("<") == 2  # <p> and </p> only
        assert html.unescape(rendered[len("<p>label: ") : -len("</p>")]) == text


def test_a_trailing_backslash_cannot_escape_what_follows_the_text():
    assert markdown_text("a\\") == "a\\\\"
