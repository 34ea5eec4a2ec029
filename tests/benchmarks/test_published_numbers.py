"""README's evidence table says what the repository's records print: the frozen short-text rows
are recomputed from ``benchmarks/results/frozen_grid/`` (the records ``frozen_grid.py --report``
and ``lexical_grid.py --report`` read), so a number edited by hand, or records that moved without
the table, fail here."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest
from benchmark_scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
RECORDS = ROOT / "benchmarks" / "results" / "frozen_grid"
#: README's name of each frozen short-text row -> the grid's setup
ROWS = {
    "R8 (2,189)": "r8",
    "R52 (2,568)": "r52",
    "20 Newsgroups long-tailed (7,532)": "20ng_long_tailed",
    "20 Newsgroups step (7,532)": "20ng_step",
    "IMDB, 91 % positive → balanced test (25,000)": "imdb",
    "Reuters-21578, 90 topics, multilabel (3,019)": "reuters_multilabel",
}


def _readme_row(name: str) -> list[str]:
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith(f"| {name} | frozen"):
            return [cell.strip() for cell in line.strip().strip("|").split("|")]
    raise AssertionError(f"README has no frozen row for {name}")


def _first(cell: str) -> str:
    """The cell's first number (its macro-F1), as printed."""
    return re.search(r"\d\.\d{3}", cell).group(0)


@pytest.mark.parametrize("name", list(ROWS))
def test_readme_frozen_rows_are_what_the_records_print(name):
    grid = load_script("frozen_grid")
    setup = ROWS[name]
    cells = {
        (r["remedy"], r["decision"]): r
        for r in grid.summarise(grid.read_cells(RECORDS / setup / "cells.jsonl"))
    }
    fused = [json.loads(line) for line in (RECORDS / setup / "lexical.jsonl").open()]
    anchors = json.loads((RECORDS / setup / "anchors.json").read_text(encoding="utf-8"))
    _, _, seeds, ours, alone, plain, frozen, tfidf = _readme_row(name)
    assert int(seeds) == len(fused)
    assert (
        _first(ours) == f"{statistics.mean(c['scores']['lexical']['f1_macro'] for c in fused):.3f}"
    )
    assert (
        _first(alone) == f"{statistics.mean(c['scores']['default']['f1_macro'] for c in fused):.3f}"
    )
    plain_cell = ("bce" if setup == "reuters_multilabel" else "ce", "argmax")
    assert _first(plain) == f"{cells[plain_cell]['f1_macro'][0]:.3f}"
    assert (
        _first(frozen) == f"{anchors['LR on the same frozen vectors (balanced)']['f1_macro']:.3f}"
    )
    assert _first(tfidf) == f"{anchors['TF-IDF + LR (balanced)']['f1_macro']:.3f}"
    if setup == "reuters_multilabel":  # its micro-F1 too
        micro = statistics.mean(c["scores"]["lexical"]["f1_micro"] for c in fused)
        assert f"micro-F1 {micro:.3f}" in ours


def test_the_head_alone_in_the_lexical_records_is_the_grids_default_cell():
    """The paired records retrained each set's default head: it scores as the grid's own cell."""
    grid = load_script("frozen_grid")
    lexical = load_script("lexical_grid")
    for setup, (remedy, decision) in lexical.DEFAULT_HEADS.items():
        grid_cells = {c["seed"]: c for c in grid.read_cells(RECORDS / setup / "cells.jsonl")
                      if c["remedy"] == remedy}  # fmt: skip
        for cell in map(json.loads, (RECORDS / setup / "lexical.jsonl").open()):
            assert cell["scores"]["default"]["f1_macro"] == pytest.approx(
                grid_cells[cell["seed"]]["scores"][decision]["f1_macro"], abs=1e-9
            ), (setup, cell["seed"])
