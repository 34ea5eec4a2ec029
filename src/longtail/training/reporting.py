"""What a run adds to its report beyond the metrics: the augmentation check and the HTML page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from longtail.config import AugmentConfig, TrainConfig
from longtail.data import LabelSpace
from longtail.evaluation.html_report import render_run_html, write_html_report
from longtail.evaluation.run_arrays import RunArrays
from longtail.io_utils import atomic_write_bytes
from longtail.models.inference import predict_logits
from longtail.training.augmentation import AugmentedRows, quality_check


def augmentation_section(
    augmented: list[tuple[str, AugmentedRows]],
    setup: Any,
    augment: AugmentConfig,
    train: TrainConfig,
    space: LabelSpace,
    output: Path,
    device: torch.device,
    log: Callable[[str], None],
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Per-class generation stats, and the original-vs-generated embedding check (Shi et al.
    2022, Fig. 2) with the trained model: ``(report section, {title: PNG})``."""
    section: dict[str, Any] = {}
    figures: dict[str, bytes] = {}
    for name, rows in augmented:
        entry: dict[str, Any] = {
            "rows": rows.num_original,
            "generated": len(rows.texts) - rows.num_original,
            "stats": rows.stats,
        }
        method = augment.quality_plot
        if method != "none" and len(rows.texts) > rows.num_original:

            def embed(indices: list[int], rows: AugmentedRows = rows) -> np.ndarray:
                texts = [rows.texts[i] for i in indices]
                extra = None if rows.extra is None else rows.extra[indices]
                split = setup.represent(texts, rows.y[indices], extra)
                return predict_logits(
                    setup.trainable, split, batch_size=train.eval_batch_size,
                    batcher=setup.batcher, device=device, return_embedding=True,
                )  # fmt: skip

            quality = quality_check(
                embed, rows, task=space.task, label_names=space.names, method=method,
                seed=train.seed,
            )  # fmt: skip
            file_name = f"augmentation_quality_{name}.png"
            atomic_write_bytes(output / file_name, quality.png)
            entry["quality"] = quality.to_json() | {"figure": file_name}
            figures[f"Augmentation quality ({name}): original vs generated embeddings"] = (
                quality.png
            )
            log(f"augmentation quality plot: {output / file_name}")
        section[name] = entry
    return section, figures


def write_html(
    report: dict[str, Any],
    space: LabelSpace,
    y_true: np.ndarray,
    probs: np.ndarray,
    probs_uncalibrated: np.ndarray,
    meta: dict[str, Any],
    figures: dict[str, bytes],
    output: Path,
) -> None:
    """``report.html``: curves, calibration and per-class figures of the report's split (the test
    file when given, else validation) and the training curves."""
    arrays = RunArrays(
        task=space.task, labels=list(space.names), y_true=np.asarray(y_true), probs=probs,
        thresholds=list(np.atleast_1d(meta["thresholds"]).astype(float)),
        probs_uncalibrated=probs_uncalibrated,
        train_class_counts=meta["training"]["train_class_counts"],
        history=meta["training"]["history"], extra_figures=figures or None,
    )  # fmt: skip
    write_html_report(render_run_html(report, arrays), output / "report.html")
