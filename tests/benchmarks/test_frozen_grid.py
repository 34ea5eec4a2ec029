"""benchmarks/frozen_grid.py end to end on a few rows: cells, anchors, parity, tables and the rule.

Tiny 20 Newsgroups and Reuters-21578 sets made of real SMS messages go into a data home read
through ``LONGTAIL_DATA_HOME``; the encoder is the tiny test model. What is checked is the
machinery (every cell recorded, both decisions, the anchors, the parity run through
``longtail train`` matching the grid's own cell, the one-page table and the rule's verdict), not
the values, which on a random model mean nothing.
"""

from __future__ import annotations

import json
import math
from types import ModuleType

import pytest
import torch
from benchmark_scripts import load_script, write_table

from longtail.datasets import load_dataset


def _grid() -> ModuleType:
    return load_script("frozen_grid")


def test_frozen_grid_runs_every_cell_and_reports_the_rule(
    tiny_model_dir, data_home, tmp_path, capsys, monkeypatch
):
    from longtail.cache.embeddings import EmbeddingCache

    grid = _grid()
    # the test set's balance is declared for IMDB; here 20 Newsgroups plays it
    monkeypatch.setattr(grid, "SHIFTED_TEST", {"20ng_long_tailed": grid.SHIFTED_TEST["imdb"]})
    threads, get_many = torch.get_num_threads(), EmbeddingCache.get_many
    work = tmp_path / "grid"
    common = ["--model", str(tiny_model_dir), "--workdir", str(work), "--cache",
              str(tmp_path / "cache"), "--max-length", "32"]  # fmt: skip
    assert grid.main(["20ng_long_tailed", *common, "--seeds", "2", "--remedies", "ce", "crt"]) == 0
    assert (
        grid.main(
            ["reuters_multilabel", *common, "--seeds", "1", "--remedies", "bce", "--no-parity"]
        )
        == 0
    )

    # the cells' one thread and in-memory cache reads end with the grid: later code sees neither
    assert torch.get_num_threads() == threads and EmbeddingCache.get_many is get_many

    cells = [json.loads(line) for line in (work / "20ng_long_tailed" / "cells.jsonl").open()]
    assert sorted((c["remedy"], c["seed"]) for c in cells) == [
        ("ce", 0),
        ("ce", 1),
        ("crt", 0),
        ("crt", 1),
    ]
    ce = next(c for c in cells if c["remedy"] == "ce")
    assert set(ce["scores"]) == {
        "argmax", "tuned", "tuned_unchecked", "tuned_confident", "posthoc_la", "posthoc_la+tuned",
        "target_balanced",
    }  # fmt: skip
    for cell in cells:
        assert cell["steps"] > 0 and cell["epochs"] >= 1
        for scores in cell["scores"].values():
            assert math.isfinite(scores["f1_macro"]) and math.isfinite(scores["val_f1_macro"])
    multilabel = [json.loads(line) for line in (work / "reuters_multilabel" / "cells.jsonl").open()]
    assert [c["remedy"] for c in multilabel] == ["bce"]
    assert math.isfinite(multilabel[0]["scores"]["tuned"]["f1_micro"])
    assert not (work / "reuters_multilabel" / "parity.jsonl").exists()

    anchors = json.loads((work / "20ng_long_tailed" / "anchors.json").read_text())
    assert set(anchors) == {
        "TF-IDF + LR (balanced)",
        "LR on the same frozen vectors (balanced)",
        grid.HEAD_ROWS_ANCHOR,
    }
    # the same cell through `longtail train` lands on the grid's own number
    parity = json.loads((work / "20ng_long_tailed" / "parity.jsonl").read_text())
    twin = next(c for c in cells if c["remedy"] == parity["remedy"] and c["seed"] == 0)
    assert parity["f1_macro"] == pytest.approx(twin["scores"]["argmax"]["f1_macro"], abs=1e-9)

    capsys.readouterr()
    assert (
        grid.main(["--report", "--workdir", str(work), "20ng_long_tailed", "reuters_multilabel"])
        == 0
    )
    out = capsys.readouterr().out
    assert "| setup | TF-IDF + LR |" in out and "| 20ng_long_tailed |" in out
    assert "| **anchor:** TF-IDF + LR (balanced) |" in out
    # the first table's "longtail default" column: today's default cell, where the grid ran it
    rows = {line.split("|")[1].strip(): line.split("|")[1:-1] for line in out.splitlines()
            if line.startswith("| 20ng_long_tailed |") or line.startswith("| reuters_multilabel |")}  # fmt: skip
    assert rows["20ng_long_tailed"][4].strip() == "–"  # no probe_ce_effective_number cell here
    tuned = multilabel[0]["scores"]["tuned"]
    assert rows["reuters_multilabel"][4].strip().startswith(f"{tuned['f1_macro']:.3f}")
    assert f"micro-F1 {tuned['f1_micro']:.3f}" in rows["reuters_multilabel"][4]
    assert rows["reuters_multilabel"][5].strip() == f"1, {multilabel[0]['steps']}"
    assert (
        "single (20ng_long_tailed; " in out
        and "the rule picks" in out
        or "single: no candidate" in out
    )
    assert "multilabel: the rule's 2-SEM guards need at least 2 seeds" in out


def test_rule_prefers_the_simpler_remedy_within_the_tie_margin(tmp_path):
    grid = _grid()
    rows = []
    for seed, noise in enumerate((0.0, 0.002, -0.002)):

        def cell(remedy, f1, mcc, seed=seed, noise=noise):
            scores = {
                "f1_macro": f1 + noise,
                "mcc": mcc + noise,
                "f1_micro": 0.0,
                "pr_auc_macro": 0.0,
            }
            return {"remedy": remedy, "seed": seed, "steps": 10, "epochs": 2, "stopped_early": True,
                    "seconds": 1.0, "scores": {"argmax": scores, "tuned": scores}}  # fmt: skip

        rows += [cell("ce", 0.70, 0.80), cell("focal", 0.72, 0.80), cell("crt", 0.724, 0.80),
                 cell("ce_inverse", 0.80, 0.50)]  # fmt: skip
    (tmp_path / "r8").mkdir()
    (tmp_path / "r8" / "cells.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    lines = grid.decide(tmp_path, ["r8"], "single")
    # ce_inverse has the best macro-F1 but loses MCC by far more than 2 SEM: excluded;
    # crt (a strategy) is within 0.005 of focal (a loss), so the simpler focal is picked
    assert lines[0].startswith("single (r8; ") and "the rule picks focal / " in lines[0]
    assert any("excluded ce_inverse" in line for line in lines)
    # only the decisions asked for take part: no tuned cell is weighed, picked or excluded
    only_argmax = grid.decide(tmp_path, ["r8"], "single", decisions={"argmax"})
    assert "the rule picks focal / argmax" in only_argmax[0]
    assert "4 remedy x decision cells" in only_argmax[0] and "8 remedy" in lines[0]
    weighed = only_argmax[0].split("; the default before the grid")[0]  # that names the old one
    assert "tuned" not in weighed + "".join(only_argmax[1:])


def test_probe_refit_fits_every_variant_on_the_grids_setup(
    tiny_model_dir, data_home, tmp_path, capsys
):
    probe_refit = load_script("probe_refit")
    common = ["--model", str(tiny_model_dir), "--workdir", str(tmp_path / "grid"), "--cache",
              str(tmp_path / "cache"), "--max-length", "32"]  # fmt: skip
    assert probe_refit.main(["20ng_long_tailed", *common, "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [(r["setup"], r["seed"]) for r in rows] == [
        ("20ng_long_tailed", 0),
        ("20ng_long_tailed", 1),
    ]
    for row in rows:
        assert row["l2_validation"] in probe_refit.EXTENDED_GRID
        assert row["l2_cv"] in probe_refit.EXTENDED_GRID
        for variant in probe_refit.VARIANTS:
            assert 0.0 <= row[variant] <= 1.0
    for variant in probe_refit.VARIANTS:
        assert f"{variant} mean over setups: " in out


def test_long_documents_runs_every_head_and_both_anchors(
    tiny_model_dir, tmp_path, monkeypatch, capsys
):
    home = tmp_path / "data_home"
    sms = load_dataset("sms_spam").texts
    genres = ["Literary", "Detective and Mystery", "Sea and Adventure"]
    novels = [  # 9-24 messages each: past the tiny BERT's 128-token window
        {"text": " ".join(sms[i * 30 : i * 30 + 9 + i % 16]), "label": genres[i % 3]}
        for i in range(60)
    ]
    write_table(home, "gutenberg_fiction", "train", novels[:45])
    write_table(home, "gutenberg_fiction", "test", novels[45:])
    monkeypatch.setenv("LONGTAIL_DATA_HOME", str(home))
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    script = load_script("long_documents")
    argv = ["--model", str(tiny_model_dir), "--workdir", str(tmp_path / "work"), "--cache",
            str(tmp_path / "cache"), "--seeds", "1", "--max-chunks", "2", "--chunk-length", "32"]  # fmt: skip
    assert script.main(argv) == 0
    out = capsys.readouterr().out
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [r["config"] for r in rows] == list(script.CONFIGS)
    by_name = {r["config"]: r for r in rows}
    assert by_name["default"]["stop"] == "solved" and by_name["attention_sgd"]["stop"] != "solved"
    for row in rows:
        assert 0.0 <= row["f1_macro"] <= 1.0 and math.isfinite(row["mcc"])
    for name in script.CONFIGS:
        assert f"| {name} | " in out
    assert "| **anchor:** TF-IDF + LR (balanced), full text |" in out
    assert "| **anchor:** LR (balanced) on mean chunk embeddings |" in out
    # a rerun reads every finished run back instead of training it again
    assert script.main(argv) == 0
    again = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]
    assert [(r["f1_macro"], r["mcc"]) for r in again] == [(r["f1_macro"], r["mcc"]) for r in rows]


def _decision_cells(per_seed: dict[str, list[tuple[float, float]]]) -> list[dict]:
    """remedy -> per seed (tuned, tuned_confident) macro-F1, as the grid records them."""
    cells = []
    for remedy, seeds in per_seed.items():
        for seed, (tuned, confident) in enumerate(seeds):
            scores = {
                name: {"f1_macro": f1, "mcc": f1, "f1_micro": 0.0, "pr_auc_macro": 0.0}
                for name, f1 in (("tuned", tuned), ("tuned_confident", confident))
            }
            cells.append({"remedy": remedy, "seed": seed, "steps": 10, "epochs": 2,
                          "stopped_early": True, "seconds": 1.0, "scores": scores})  # fmt: skip
    return cells


@pytest.mark.parametrize(
    ("per_seed", "met", "loses"),
    [
        # higher on average, never far below: met
        (
            {"ce": [(0.70, 0.71), (0.72, 0.72), (0.71, 0.715)], "probe": [(0.80, 0.80)] * 3},
            True,
            "",
        ),
        # higher on average, but one cell far below its spread: not met
        (
            {"ce": [(0.70, 0.60), (0.70, 0.60), (0.70, 0.61)], "probe": [(0.5, 0.7)] * 3},
            False,
            "r8/ce",
        ),
        # lower on average: not met
        ({"ce": [(0.70, 0.69), (0.72, 0.72), (0.71, 0.70)]}, False, ""),
    ],
)
def test_the_decision_rule_needs_the_mean_and_no_cell_below_two_sem(tmp_path, per_seed, met, loses):
    grid = _grid()
    (tmp_path / "r8").mkdir()
    lines = "".join(json.dumps(c) + "\n" for c in _decision_cells(per_seed))
    (tmp_path / "r8" / "cells.jsonl").write_text(lines, encoding="utf-8")
    verdict = grid.compare_decisions(tmp_path, ["r8"], "tuned", "tuned_confident")[0]
    assert verdict.endswith("MET" if met else "NOT met"), verdict
    assert f"more than 2 SEM: {loses or 'none'};" in verdict
    assert grid.main(["--report", "--decisions", "tuned", "tuned_confident", "--workdir", str(tmp_path), "r8"]) == 0  # fmt: skip


def test_a_cell_fitted_twice_counts_once_and_max_seed_drops_later_seeds(tmp_path):
    grid = _grid()
    cells = _decision_cells({"ce": [(0.70, 0.71), (0.72, 0.72), (0.71, 0.715), (0.5, 0.5)]})
    path = tmp_path / "cells.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in [*cells, cells[1]]), encoding="utf-8")
    assert sorted(c["seed"] for c in grid.read_cells(path)) == [0, 1, 2, 3]
    assert sorted(c["seed"] for c in grid.read_cells(path, max_seed=2)) == [0, 1, 2]
