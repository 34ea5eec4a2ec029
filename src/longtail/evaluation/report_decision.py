"""The Decision section of a report: what turned probabilities into predictions.

What was applied before the thresholds (:func:`decision_settings`: logit adjustment,
calibration), the cross-fitted check of the tuned decision (:func:`tuning_check_line`), and the
rule itself, which differs by task: a threshold on ``P(positive)`` (binary), one weight per class
for ``argmax p * w`` (multiclass) or one threshold per label (multilabel). ``report.md`` and the
HTML page both read them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from longtail.evaluation.markdown import format_value, markdown_table
from longtail.safe_text import markdown_text as _md
from longtail.tasks import ByTask


def decision_settings(report: Mapping[str, Any]) -> list[list[str]]:
    """``[setting, value]`` rows of what was applied before the thresholds, in that order: the
    logit adjustment, then the calibration (a report without these fields: temperature only)."""
    rows = []
    adjust = report.get("logit_adjust")
    if isinstance(adjust, Mapping) and isinstance(adjust.get("target_priors"), Mapping):
        shares = ", ".join(
            f"{label} {format_value(share)}" for label, share in adjust["target_priors"].items()
        )
        rows.append([
            "prior shift (Saerens et al. 2002; decision.target_priors)",
            f"probabilities corrected from the training priors to {shares}; thresholds not tuned",
        ])  # fmt: skip
    elif isinstance(adjust, Mapping):
        how = "tuned on validation" if adjust.get("tuned") else "fixed"
        rows.append([
            "post-hoc logit adjustment (Menon et al. 2021)",
            f"logits - tau * log(training prior), tau {format_value(adjust.get('tau'))} ({how})",
        ])  # fmt: skip
    calibration = report.get("calibration") or "temperature"
    temperature = report.get("temperature")
    if calibration == "isotonic":
        left = report.get("isotonic_uncalibrated") or []
        kept = (
            f"; kept uncalibrated (too few validation examples): {', '.join(map(str, left[:10]))}"
        )
        rows.append(
            ["calibration", "isotonic per class, fitted on validation" + (kept if left else "")]
        )
    elif calibration == "none":
        rows.append(["calibration", "none"])
    else:
        value = format_value(temperature) if temperature is not None else "1.0 (none)"
        rows.append(["temperature", value])
    return rows


def decision_lines(task: str, labels: list[str], report: Mapping[str, Any]) -> list[str]:
    """The Decision section's lines of ``report.md``: what was applied before the thresholds, the
    objective and the cross-fitted check, then the decision rule of the task."""
    lines = [f"- {_md(name)}: {_md(value)}" for name, value in decision_settings(report)]
    if report.get("threshold_objective"):
        lines.append(f"- tuned on validation for: {_md(report['threshold_objective'])}")
    if line := tuning_check_line(task, report.get("threshold_check")):
        lines.append(f"- {_md(line)}")
    raw = report.get("thresholds")
    if raw is None:
        return [*lines, "- thresholds: defaults (0.5, or plain argmax for multiclass)"]
    return lines + _DECISION_RULE[task](labels, raw, report)


def _binary_decision_rule(labels: list[str], raw: Any, report: Mapping[str, Any]) -> list[str]:
    value = _as_list(raw)
    positive = labels[1] if len(labels) > 1 else "positive"
    return [f"- predict {_md(repr(positive))} iff P({_md(positive)}) >= {format_value(value[0])}"]


def _multiclass_decision_rule(labels: list[str], raw: Any, report: Mapping[str, Any]) -> list[str]:
    return _per_class_rule(labels, raw, report, "weight (argmax of p * w)", "kept weight 1")


def _multilabel_decision_rule(labels: list[str], raw: Any, report: Mapping[str, Any]) -> list[str]:
    fallback = "fell back to their highest validation score"
    return _per_class_rule(labels, raw, report, "threshold", fallback)


def _per_class_rule(
    labels: list[str], raw: Any, report: Mapping[str, Any], kind: str, fallen: str
) -> list[str]:
    """The untuned and fallen-back labels, then the table of one decision value per label."""
    lines = []
    if isinstance(raw, Mapping):
        pairs = [[str(k), format_value(v)] for k, v in raw.items()]
    else:
        values = _as_list(raw)
        names = labels if len(labels) == len(values) else [str(i) for i in range(len(values))]
        pairs = [[name, format_value(v)] for name, v in zip(names, values, strict=True)]
    untuned = report.get("threshold_untuned") or []
    if untuned:
        lines.append(
            f"- {len(untuned)} label(s) kept the default {kind.split()[0]} (no validation "
            f"example): {_first_names(untuned)}"
        )
    fallback = report.get("threshold_fallback") or []
    if fallback:
        lines.append(
            f"- {len(fallback)} label(s) {fallen} (SCutFBR.1: best validation F below "
            f"decision.fbr): {_first_names(fallback)}"
        )
    return [*lines, "", *markdown_table(["label", kind], pairs)]


def tuning_check_line(task: str, check: Mapping[str, Any] | None) -> str | None:
    """What the cross-fitted check of the tuned thresholds found (``None``: it did not run)."""
    if not isinstance(check, Mapping):
        return None
    kind, default = _TUNED_DECISION[task]
    scores = (
        f"tuned on {check['folds'] - 1} of {check['folds']} validation folds and applied to the "
        f"one left out, they scored {check['objective']} {check['cross_fitted']:.4f} against "
        f"{check['default']:.4f} for {default}"
    )
    if check.get("bootstrap_wins") is not None:
        scores += f", and won in {check['bootstrap_wins']:.0%} of bootstrap resamples"
    if check.get("kept"):
        return f"tuned {kind} kept: {scores}"
    return f"tuned {kind} not kept, the decision is {default}: {scores}"


def headline_decision_rows(task: str, report: Mapping[str, Any]) -> list[list[str]]:
    """The headline rows about the decision: the binary threshold; none for a decision per
    class, which gets a table of its own under Decision."""
    return _HEADLINE_DECISION[task](report)


def _binary_headline_decision(report: Mapping[str, Any]) -> list[list[str]]:
    """The headline row of the binary threshold."""
    threshold = _as_list(report.get("thresholds"))
    return [["threshold on P(positive)", format_value(threshold[0]) if threshold else "0.5"]]


def _per_class_headline_decision(report: Mapping[str, Any]) -> list[list[str]]:
    return []


def _first_names(names: Sequence[Any], shown: int = 10) -> str:
    """``a, b, c`` or ``a, …, j and 5 more``."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(_md(name) for name in names[:shown]) + more


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return list(value.values())
    if hasattr(value, "tolist"):
        value = value.tolist()
    return list(value) if isinstance(value, list | tuple) else [value]


_HEADLINE_DECISION = ByTask(
    binary=_binary_headline_decision,
    multiclass=_per_class_headline_decision,
    multilabel=_per_class_headline_decision,
)
_DECISION_RULE = ByTask(
    binary=_binary_decision_rule,
    multiclass=_multiclass_decision_rule,
    multilabel=_multilabel_decision_rule,
)
#: What the cross-fitted check calls the tuned decision, and the default it is compared with.
_TUNED_DECISION = ByTask(
    binary=("thresholds", "0.5"),
    multiclass=("weights", "plain argmax"),
    multilabel=("thresholds", "0.5"),
)
