"""README's evidence table says what the repository's records print: the frozen multiclass rows are
recomputed from ``benchmarks/results/frozen_grid/`` (the records ``frozen_grid.py --report``
reads), so a number edited by hand, or records that moved without the table, fail here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmark_scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
RECORDS = ROOT / "benchmarks" / "results" / "frozen_grid"
#: README's name of each frozen multiclass row -> the grid's setup
ROWS = {
    "R8 (2,189)": "r8",
    "R52 (2,568)": "r52",
    "20 Newsgroups long-tailed (7,532)": "20ng_long_tailed",
    "20 Newsgroups step (7,532)": "20ng_step",
}


def _readme_row(name: str) -> list[str]:
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith(f"| {name} | frozen"):
            return [cell.strip().strip("*") for cell in line.strip().strip("|").split("|")]
    raise AssertionError(f"README has no frozen row for {name}")


@pytest.mark.parametrize("name", list(ROWS))
def test_readme_frozen_rows_are_what_the_records_print(name):
    grid = load_script("frozen_grid")
    setup = ROWS[name]
    cells = {
        (r["remedy"], r["decision"]): r
        for r in grid.summarise(grid.read_cells(RECORDS / setup / "cells.jsonl"))
    }
    anchors = json.loads((RECORDS / setup / "anchors.json").read_text(encoding="utf-8"))
    default = cells[grid.LONGTAIL_DEFAULT["single"]]
    _, _, seeds, ours, plain, frozen, tfidf = _readme_row(name)
    assert int(seeds) == default["seeds"]
    assert ours == f"{default['f1_macro'][0]:.3f}"
    assert plain == f"{cells['ce', 'argmax']['f1_macro'][0]:.3f}"
    assert frozen == f"{anchors['LR on the same frozen vectors (balanced)']['f1_macro']:.3f}"
    assert tfidf == f"{anchors['TF-IDF + LR (balanced)']['f1_macro']:.3f}"
