"""Reliability cases: decisions after training (post-hoc logit adjustment, isotonic calibration)."""

from __future__ import annotations

from pathlib import Path

from cases import Case, Env


def _one_per_class(env: Env) -> Path:
    rows = env.rows()
    spam = next(r for r in rows if r[1] == "spam")
    ham = next(r for r in rows if r[1] == "ham")
    return env.csv("val.csv", [spam, ham])


# fmt: off
CASES: list[Case] = [
    Case("decision-logit-adjust-negative-tau", "decision.logit_adjust=-1 (a negative tau)",
         lambda e: e.train(e.good_csv(), "decision.logit_adjust=-1"),
         "tau must be a finite number >= 0"),
    Case("decision-logit-adjust-flag-word", "--logit-adjust sometimes (neither none, tuned nor a number)",
         lambda e: e.train(e.good_csv(), "--logit-adjust", "sometimes"),
         "must be none, tuned or a number tau >= 0"),
    Case("decision-isotonic-one-validation-example-per-class",
         "decision.calibrate=isotonic with one validation example per class (refused before training)",
         lambda e: e.train(e.good_csv(), "--validation-data", str(_one_per_class(e)),
                           "decision.calibrate=isotonic"),
         "use decision.calibrate=temperature", warnings=True),
    Case("decision-calibrate-unknown", "decision.calibrate=platt (not a calibration longtail has)",
         lambda e: e.train(e.good_csv(), "decision.calibrate=platt"),
         "'temperature', 'isotonic' or 'none'"),
    Case("decision-calibrate-flag-unknown", "--calibrate platt",
         lambda e: e.train(e.good_csv(), "--calibrate", "platt"),
         "invalid choice: 'platt'"),
    Case("decision-target-priors-unknown-label", "--target-priors ham=1,spma=1 (a misspelt label)",
         lambda e: e.train(e.good_csv(), "--target-priors", "ham=1,spma=1"),
         "missing spam; not a label spma"),
    Case("decision-target-priors-not-a-share", "--target-priors ham=0,spam=1 (a share of 0)",
         lambda e: e.train(e.good_csv(), "--target-priors", "ham=0,spam=1"),
         "each share must be a finite number > 0"),
    Case("decision-target-priors-and-logit-adjust", "--target-priors balanced --logit-adjust 1",
         lambda e: e.train(e.good_csv(), "--target-priors", "balanced", "--logit-adjust", "1"),
         "set one of them"),
    Case("decision-isotonic-and-tuned-tau-train", "--calibrate isotonic --logit-adjust tuned trains",
         lambda e: e.train(e.good_csv(), "--calibrate", "isotonic", "--logit-adjust", "tuned",
                           "--val-fraction", "0.3"),
         "post-hoc logit adjustment", code=0, warnings=True),
]
# fmt: on
