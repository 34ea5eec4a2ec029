"""The Python entry point: ``longtail.train(...)`` returns a ready :class:`~longtail.Classifier`.

Its keywords are the ``longtail train`` flags' names (``--max-length`` → ``max_length``,
``--threshold-objective`` → ``threshold_objective``), generated from the config model by
:mod:`longtail.options`, so a new config field is a keyword here as soon as it is a flag.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import textwrap
from pathlib import Path
from typing import Any

from longtail.config import (
    ExperimentConfig,
    apply_overrides,
    build_config,
    dump_config,
    load_config,
)
from longtail.logs import info, to_stdout
from longtail.options import apply_options
from longtail.options import options as generated_options

SOURCE = "longtail.train"


def experiment_config(
    data: str | Path | None = None,
    *,
    output: str | Path | None = None,
    config: ExperimentConfig | dict[str, Any] | str | Path | None = None,
    overrides: list[str] | None = None,
    **options: Any,
) -> ExperimentConfig:
    """The validated :class:`ExperimentConfig` that :func:`train` runs for these arguments (the
    same ones), built without reading any data: ``config`` first, the keywords over it, and the
    dotted ``overrides`` over both. An unknown keyword fails in one line naming the closest."""
    if isinstance(config, ExperimentConfig):
        base = dump_config(config)
    elif isinstance(config, (str, Path)):
        base = load_config(config)
    else:  # a copy: the caller's nested sections are not written into
        base = copy.deepcopy(dict(config or {}))
    apply_options(base, {"data": data, "output": output, **options}, source=SOURCE)
    return build_config(apply_overrides(base, list(overrides or [])), source=SOURCE)


def train(
    data: str | Path | None = None,
    *,
    output: str | Path | None = None,
    config: ExperimentConfig | dict[str, Any] | str | Path | None = None,
    overrides: list[str] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    verbose: bool = True,
    **options: Any,
):
    """Train a classifier and return it, loaded from the model directory it wrote.

    Every ``longtail train`` flag is a keyword of the same name (``--max-length 128`` is
    ``max_length=128``, ``--threshold-objective mcc`` is ``threshold_objective="mcc"``); the
    list below is generated from the config model, and ``inspect.signature(longtail.train)``
    shows them all. ``None`` (the default of each) leaves the config's value. An unknown keyword
    fails with one line naming the closest valid ones.

    Args:
        data: training file (CSV, TSV, JSONL, Parquet or a HF ``datasets`` directory).
        output: run directory: model, checkpoints, ``report.json`` / ``report.md``.
        config: an :class:`ExperimentConfig`, a dict of sections, or a YAML path; the keywords
            override it, and ``overrides`` (``["train.lr=3e-5"]``) override both.
        overrides: dotted ``key=value`` settings, as on the command line.
        resume: continue the run in ``output`` from its last checkpoint.
        overwrite: replace a finished run in ``output``.
        verbose: print the training log (else it goes to the ``"longtail"`` logger).
        **options: any ``longtail train`` flag by its name; a registered component (``loss``,
            ``sampler``, ``strategy``, ``augment``, ...) also as a spec with parameters
            (``loss={"name": "focal", "gamma": 2.0}``); paths may be :class:`~pathlib.Path`.

    Returns:
        The trained :class:`~longtail.predictor.Classifier`; its ``report`` attribute holds the
        evaluation report (test split when ``test_data`` is given, else validation).

    Example:
        >>> clf = longtail.train("train.csv", output="runs/x", test_data="test.csv")  # doctest: +SKIP
        >>> clf = longtail.train("train.csv", output="runs/y", lr=3e-5, max_length=128,
        ...                      loss="focal", threshold_objective="mcc")           # doctest: +SKIP
        >>> clf.predict(["WINNER!! claim your prize"])                                # doctest: +SKIP

    Keywords (config key: help):
    """
    from longtail.predictor import Classifier
    from longtail.training.run import run_training

    settings = experiment_config(data, output=output, config=config, overrides=overrides, **options)
    with to_stdout() if verbose else contextlib.nullcontext():  # else: the "longtail" logger
        result = run_training(settings, resume=resume, overwrite=overwrite, log=info)
    classifier = Classifier.load(result.output)
    classifier.report = result.report
    return classifier


def _signature() -> inspect.Signature:
    """``train``'s own parameters, then every option as a keyword-only one (default ``None``)."""
    own = inspect.signature(train)
    fixed = [p for p in own.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    names = {p.name for p in fixed}
    generated = [
        inspect.Parameter(
            option.dest,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=option.annotation | None,
        )
        for option in generated_options()
        if option.dest not in names
    ]
    return own.replace(parameters=[*fixed, *generated])


def _keyword_lines() -> str:
    """One wrapped entry per option for ``train``'s docstring: ``lr (train.lr): help``."""
    return "".join(
        textwrap.fill(
            f"{option.dest} ({option.key}): {option.description}",
            width=96,
            initial_indent=" " * 8,
            subsequent_indent=" " * 12,
        )
        + "\n"
        for option in generated_options()
    )


train.__signature__ = _signature()  # type: ignore[attr-defined]
train.__doc__ = f"{(train.__doc__ or '').rstrip()}\n{_keyword_lines()}"
