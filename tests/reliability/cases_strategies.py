"""Reliability cases: decoupled classifier re-training strategies (cRT, tau-normalisation, LWS)."""

from __future__ import annotations

from pathlib import Path

from cases import Case, Env


def _multilabel(env: Env) -> Path:
    return env.jsonl("multi.jsonl", [{"text": t, "label": [lab, "money"] if i % 3 else [lab]}
                                     for i, (t, lab) in enumerate(env.rows())])  # fmt: skip


# fmt: off
CASES: list[Case] = [
    Case("strategy-tau-norm-negative-tau", "strategy.tau=-0.5 for tau_norm",
         lambda e: e.train(e.good_csv(), "--strategy", "tau_norm", "strategy.tau=-0.5"),
         "strategy tau_norm: tau must be a number >= 0"),
    Case("strategy-tau-norm-negative-in-grid", "a tau grid with a negative value",
         lambda e: e.train(e.good_csv(), "--strategy", "tau_norm", "strategy.tau=[0,-1,1]"),
         "strategy tau_norm: tau must be a number >= 0"),
    Case("strategy-crt-sampler-none", "cRT told to re-train the head without re-balancing",
         lambda e: e.train(e.good_csv(), "--strategy", "crt", "strategy.sampler=none"),
         "use class_balanced (default) or sqrt"),
    Case("strategy-crt-zero-head-epochs", "strategy.head_epochs=0 for cRT",
         lambda e: e.train(e.good_csv(), "--strategy", "crt", "strategy.head_epochs=0"),
         "strategy crt: head_epochs must be an integer >= 1"),
    Case("strategy-crt-tau", "a tau_norm parameter given to cRT",
         lambda e: e.train(e.good_csv(), "--strategy", "crt", "strategy.tau=1"),
         "bad parameters for strategy 'crt'"),
    Case("strategy-crt-with-sampler", "--sampler class_balanced with cRT, which sets each phase's",
         lambda e: e.train(e.good_csv(), "--strategy", "crt", "--sampler", "class_balanced"),
         "drop --sampler class_balanced"),
    Case("strategy-lws-multilabel", "LWS on a multilabel task (a per-label scale decides nothing)",
         lambda e: e.train(_multilabel(e), "--strategy", "lws"),
         "not multilabel; pick a --strategy that does (auto, crt,"),
    Case("strategy-tau-norm-multilabel", "tau_norm on a multilabel task trains, per label",
         lambda e: e.train(_multilabel(e), "--strategy", "tau_norm"),
         "phase 2/2 tau_norm: tau", code=0, warnings=True),
    Case("strategy-crt-trains", "cRT trains both phases and says so",
         lambda e: e.train(e.good_csv(), "--strategy", "crt"),
         "phase 2/2 classifier: classifier", code=0, warnings=True),
]
# fmt: on
