"""Reliability cases: the long-tail losses (logit-adjusted, balanced softmax, distribution-balanced)."""

from __future__ import annotations

from pathlib import Path

from cases import Case, Env


def _three_classes(env: Env) -> Path:
    rows = [(text, "spam" if label == "spam" else ("ham" if i % 2 else "news"))
            for i, (text, label) in enumerate(env.rows())]  # fmt: skip
    return env.csv("three.csv", rows)


def _multilabel(env: Env) -> Path:
    return env.jsonl("multi.jsonl", [{"text": t, "label": [lab, "money"] if i % 3 else [lab]}
                                     for i, (t, lab) in enumerate(env.rows())])  # fmt: skip


# fmt: off
CASES: list[Case] = [
    Case("loss-logit-adjusted-negative-tau", "loss.tau=-1 for the logit-adjusted loss",
         lambda e: e.train(e.good_csv(), "--loss", "logit_adjusted", "loss.tau=-1"),
         "logit_adjusted tau must be a finite number >= 0"),
    Case("loss-distribution-balanced-multiclass", "--loss distribution_balanced on three classes",
         lambda e: e.train(_three_classes(e), "--loss", "distribution_balanced"),
         "it is a multilabel loss"),
    Case("loss-cb-ntr-binary", "--loss cb_ntr on a binary task",
         lambda e: e.train(e.good_csv(), "--loss", "cb_ntr"),
         "for one label per document use --loss balanced_softmax"),
    Case("loss-distribution-balanced-multilabel", "--loss distribution_balanced on a multilabel task trains",
         lambda e: e.train(_multilabel(e), "--loss", "distribution_balanced", "loss.kappa=0.05"),
         "loss distribution_balanced(kappa=0.05)", code=0, warnings=True),
    Case("loss-distribution-balanced-bad-reweight", "loss.reweight=cb on a multilabel task",
         lambda e: e.train(_multilabel(e), "--loss", "distribution_balanced", "loss.reweight=cb"),
         "valid: rebalance, class_balanced, none"),
]
# fmt: on
