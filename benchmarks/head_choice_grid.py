"""The frozen multiclass head chosen on validation (SGD vs solved, each fused), against the SGD head.

    python benchmarks/head_choice_grid.py --workdir benchmarks/results/frozen_grid \\
        r8 r52 20ng_long_tailed 20ng_step
    python benchmarks/head_choice_grid.py --report --workdir benchmarks/results/frozen_grid ...

For each set and seed this trains the solved head (:data:`SOLVED`, ``--strategy linear_probe``)
exactly as ``benchmarks/frozen_grid.py`` does, fuses the TF-IDF branch into it at the weight
``--lexical auto`` chooses, and records the default decision on validation and test in
``<workdir>/<set>/head_choice.jsonl`` (:func:`lexical_grid.lexical_cell`; a rerun skips what is
there). The SGD head's side of each seed is that seed's record in ``lexical.jsonl`` (written by
``benchmarks/lexical_grid.py``: the same split, branch and decision). ``--report`` makes the
choice per seed from the two fused validation scores alone, as ``longtail train`` does (a tie
keeps the SGD head), and prints per set the SGD head, the solved head, the chosen one, the paired
difference to the SGD head and the anchors, then the verdict of the rule fixed in
docs/benchmarks.md ("The frozen head chosen on validation") before the cells ran.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import frozen_grid as grid  # noqa: E402
import lexical_grid  # noqa: E402
from _common import encoder_or_offline  # noqa: E402

#: The candidate beside the SGD head: the grid's solved head with longtail's default loss.
SOLVED = "probe_ce_effective_number"
#: The sets the rule covers: multiclass short texts, where the SGD head is the default.
SETUPS = ("r8", "r52", "20ng_long_tailed", "20ng_step")


def fused_validation(cell: dict[str, Any]) -> float:
    """A cell's validation score at its chosen fusion weight (what the choice compares)."""
    return float(cell["validation_scores"][str(cell["weight"])])


def choose(sgd: dict[str, Any], solved: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The head ``longtail train`` keeps: the higher fused validation score; a tie keeps SGD."""
    if fused_validation(solved) > fused_validation(sgd):
        return "solved", solved
    return "sgd", sgd


def set_summary(sgd_cells: list[dict], solved_cells: list[dict]) -> dict[str, Any] | None:
    """Per metric, over the seeds both heads have: each head's fused test score, the chosen
    one's, and the paired difference chosen − SGD."""
    sgd_by_seed = {c["seed"]: c for c in sgd_cells}
    pairs = [(sgd_by_seed[c["seed"]], c) for c in solved_cells if c["seed"] in sgd_by_seed]
    if not pairs:
        return None
    picks = [choose(sgd, solved) for sgd, solved in pairs]
    gaps = [fused_validation(solved) - fused_validation(sgd) for sgd, solved in pairs]
    differ = [
        (gap > 0)
        == (solved["scores"]["lexical"]["f1_macro"] > sgd["scores"]["lexical"]["f1_macro"])
        for gap, (sgd, solved) in zip(gaps, pairs, strict=True)
        if solved["scores"]["lexical"]["f1_macro"] != sgd["scores"]["lexical"]["f1_macro"]
    ]
    out: dict[str, Any] = {
        "seeds": len(pairs), "picked": [name for name, _ in picks],
        # how well validation tells the heads apart: the gap solved − SGD in fused validation
        # score (mean, standard deviation), and at the seeds whose test macro-F1 differ, how
        # often the head validation prefers is the better one on test
        "validation_gap": (statistics.mean(gaps), statistics.stdev(gaps) if len(gaps) > 1 else math.nan),
        "right_picks": (sum(differ), len(differ)),
    }  # fmt: skip
    for metric in ("f1_macro", "mcc"):
        sgd = [s["scores"]["lexical"][metric] for s, _ in pairs]
        solved = [c["scores"]["lexical"][metric] for _, c in pairs]
        chosen = [cell["scores"]["lexical"][metric] for _, cell in picks]
        out[metric] = {
            "sgd": lexical_grid.mean_sem(sgd),
            "solved": lexical_grid.mean_sem(solved),
            "chosen": lexical_grid.mean_sem(chosen),
            "difference": lexical_grid.mean_sem([c - s for c, s in zip(chosen, sgd, strict=True)]),
        }
    return out


def report(work: Path, setups: list[str], seeds: int = 5) -> list[str]:
    """The table, the diagnostics and the verdict; a set with fewer than ``seeds`` paired cells
    is not yet judged."""

    def fmt(pair: tuple[float, float], sign: str = "") -> str:
        mean, sem = pair
        return f"{mean:{sign}.3f}" + ("" if math.isnan(sem) else f" ± {sem:.3f}")

    lines = [
        "| set | seeds | heads chosen | SGD head + branch | solved head + branch | chosen on "
        "validation | Δ chosen − SGD (paired) | MCC: SGD | solved | chosen | Δ | TF-IDF + LR | "
        "LR on the same vectors |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    summaries = {}
    for setup in setups:
        summary = set_summary(
            grid._read_jsonl(work / setup / "lexical.jsonl"),
            grid._read_jsonl(work / setup / "head_choice.jsonl"),
        )
        if summary is None:
            continue
        summaries[setup] = summary
        anchor = json.loads((work / setup / "anchors.json").read_text(encoding="utf-8"))
        tfidf = anchor["TF-IDF + LR (balanced)"]
        frozen = anchor["LR on the same frozen vectors (balanced)"]
        f1, mcc = summary["f1_macro"], summary["mcc"]
        lines.append(
            f"| {setup} | {summary['seeds']} | {', '.join(summary['picked'])} | "
            f"{fmt(f1['sgd'])} | {fmt(f1['solved'])} | {fmt(f1['chosen'])} | "
            f"{fmt(f1['difference'], '+')} | {fmt(mcc['sgd'])} | {fmt(mcc['solved'])} | "
            f"{fmt(mcc['chosen'])} | {fmt(mcc['difference'], '+')} | "
            f"{tfidf['f1_macro']:.3f} ({tfidf['mcc']:.3f}) | "
            f"{frozen['f1_macro']:.3f} ({frozen['mcc']:.3f}) |"
        )
    lines.append("")
    for setup, summary in summaries.items():
        gap, spread = summary["validation_gap"]
        right, differ = summary["right_picks"]
        lines.append(
            f"{setup}: fused validation score, solved - SGD {gap:+.3f} (sd {spread:.3f} over "
            f"the seeds); validation preferred the head better on test at {right} of {differ} "
            "seeds where they differ"
        )
    right = sum(s["right_picks"][0] for s in summaries.values())
    differ = sum(s["right_picks"][1] for s in summaries.values())
    complete = {setup: s for setup, s in summaries.items() if s["seeds"] >= seeds}
    lines += [f"all sets: {right} of {differ}", *verdict(complete, setups)]
    return lines


def verdict(summaries: dict[str, dict[str, Any]], setups: list[str]) -> list[str]:
    """The rule of docs/benchmarks.md: (a) a higher mean over the sets of the per-set mean test
    macro-F1 than the SGD head's; (b) on no set a paired loss of macro-F1 or MCC beyond 2 SEM."""
    missing = [s for s in setups if s not in summaries]
    if missing:
        return [f"verdict: not yet — too few paired cells for {', '.join(missing)}"]
    chosen = statistics.mean(s["f1_macro"]["chosen"][0] for s in summaries.values())
    sgd = statistics.mean(s["f1_macro"]["sgd"][0] for s in summaries.values())
    losses = []
    for setup, summary in summaries.items():
        for metric in ("f1_macro", "mcc"):
            if loss := lexical_grid.paired_loss(setup, metric, summary[metric]["difference"]):
                losses.append(loss)
    passes = chosen > sgd and not losses
    return [
        f"(a) mean over {len(summaries)} sets of test macro-F1: chosen on validation "
        f"{chosen:.4f}, the SGD head {sgd:.4f}",
        "(b) paired losses beyond 2 SEM: " + ("; ".join(losses) if losses else "none"),
        "verdict: "
        + (
            "the head chosen on validation becomes the frozen multiclass default"
            if passes
            else "the SGD head stays the frozen multiclass default"
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    lexical_grid.add_grid_arguments(parser, list(SETUPS), "seeds per set")
    args = parser.parse_args(argv)
    unknown = [s for s in args.setups if s not in SETUPS]
    if unknown:
        parser.error(f"the rule covers the multiclass sets {', '.join(SETUPS)}, not {unknown}")
    work = Path(args.workdir)
    if args.report:
        print("\n".join(report(work, args.setups, args.seeds)))
        return 0
    model = encoder_or_offline(args.model)
    with grid.head_training_settings():
        for setup in args.setups:
            runner = grid.open_setup(setup, args, work, model)
            path = work / setup / "head_choice.jsonl"
            done = {c["seed"] for c in grid._read_jsonl(path)}
            branches: dict = {}
            for seed in range(args.seeds):
                if seed in done:
                    continue
                cell = lexical_grid.lexical_cell(runner, seed, branches, remedy=SOLVED)
                grid._append(path, cell)
                print(f"  {setup} seed {seed}: solved head, weight {cell['weight']}; fused "
                      f"validation {fused_validation(cell):.4f}; {cell['seconds']} s",
                      flush=True)  # fmt: skip
    print("\n".join(report(work, args.setups, args.seeds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
