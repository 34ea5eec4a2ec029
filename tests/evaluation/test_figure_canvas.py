"""The shared canvas: safe label text, None as NaN, and the two export formats."""

from __future__ import annotations

import numpy as np
import pytest

from longtail.errors import LongtailError
from longtail.evaluation import figure_canvas as canvas


def test_label_text_is_short_one_line_and_never_mathtext_or_hidden():
    assert canvas.label_text("cost $5 to $9") == r"cost \$5 to \$9"
    assert canvas.label_text("a\n\tb   c") == "a b c"
    assert canvas.label_text("_private") == " _private"  # a leading "_" hides a legend entry
    long = canvas.label_text("x" * 40)
    assert len(long) == canvas.MAX_NAME and long.endswith("…")
    assert canvas.label_text("abcdefghij", limit=5) == "abcd…"


def test_float_array_turns_undefined_into_nan():
    values = canvas.float_array([0.5, None, 1])
    assert values.dtype == np.float64
    assert values[0] == 0.5 and np.isnan(values[1]) and values[2] == 1.0


def test_export_writes_svg_text_or_png_bytes_and_names_the_valid_formats():
    fig, ax = canvas.axes_figure(2, 2)
    ax.plot([0, 1], [0, 1], label="line")
    canvas.legend(ax, 1)
    svg = canvas.export(fig, "svg")
    assert svg.lstrip().startswith("<?xml") and "<dc:" not in svg  # no metadata block
    assert canvas.export(fig, "png")[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(LongtailError, match="valid formats: svg, png"):
        canvas.export(fig, "pdf")


def test_colours_are_distinct_up_to_twenty():
    assert len(set(canvas.colours(10))) == 10
    assert len(set(canvas.colours(20))) == 20
