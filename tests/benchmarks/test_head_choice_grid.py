"""benchmarks/head_choice_grid.py: the solved head fused and recorded on a few rows beside the
SGD head's lexical records, the choice made from validation alone, and the published outcome
recomputed from the repository's records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmark_scripts import load_script

ROOT = Path(__file__).resolve().parents[2]


def _cell(seed: int, validation: float, test: float, weight: float = 0.5) -> dict:
    scores = {"f1_macro": test, "mcc": test}
    return {
        "seed": seed, "weight": weight, "validation_scores": {str(weight): validation},
        "scores": {"default": scores, "lexical": scores},
    }  # fmt: skip


def test_the_choice_reads_validation_only_and_a_tie_keeps_the_sgd_head():
    script = load_script("head_choice_grid")
    sgd, solved = _cell(0, 0.80, 0.70), _cell(0, 0.80, 0.99)
    assert script.choose(sgd, solved)[0] == "sgd"  # a tie: the present default stays
    assert script.choose(sgd, _cell(0, 0.81, 0.10))[0] == "solved"  # test plays no part
    summary = script.set_summary(
        [_cell(0, 0.80, 0.70), _cell(1, 0.90, 0.60), _cell(2, 0.5, 0.5)],
        [_cell(1, 0.95, 0.64), _cell(0, 0.70, 0.90)],  # seed 2 not run yet: left out
    )
    assert summary["seeds"] == 2 and summary["picked"] == ["solved", "sgd"]
    mean, _ = summary["f1_macro"]["difference"]
    assert mean == pytest.approx((0.04 + 0.0) / 2)


def test_a_loss_beyond_two_sem_on_one_set_keeps_the_sgd_head():
    script = load_script("head_choice_grid")
    summaries = {
        "a": script.set_summary(
            [_cell(s, 0.5, 0.70) for s in range(3)], [_cell(s, 0.6, 0.90) for s in range(3)]
        ),
        "b": script.set_summary(
            [_cell(s, 0.5, 0.70 + 0.001 * s) for s in range(3)],
            [_cell(s, 0.6, 0.68 + 0.001 * s) for s in range(3)],
        ),
    }
    lines = script.verdict(summaries, ["a", "b"])
    assert "b f1_macro -0.0200" in lines[1]  # a higher mean (a) does not outweigh it
    assert lines[-1] == "verdict: the SGD head stays the frozen multiclass default"
    assert script.verdict(summaries, ["a", "c"])[0].startswith("verdict: not yet")


def test_the_solved_head_is_recorded_beside_the_sgd_heads_records(
    tiny_model_dir, data_home, tmp_path, capsys
):
    work = tmp_path / "grid"
    common = ["20ng_long_tailed", "--model", str(tiny_model_dir), "--workdir", str(work),
              "--cache", str(tmp_path / "cache"), "--max-length", "32", "--seeds", "2"]  # fmt: skip
    assert load_script("lexical_grid").main(common) == 0
    script = load_script("head_choice_grid")
    assert script.main(common) == 0
    cells = [json.loads(line) for line in (work / "20ng_long_tailed" / "head_choice.jsonl").open()]
    assert [c["seed"] for c in cells] == [0, 1]
    assert {c["remedy"] for c in cells} == {script.SOLVED}
    for cell in cells:
        assert script.fused_validation(cell) == max(cell["validation_scores"].values())
    out = capsys.readouterr().out
    assert "| 20ng_long_tailed | 2 |" in out and "(a) mean over 1 sets" in out
    with pytest.raises(SystemExit):
        script.main(["imdb", "--workdir", str(work)])  # outside the rule's sets


def test_the_published_outcome_is_what_the_records_print(capsys):
    script = load_script("head_choice_grid")
    assert script.main(["--report", "--workdir", str(ROOT / "benchmarks/results/frozen_grid")]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    docs = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    section = docs.split("### The frozen head chosen on validation", 1)[1].split("\n### ", 1)[0]
    for line in printed:
        if line.strip():
            assert line in section, f"docs/benchmarks.md does not print: {line}"
