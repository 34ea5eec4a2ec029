"""benchmarks/convergence_default.py: its splits, its run order and its table (no training)."""

from __future__ import annotations

from collections import Counter
from types import ModuleType

import pytest
from benchmark_scripts import load_script

from longtail.datasets import load_dataset


def _script() -> ModuleType:
    return load_script("convergence_default")


def test_trec_is_frozen_heads_cut_and_sms_spam_is_stratified():
    script = _script()
    trec = script.split_dataset("trec")
    assert [len(v[0]) for v in trec.values()] == [2400, 600, 5382 - 3000]
    sms = script.split_dataset("sms_spam")
    assert [len(v[0]) for v in sms.values()] == [2400, 600, 4837 - 3000]
    rates = [Counter(labels)["spam"] / len(labels) for _, labels in sms.values()]
    assert max(rates) - min(rates) < 0.002  # every split holds the file's spam rate
    texts = Counter(text for part, _ in sms.values() for text in part)
    assert texts == Counter(load_dataset("sms_spam").texts)  # each row in exactly one split
    small = script.split_dataset("sms_spam", rows=300)
    assert sum(len(v[0]) for v in small.values()) == pytest.approx(300, abs=6)
    assert all({"ham", "spam"} <= set(labels) for _, labels in small.values())


def test_short_configurations_run_before_the_long_one_and_the_table_reads_per_seed():
    script = _script()
    order = list(script._order(2, 1, ["trec", "sms_spam"], list(script.DEFAULT_CONFIGS)))
    assert order[:4] == [(0, "trec", "convergence"), (0, "trec", "epochs3"),
                         (0, "sms_spam", "convergence"), (0, "sms_spam", "epochs3")]  # fmt: skip
    assert order[4:6] == [(0, "trec", "epochs20"), (0, "sms_spam", "epochs20")]
    assert len(order) == 10 and (1, "trec", "epochs20") not in order
    runs = [
        {"dataset": "trec", "config": "convergence", "seed": s, "f1_macro": f, "mcc": 0.5,
         "steps": 900 + s, "epochs": 12, "best_epoch": 9, "stop": "early_stopping", "seconds": 60}
        for s, f in ((0, 0.9), (1, 0.8))
    ]  # fmt: skip
    table = script._table(runs, ["trec"], ["convergence", "epochs3"])
    assert table[2] == (
        "| trec | convergence | 2 | 0.850 ± 0.050 | 0.500 ± 0.000 | 900, 901 | 12, 12 | 9, 9 "
        "| early_stopping, early_stopping | 60 |"
    )
    assert len(table) == 3  # no row for a configuration without runs
