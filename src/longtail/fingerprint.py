"""What decides a result: a config's settings, with the data files entering by their content.

Two places ask "was this trained with the same inputs?": ``longtail compare`` before it reuses a
finished grid cell (:mod:`longtail.experiments.settings`), and ``longtail train --resume`` before it
continues from a checkpoint (:func:`longtail.training.run.run_training`). Both answer with
:func:`result_settings`: the validated config flattened to dotted keys, without the keys that only
say where files go or how memory is spent (:data:`NOT_AFFECTING_RESULTS`), and with each local data
file replaced by the SHA-256 of its content. Moving the data or switching on gradient checkpointing
changes nothing; editing one row of the training file changes the settings.

An upgrade that adds an option must not orphan what ran before it: a checkpoint would no longer
resume and every finished grid cell would train again. So each option added to the config is
registered in :data:`ADDED_OPTIONS` with the value that does what longtail did before it existed;
a checkpoint's fingerprint leaves the option out while it holds that value
(:func:`without_added_defaults`), and ``compare`` reads a saved cell that lacks it as that value.
A test fails for a config key that is neither registered, nor among the keys of 2026-12-07, nor
one of :data:`NOT_AFFECTING_RESULTS` (which never enter the settings).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from longtail.config import ExperimentConfig, dotted_items, dump_config
from longtail.defaults import default_early_stopping_metric, default_fbr, default_loss
from longtail.io_utils import file_sha256
from longtail.tasks import TASKS

#: Dotted keys that change where outputs go, how memory is used or how often a run saves and
#: reports, never what is learned.
NOT_AFFECTING_RESULTS = frozenset(
    {
        "output",
        "track",
        "track_dir",
        "data.arrow",
        "data.arrow_cache_dir",
        "model.gradient_checkpointing",
        "long_documents.cache_dir",
        "long_documents.checkpoint",
        "long_documents.activation_memory_mb",
        "long_documents.chunk_batch_size",
        "augment.cache_dir",
        "augment.quality_plot",
        "train.eval_batch_size",
        "train.save_steps",
        "train.logging_steps",
        # the same arithmetic in fused kernels: like eval_batch_size, only rounding moves
        "train.compile",
        # a baseline reported beside the model: the model, its decision and metrics are the same
        "anchor",
    }
)
#: Options added to the config since 2026-12-07 (and ``decision.tuning_confidence``, added that
#: day), each with the value that does what longtail did before the option existed. Where that is
#: no longer the option's default, settings at today's default differ from a run that predates
#: the option, as they should: ``decision.tuning_confidence`` was added as ``None`` (tuned
#: weights kept on any cross-fitted gain) and became 0.9 the same day.
ADDED_OPTIONS: dict[str, Any] = {
    "decision.tuning_confidence": None,
    "decision.target_priors": None,
    # the fused TF-IDF branch (2026-12-07): it changes the scores, so a compare cell retrains
    "lexical": "off",
}

#: Keys whose ``null`` means "the default for the task": they enter as what they resolve to.
TASK_DEFAULTS = {
    "loss": default_loss,
    "train.early_stopping_metric": default_early_stopping_metric,
    "decision.fbr": default_fbr,
}
#: The config keys that name data files; each enters the settings by its content.
DATA_FILES = ("data.train", "data.validation", "data.test")


def result_settings(
    config: ExperimentConfig, *, data_keys: tuple[str, ...] = DATA_FILES, task: str | None = None
) -> dict[str, Any]:
    """The flat, JSON-normal settings of ``config`` that decide what is learned and measured.

    Args:
        config: a validated experiment config.
        data_keys: the data keys that count; the others are left out (a training checkpoint does
            not depend on the test file, which is read after training).
        task: the detected task, when known. A ``null`` loss, early-stopping metric or
            ``decision.fbr`` means the task's default (:mod:`longtail.defaults`) and enters as
            what it resolves to, so a change of default changes the settings. Without ``task`` (and ``data.task: auto``)
            the defaults of every task enter, as ``loss@multilabel.name`` and so on.
    """
    flat = dotted_items(dump_config(config))
    settings = {
        k: v
        for k, v in flat.items()
        if k not in NOT_AFFECTING_RESULTS and (k not in DATA_FILES or k in data_keys)
    }
    for key in data_keys:
        if settings.get(key) is not None:
            settings[key] = data_fingerprint(settings[key])
    settings = resolve_defaults(settings, task=task)
    return json.loads(json.dumps(settings, sort_keys=True, default=str))


def without_added_defaults(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` without the :data:`ADDED_OPTIONS` that hold their value from before they
    existed: what a longtail that predates them would have recorded for the same run."""
    return {
        key: value
        for key, value in settings.items()
        if key not in ADDED_OPTIONS or value != ADDED_OPTIONS[key]
    }


def training_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that decide the trained model alone (a checkpoint, a shared grid training).

    Calibration and thresholds are fitted after training, but with ``decision.tune_thresholds``
    on (the default) early stopping scores each epoch by the tuned decision
    (:func:`longtail.training.scoring.scoring_decision`), so ``decision.*`` decides which epoch is
    kept and when a run to convergence stops: it stays. With untuned thresholds the epochs are
    scored by argmax / 0.5, which no ``decision.*`` key moves, and ``decision.*`` is left out.
    """
    if settings.get("decision.tune_thresholds", True) is not False:
        return dict(settings)
    return {k: v for k, v in settings.items() if not k.startswith("decision.")}


def resolve_defaults(
    settings: dict[str, Any],
    *,
    task: str | None = None,
    defaults: Mapping[str, Callable[[str], Any]] = TASK_DEFAULTS,
) -> dict[str, Any]:
    """``settings`` with each ``null`` key of ``defaults`` replaced by what it resolves to.

    One task (``task``, else the settings' own explicit ``data.task``) gives ``loss.name``;
    ``data.task: auto`` without ``task`` gives every task's, as ``loss@multilabel.name``.
    """
    declared = settings.get("data.task", "auto")
    tasks = (task,) if task else (declared,) if declared != "auto" else TASKS
    for key, default in defaults.items():
        if key in settings and settings[key] is None:
            del settings[key]
            for one in tasks:
                name = key if len(tasks) == 1 else f"{key}@{one}"
                settings.update(dotted_items({name: default(one)}))
    return settings


def describe_changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any], *, limit: int = 4
) -> str:
    """The keys whose values differ, as ``train.lr was 5e-05, now 0.5``; ``""`` when none do.

    ``before`` is ``None`` for a record that kept only a fingerprint (nothing to name).
    """
    if before is None:
        return ""
    keys = sorted(k for k in {*before, *after} if before.get(k) != after.get(k))
    shown = [f"{k} was {_shown(before.get(k))}, now {_shown(after.get(k))}" for k in keys[:limit]]
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return "; ".join(shown) + more


def _shown(value: Any) -> str:
    return "unset" if value is None else json.dumps(value, default=str)


def data_fingerprint(location: str) -> str:
    """``sha256:<16 hex>`` of a local file or directory's content; anything else as written.

    A name that is not on disk is a hub dataset id: it enters as itself (its revision is the hub's
    to pin).
    """
    path = Path(location)
    if path.is_file():
        return "sha256:" + file_digest(path)
    if path.is_dir():
        digest = hashlib.sha256()
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(child.relative_to(path).as_posix().encode() + b"\0")
            digest.update(file_digest(child).encode())
        return "sha256:" + digest.hexdigest()[:16]
    return location


def file_digest(path: str | Path) -> str:
    """The first 16 hex digits of a file's SHA-256, read once per process while it is unchanged."""
    stat = Path(path).stat()
    return _file_sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@cache
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    """``size`` and ``mtime_ns`` are the cache key only: a rewritten file is hashed again."""
    return file_sha256(path)[:16]
