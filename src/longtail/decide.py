"""Re-decide a trained model on new labelled data: new calibration and thresholds, same weights.

The decision a model ships with (logit adjustment, calibration, thresholds; see
:mod:`longtail.decision.fit`) was fitted on the validation split of its training run. When the
world it predicts for differs — another class balance after deployment (a test set drawn
balanced where training had 91 % positives, as on IMDB in docs/benchmarks.md), another cost of
errors (``--objective mcc`` or a recall floor) — the decision is refitted on labelled rows from
that world, and the weights are left alone. Seconds, not a training run:

    longtail decide --model runs/x --data recent_labelled.csv --objective mcc --output runs/x-mcc

The new directory is the old one with a new ``longtail.json`` (decision fields, the decision
settings in its config, and a ``decided`` record of the data and the model it came from) and a
report of the data under both decisions; its weight files are copies whose hashes still match.
It is written beside the target and renamed into place, so an interrupted run leaves nothing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from longtail.config import DecisionConfig
from longtail.decision.probability_map import decision_summary
from longtail.errors import LongtailError
from longtail.evaluation import write_report
from longtail.evaluation.model_card import MODEL_CARD, model_card
from longtail.io_utils import atomic_write_json, atomic_write_text
from longtail.logs import info
from longtail.models.io import META_FILE, read_meta
from longtail.predictor import Classifier

#: What ``decide`` may change: the ``decision.*`` settings.
DECISION_KEYS = tuple(DecisionConfig.model_fields)


def decide_model(
    model: str | os.PathLike[str],
    data: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    decision: dict[str, Any] | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    runtime: str | None = None,
    overwrite: bool = False,
    log: Callable[[str], None] = info,
) -> dict[str, Any]:
    """Refit ``model``'s decision on the labelled file ``data`` and save it as ``output``.

    ``decision`` overrides the model's own ``decision.*`` settings (e.g. ``{"objective":
    "mcc"}``). Returns the metrics of ``data`` under the old and the new decision.
    """
    source, target = Path(model), Path(output)
    if not (source / META_FILE).is_file():
        raise LongtailError(f"--model {model}: not a model directory (no {META_FILE})")
    if target.resolve() == source.resolve():
        raise LongtailError(
            f"--output {output} is the model itself; write the re-decided model elsewhere"
        )
    if target.exists() and not overwrite:
        raise LongtailError(f"--output {output} exists; choose another or pass --overwrite")
    classifier = Classifier.load(source, runtime=runtime, log=log)
    classifier.use_embedding_cache(log=log)
    table = classifier.read_labelled(data, text_column, label_column)
    result = classifier.tune_decision(table, decision or {})
    meta = read_meta(source)
    meta.update(classifier.decision_meta())
    meta["config"] = dict(meta.get("config") or {}, decision=result["decision"])
    meta["decided"] = {
        "from": str(source.resolve()),
        "data": str(data),
        "rows": len(table.texts),
        "weights": "unchanged",
    }
    staging = target.with_name(f".{target.name}.decide-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        shutil.copytree(source, staging, ignore=shutil.ignore_patterns("checkpoint", "report*"))
        atomic_write_json(staging / META_FILE, meta)
        read_meta(staging)  # the new file must load (hashes, decision consistent)
        report = _report(meta, result, data)
        write_report(report, staging)
        atomic_write_text(staging / MODEL_CARD, model_card(meta, report))  # the new decision's
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def _report(meta: dict[str, Any], result: dict[str, Any], data: Any) -> dict[str, Any]:
    """A report of ``data`` under the new decision, with the old one's metrics beside it."""
    before, after = result["before"], result["after"]
    after = dict(after, warnings=[
        *after.get("warnings", []),
        "these metrics are on the rows the decision was fitted on, so they flatter it; score "
        "held-out rows with `longtail evaluate`",
    ])  # fmt: skip
    return {
        "task": meta["task"],
        "labels": list(meta["labels"]["names"]),
        "split": "decision data (in-sample)",
        **decision_summary(meta),
        "thresholds": meta["thresholds"],
        "threshold_objective": meta.get("threshold_objective"),
        "threshold_fallback": meta.get("threshold_fallback"),
        "threshold_untuned": meta.get("threshold_untuned"),
        "threshold_check": meta.get("threshold_check"),
        "temperature": meta["temperature"],
        "model": {
            "decided_from": meta["decided"]["from"],
            "weights": "unchanged: only the logit adjustment, calibration and thresholds were refitted",
            "before": _line(before),
            "after": _line(result["after"]),
        },
        "data": {"decision_data": str(data), "rows": meta["decided"]["rows"]},
        "metrics": after,
        "metrics_before": before,
    }


def _line(metrics: dict[str, Any]) -> str:
    return f"macro-F1 {metrics['f1_macro']:.4f}, MCC {metrics['mcc']:.4f} on the decision data"
