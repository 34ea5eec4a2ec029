"""The Python entry point: ``longtail.train(...)`` returns a ready :class:`~longtail.Classifier`."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from longtail.config import (
    ExperimentConfig,
    apply_overrides,
    build_config,
    dump_config,
    load_config,
    set_path,
)
from longtail.logs import info, to_stdout


def train(
    data: str | Path | None = None,
    *,
    output: str | Path | None = None,
    config: ExperimentConfig | dict[str, Any] | str | Path | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    validation_data: str | Path | None = None,
    test_data: str | Path | None = None,
    model: str | None = None,
    loss: str | dict[str, Any] | None = None,
    sampler: str | dict[str, Any] | None = None,
    strategy: str | dict[str, Any] | None = None,
    augment: str | dict[str, Any] | None = None,
    epochs: int | None = None,
    overrides: list[str] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    verbose: bool = True,
):
    """Train a classifier and return it, loaded from the model directory it wrote.

    Args:
        data: training file (CSV, TSV, JSONL, Parquet or a HF ``datasets`` directory).
        output: run directory: model, checkpoints, ``report.json`` / ``report.md``.
        config: an :class:`ExperimentConfig`, a dict of sections, or a YAML path; the keyword
            arguments below override it, and ``overrides`` (``["train.lr=3e-5"]``) override both.
        loss: registered loss name or ``{"name": "focal", "gamma": 2.0}``; ``None`` = default.
        sampler: registered sampler name or spec (``"class_balanced"``).
        strategy: ``"vanilla"``, ``"lp_ft"``, ``"prefinetune_da"``, ``"drw"`` or a spec with
            parameters (``{"name": "prefinetune_da", "top_layers": 2}``).
        augment: augmentation method for minority classes of the training split (``"eda"``,
            ``"back_translation"``, ``"llm"`` or a spec); the ratio is ``augment.target_ratio``.
        epochs: a fixed number of epochs; ``None`` (default) trains to convergence: early
            stopping on validation, after at least ``train.min_steps`` steps, within
            ``train.max_epochs`` (:mod:`longtail.training.budget`).

    Returns:
        The trained :class:`~longtail.predictor.Classifier`; its ``report`` attribute holds the
        evaluation report (test split when ``test_data`` is given, else validation).

    Example:
        >>> clf = longtail.train("train.csv", output="runs/x", test_data="test.csv")  # doctest: +SKIP
        >>> clf.predict(["WINNER!! claim your prize"])                                # doctest: +SKIP
    """
    from longtail.predictor import Classifier
    from longtail.training.run import run_training

    if isinstance(config, ExperimentConfig):
        base = dump_config(config)
    elif isinstance(config, (str, Path)):
        base = load_config(config)
    else:
        base = dict(config or {})
    for key, value in {
        "data.train": data,
        "data.validation": validation_data,
        "data.test": test_data,
        "data.text_column": text_column,
        "data.label_column": label_column,
        "model.name": model,
        "train.epochs": epochs,
        "loss": loss,
        "sampler": sampler,
        "strategy": strategy,
        "augment.method": augment,
        "output": output,
    }.items():
        set_path(base, key, str(value) if isinstance(value, Path) else value)
    experiment = build_config(apply_overrides(base, list(overrides or [])), source="longtail.train")
    with to_stdout() if verbose else contextlib.nullcontext():  # else: the "longtail" logger
        result = run_training(experiment, resume=resume, overwrite=overwrite, log=info)
    classifier = Classifier.load(result.output)
    classifier.report = result.report
    return classifier
