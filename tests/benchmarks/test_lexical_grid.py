"""benchmarks/lexical_grid.py and lexical_finetuned.py end to end on a few rows: the default head
with and without the fused branch, paired, the report and the rule's verdict; then the branch
fused into a fine-tuned grid's saved logits."""

from __future__ import annotations

import json
import math

import pytest
import yaml
from benchmark_scripts import load_script

from longtail.cli import main


def test_the_default_head_is_scored_with_and_without_the_branch_on_the_same_logits(
    tiny_model_dir,
    data_home,
    tmp_path,
    capsys,
):
    script = load_script("lexical_grid")
    work = tmp_path / "grid"
    common = ["--model", str(tiny_model_dir), "--workdir", str(work), "--cache",
              str(tmp_path / "cache"), "--max-length", "32"]  # fmt: skip
    assert script.main(["20ng_long_tailed", "reuters_multilabel", *common, "--seeds", "2"]) == 0
    for setup in ("20ng_long_tailed", "reuters_multilabel"):
        cells = [json.loads(line) for line in (work / setup / "lexical.jsonl").open()]
        assert [c["seed"] for c in cells] == [0, 1]
        for cell in cells:
            assert cell["weight"] in [round(0.1 * i, 1) for i in range(11)]
            scores = cell["validation_scores"]
            assert scores[str(cell["weight"])] == max(scores.values())
            default, fused = cell["scores"]["default"], cell["scores"]["lexical"]
            assert all(
                math.isfinite(v) for v in (*default.values(), *fused.values()) if v is not None
            )
            if cell["weight"] == 0.0:  # nothing fused: the same head, the same scores
                assert default == fused
    out = capsys.readouterr().out
    assert "| 20ng_long_tailed | 2 |" in out and "| reuters_multilabel | 2 |" in out
    # a rerun trains nothing; the report alone gives the verdict over the sets asked for
    assert script.main(["20ng_long_tailed", *common, "--seeds", "2"]) == 0
    assert "seed 0:" not in capsys.readouterr().out
    assert script.main(["--report", "--workdir", str(work), "20ng_long_tailed", "r8"]) == 0
    assert "verdict: not yet — no cells for r8" in capsys.readouterr().out
    assert script.main(["--report", "--workdir", str(work), "20ng_long_tailed"]) == 0
    assert "(a) mean over 1 sets of test macro-F1" in capsys.readouterr().out

    # a fine-tuned grid on the same training file and seed split: the branch fused into the
    # logits its cells kept, each cell's validation rows checked against the split
    spec = {
        "base": {
            "data": {"train": str(work / "20ng_long_tailed" / "train.jsonl"),
                     "test": str(work / "20ng_long_tailed" / "test.jsonl")},
            "model": {"name": str(tiny_model_dir), "max_length": 16},
            "long_documents": {"enabled": False},
            "lexical": "off",  # the model alone: the script fuses the branch afterwards
            "train": {"epochs": 1, "batch_size": 16, "lr": 1e-3, "head_lr": 1e-2},
        },
        "variants": {"vanilla": {"loss": "ce", "decision": {"tune_thresholds": False,
                                                           "calibrate": "none"}}},
        "seeds": [0, 1],
        "folds": None,
        "output": str(tmp_path / "finetuned"),
    }  # fmt: skip
    (tmp_path / "finetuned.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    assert main(["compare", str(tmp_path / "finetuned.yaml")]) == 0
    capsys.readouterr()
    finetuned = load_script("lexical_finetuned")
    assert finetuned.main([str(tmp_path / "finetuned"), "20ng_long_tailed", "--workdir",
                           str(work), "--cache", str(tmp_path / "cache"), "--model",
                           str(tiny_model_dir)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "| vanilla seed 0 |" in out and "| vanilla seed 1 |" in out
    assert "paired difference over 2 cells" in out and "(b) on the fine-tuned cells:" in out

    # a grid trained with the branch fused already is refused: its logits would be fused twice
    spec["base"]["lexical"] = "auto"
    spec["output"] = str(tmp_path / "fused")
    (tmp_path / "fused.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    assert main(["compare", str(tmp_path / "fused.yaml")]) == 0
    with pytest.raises(SystemExit, match="trained with the branch fused"):
        finetuned.main([str(tmp_path / "fused"), "20ng_long_tailed", "--workdir", str(work),
                        "--cache", str(tmp_path / "cache"), "--model", str(tiny_model_dir)])  # fmt: skip
