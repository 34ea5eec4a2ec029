"""The canvas every report figure is drawn on, and how it is written out.

A figure gets its own :class:`matplotlib.figure.Figure` on an Agg canvas (never pyplot's global
state, so drawing is safe inside a training run or a thread) and leaves as SVG text or PNG bytes.
SVG stays small and reproducible: text stays text (``svg.fonttype: none``), ids are hashed with a
fixed salt, and the Dublin Core metadata block (with its external URIs) is dropped. User strings go
through :func:`label_text` first, so a label is never parsed as mathtext.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from longtail.errors import LongtailError

FORMATS: tuple[str, ...] = ("svg", "png")
MAX_NAME = 28  # characters of a label shown in a legend or on an axis
_SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "longtail", "svg.image_inline": True}
_NO_METADATA = {"Format": None, "Type": None, "Creator": None, "Date": None}


def new_figure(width: float, height: float) -> Figure:
    """An empty figure of ``width`` x ``height`` inches at 100 dpi, on its own Agg canvas."""
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def axes_figure(width: float, height: float) -> tuple[Figure, Any]:
    """A figure with one gridded axes: the layout of every single-panel report figure."""
    fig = new_figure(width, height)
    ax = fig.add_subplot()
    ax.grid(True, alpha=0.3, lw=0.5)
    return fig, ax


def export(fig: Figure, fmt: str) -> str | bytes:
    """``fig`` as SVG text (``fmt="svg"``) or PNG bytes (``"png"``), without metadata."""
    if fmt not in FORMATS:
        raise LongtailError(f"unknown figure format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    buffer = io.BytesIO()
    with matplotlib.rc_context(_SVG_RC):
        if fmt == "svg":
            fig.savefig(buffer, format="svg", metadata=_NO_METADATA)
        else:
            fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue().decode("utf-8") if fmt == "svg" else buffer.getvalue()


def class_ticks(ax: Any, names: Sequence[str]) -> None:
    """One x tick per class, rotated when there are many or they are long."""
    ticks = [label_text(n, 18) for n in names]
    if len(ticks) > 6 or max((len(t) for t in ticks), default=0) > 8:
        ax.set_xticks(range(len(ticks)), ticks, rotation=60, ha="right", fontsize=7)
    else:
        ax.set_xticks(range(len(ticks)), ticks, fontsize=8)


def legend(ax: Any, entries: int) -> None:
    """A legend inside the axes for a few entries, beside it (in one or two columns) for many."""
    if entries > 8:
        ax.legend(
            fontsize=7,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            ncols=1 if entries <= 14 else 2,
        )
    elif entries:
        ax.legend(fontsize=8, loc="best")


def colours(k: int) -> list[Any]:
    """``k`` distinct colours: tab10 up to ten, tab20 (cycled) beyond."""
    cmap = matplotlib.colormaps["tab10" if k <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(k)]


def label_text(text: Any, limit: int = MAX_NAME) -> str:
    """A user string made safe for matplotlib: shortened, and ``$`` never opens mathtext."""
    s = " ".join(str(text).split())
    s = s if len(s) <= limit else s[: limit - 1] + "…"
    s = " " + s if s.startswith("_") else s  # matplotlib hides legend labels starting with "_"
    return s.replace("$", r"\$")


def float_array(values: Any) -> np.ndarray:
    """Floats with ``None`` (a metric undefined for a class) as NaN, which matplotlib skips."""
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
