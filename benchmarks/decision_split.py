"""Split a fine-tuned grid's gap into what the loss did and what the decision did, from saved logits.

    python benchmarks/decision_split.py runs/r8_finetune/compare

A ``longtail compare`` cell keeps its validation and test logits
(``decision_inputs.safetensors``, :mod:`longtail.experiments.redecide`). This script refits, on
each cell's *validation* logits, four decisions through longtail's own
:func:`longtail.decision.fit.fit_decision`, and scores each on the cell's test logits:

- ``argmax``: no calibration, no tuning (what plain cross-entropy ships as "vanilla");
- ``tuned``: temperature scaling, per-class weights or thresholds tuned on validation, kept
  only where the cross-fitted check finds any gain (the default until 2026-12-07);
- ``tuned_unchecked``: the same with the check off (``decision.tuning_check: none``);
- ``tuned_confident``: the check asks the gain to hold in 90 % of bootstrap resamples of the
  validation rows too (``decision.tuning_confidence: 0.9``, longtail's default since then);
- with ``--target-priors P`` also ``target_P``: temperature scaling, then the probabilities
  corrected to the class priors P (``decision.target_priors``; Saerens et al. 2002) and argmax,
  for a test set drawn with other priors than training (a near-balanced benchmark test set).

The model is the same in the four rows of a cell, so the difference between a variant's
``argmax`` row and vanilla's is the loss's (and its early stopping's) share of a gap, and the
difference between its ``tuned`` and ``argmax`` rows is the decision's. The ``shipped`` row is
what the cell's own report says; it must equal the row of the decision its variant asked for
(printed as a parity check). Early stopping kept the epoch the variant's own decision scored
best, so the other decisions are scored on a model not selected for them: a diagnostic, not a
grid of its own.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

DECISIONS: dict[str, dict[str, Any]] = {
    "argmax": {"tune_thresholds": False, "calibrate": "none"},
    "tuned": {"tuning_confidence": None},
    "tuned_unchecked": {"tuning_check": "none"},
    "tuned_confident": {"tuning_confidence": 0.9},
}
METRICS = ("f1_macro", "mcc")


def cell_rows(
    cell_dir: Path, decisions: dict[str, dict[str, Any]] = DECISIONS
) -> dict[str, dict[str, float]]:
    """Decision name -> validation and test scores of one cell; ``shipped`` from its report."""
    from longtail.config import DecisionConfig
    from longtail.experiments.redecide import decided_scores, load_decided_cell

    inputs, report = load_decided_cell(cell_dir)
    rows = {"shipped": {f"test_{m}": report["metrics"][m] for m in METRICS}}
    for name, overrides in decisions.items():
        scores = decided_scores(inputs, report, DecisionConfig(**overrides))
        if scores.test is None:
            raise SystemExit(f"{cell_dir}: the cell has no test rows to score the decisions on")
        row = {f"val_{m}": scores.validation[m] for m in METRICS}
        row |= {f"test_{m}": scores.test[m] for m in METRICS}
        check = scores.decision.check
        row["kept_tuning"] = None if check is None else check["kept"]
        rows[name] = row
    return rows


def grid_cells(grid: Path) -> dict[str, dict[str, Path]]:
    """Variant -> cell name -> run directory, for every finished cell that kept its logits."""
    from longtail.experiments.redecide import DECISION_INPUTS

    found: dict[str, dict[str, Path]] = {}
    for inputs in sorted(grid.glob(f"cells/*/*/{DECISION_INPUTS}")):
        cell_dir = inputs.parent
        if (cell_dir / "report.json").is_file():
            found.setdefault(cell_dir.parent.name, {})[cell_dir.name] = cell_dir
    return found


def _mean_sem(values: list[float]) -> str:
    mean = statistics.mean(values)
    if len(values) < 2:
        return f"{mean:.3f}"
    return f"{mean:.3f} ± {statistics.stdev(values) / len(values) ** 0.5:.3f}"


def with_target(target_priors: str | None) -> dict[str, dict[str, Any]]:
    """The decisions refitted: :data:`DECISIONS`, and ``target_<P>`` where priors P are given."""
    if target_priors is None:
        return DECISIONS
    return DECISIONS | {f"target_{target_priors}": {"target_priors": target_priors}}


def split(
    grid: Path, decisions: dict[str, dict[str, Any]] = DECISIONS
) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """Variant -> cell -> decision -> scores, for every finished cell that kept its logits."""
    cells = grid_cells(grid)
    if not cells:
        raise SystemExit(f"{grid}: no finished cell kept its logits ({grid}/cells/*/*/)")
    return {
        variant: {name: cell_rows(path, decisions) for name, path in sorted(runs.items())}
        for variant, runs in sorted(cells.items())
    }


def matching_shipped(per_cell: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """The decisions whose test scores equal the shipped report's in every cell (parity)."""
    return [
        decision
        for decision in DECISIONS
        if all(
            abs(rows[decision][f"test_{m}"] - rows["shipped"][f"test_{m}"]) < 1e-9
            for rows in per_cell.values()
            for m in METRICS
        )
    ]


def table(results: dict[str, dict[str, dict[str, dict[str, Any]]]], grid: Path) -> str:
    decisions = [d for d in next(iter(next(iter(results.values())).values())) if d != "shipped"]
    lines = [
        f"`python benchmarks/decision_split.py {grid}`: each cell's own model, decided "
        f"{len(decisions)} ways on its validation logits and scored on its test logits; "
        "mean ± SEM over the cells.",
        "",
        "| variant | decision | cells | test macro-F1 | test MCC | validation macro-F1 | "
        "per cell: test macro-F1 | tuning kept |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for variant, per_cell in results.items():
        for decision in ("shipped", *decisions):
            rows = [per_cell[name][decision] for name in per_cell]
            val = _mean_sem([r["val_f1_macro"] for r in rows]) if decision != "shipped" else ""
            kept = "/".join(
                {True: "yes", False: "no", None: "-"}[r.get("kept_tuning")] for r in rows
            )
            lines.append(
                f"| {variant} | {decision} | {len(rows)} | "
                f"{_mean_sem([r['test_f1_macro'] for r in rows])} | "
                f"{_mean_sem([r['test_mcc'] for r in rows])} | {val} | "
                + "/".join(f"{r['test_f1_macro']:.3f}" for r in rows)
                + f" ({', '.join(per_cell)}) | {kept if decision != 'shipped' else ''} |"
            )
    lines.append("")
    for variant, per_cell in results.items():
        same = matching_shipped(per_cell)
        lines.append(
            f"parity: {variant}'s shipped decision equals "
            + (" and ".join(same) if same else "NONE of the refitted decisions")
            + " in every cell"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grid", type=Path, help="a `longtail compare` output directory")
    parser.add_argument(
        "--target-priors",
        metavar="P",
        help="also refit decision.target_priors=P (e.g. balanced) on each cell: the row target_P",
    )
    args = parser.parse_args(argv)
    print(table(split(args.grid, with_target(args.target_priors)), args.grid))
    return 0


if __name__ == "__main__":
    sys.exit(main())
