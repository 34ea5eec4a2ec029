"""What a grid cell was trained with, so a finished cell is reused only while that still holds.

A cell's *settings* are its variant's validated config with the cell's seed, as
:func:`longtail.fingerprint.result_settings` gives it (the data files by the SHA-256 of their
content, without the keys that only say where files go or how memory is spent), plus the grid's
fold layout. Moving the data keeps the cells, editing one row retrains them, switching on gradient
checkpointing or a tracker does not.

Decision: a cell whose saved settings differ from the experiment file's is *retrained*, and the
comparison log names the changed keys — as ``make`` rebuilds a target whose inputs changed. Reusing
it would mix results of two experiments under one name; refusing would make every edit a manual
clean-up. A model given as a local directory enters by its path only; retrain by hand (delete
``cells/<variant>/``) after changing the weights in place.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from longtail.experiments.spec import Cell, ExperimentSpec
from longtail.fingerprint import ADDED_OPTIONS, resolve_defaults, result_settings

#: What a ``null`` loss, early-stopping metric or ``decision.fbr`` meant in settings saved before
#: they recorded resolved defaults: the defaults of that time (every saved setting postdates the
#: multiclass fall-back rate), written out so that a later change of
#: :mod:`longtail.defaults` retrains the cells that used the old one and keeps the others.
DEFAULTS_WHEN_SAVED_AS_NULL = {
    "loss": lambda task: (
        {"name": "bce", "pos_weight": "sqrt_ratio", "max_weight": 100.0}
        if task == "multilabel"
        else {"name": "ce", "weights": "effective_number", "beta": 0.999}
    ),
    "train.early_stopping_metric": lambda task: (
        "pr_auc_macro" if task == "multilabel" else "f1_macro"
    ),
    "decision.fbr": lambda task: {"multilabel": 0.3, "multiclass": 0.2}.get(task, 0.0),
}


def cell_settings(spec: ExperimentSpec, cell: Cell) -> dict[str, Any]:
    """The flat, JSON-normal settings that decide what ``cell`` learns and is tested on."""
    config = spec.variant_config(cell.variant, **{"train.seed": cell.seed})
    settings = result_settings(config)
    settings["grid.folds"], settings["grid.fold_seed"] = spec.folds, spec.fold_seed
    return dict(sorted(settings.items()))


def saved_settings(saved: dict[str, Any]) -> dict[str, Any]:
    """A cell's saved settings, a ``null`` default read as what it meant when it was saved."""
    resolved = resolve_defaults(dict(saved), defaults=DEFAULTS_WHEN_SAVED_AS_NULL)
    return json.loads(json.dumps(resolved, sort_keys=True, default=str))


def changed_settings(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Dotted keys whose value differs (or that one side lacks), sorted.

    A key the saved settings lack is read as what the cell ran before the option existed: the
    value that does what longtail did before it (:data:`longtail.fingerprint.ADDED_OPTIONS`;
    for a key older than that table, today's default). Without this, every new option would
    retrain every finished grid.
    """
    defaults = _leaf_defaults() | ADDED_OPTIONS
    saved, current = _effective(saved), _effective(current)
    return sorted(
        key
        for key in saved.keys() | current.keys()
        if saved.get(key, defaults.get(key, _MISSING)) != current.get(key)
    )


#: Keys read only when thresholds are tuned (:func:`longtail.decision.fit.fit_decision` returns
#: before them otherwise): with ``decision.tune_thresholds: false`` they change nothing, so a
#: new default for one of them does not retrain an argmax cell.
TUNING_ONLY = ("decision.fbr", "decision.tuning_check", "decision.tuning_confidence")


def _effective(settings: dict[str, Any]) -> dict[str, Any]:
    if settings.get("decision.tune_thresholds") is not False:
        return settings
    return {key: value for key, value in settings.items() if not key.startswith(TUNING_ONLY)}


_MISSING = object()


@cache
def _leaf_defaults() -> dict[str, Any]:
    """Every config leaf's default, JSON-normal as settings hold it (``decision.tuning_check``)."""
    from longtail.config import ExperimentConfig
    from longtail.config.loading import leaf_fields

    return {
        key: json.loads(json.dumps(field.get_default(call_default_factory=True), default=str))
        for key, field in leaf_fields(ExperimentConfig)
    }


def for_task(changed: list[str], task: str | None) -> list[str]:
    """``changed`` without the other tasks' defaults, for a cell known to have trained ``task``.

    With ``data.task: auto`` the settings hold every task's default (``loss@multilabel.name``,
    see :func:`longtail.fingerprint.resolve_defaults`), since the task is detected from the
    data only when the cell trains. A finished cell's report says which task it was, and a
    change in another task's default did not touch it: a binary cell does not retrain because
    the multilabel default loss changed.
    """
    if task is None:
        return changed
    return [k for k in changed if "@" not in k or k.partition("@")[2].split(".")[0] == task]
