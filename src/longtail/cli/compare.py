"""``longtail compare experiment.yaml``: variants × seeds × folds, mean ± SEM, paired tests."""

from __future__ import annotations

import argparse
from functools import partial
from typing import TYPE_CHECKING, Any

from longtail.errors import LongtailError

if TYPE_CHECKING:  # the experiments package is imported when the command runs
    from longtail.experiments.redecide import DecisionPlan
    from longtail.experiments.runner import GridState
    from longtail.experiments.spec import Cell


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "compare",
        help="run a grid of variants × seeds × folds; mean ± SEM, paired tests, HTML report",
    )
    p.add_argument(
        "experiment", help="experiment YAML: base, variants, seeds, folds (see docs/guide.md)"
    )
    p.add_argument("--output", help="grid directory (default: output: in the experiment file)")
    p.add_argument(
        "--baseline",
        metavar="VARIANT",
        help="pair every variant against this one (default: baseline: in the experiment file); "
        "on a finished grid only the summary is rewritten, nothing retrains",
    )
    p.add_argument("--dry-run", action="store_true", help="list the cells and exit")
    p.add_argument(
        "--summary-only",
        action="store_true",
        help="train nothing: write the comparison of the cells finished so far (a grid still "
        "running elsewhere, or stopped halfway)",
    )
    p.add_argument("--verbose", action="store_true", help="show each cell's training log")
    p.add_argument(
        "--shard",
        metavar="I/N",
        help="run only every N-th cell starting at I (0-based), to split a grid over N processes "
        "or GPUs; each writes the comparison of all cells done so far",
    )
    p.set_defaults(handler=run)


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"1/4"`` -> ``(1, 4)``; a malformed value is a one-line error."""
    if text is None:
        return None
    index, _, count = text.partition("/")
    try:
        shard = int(index), int(count)
    except ValueError:
        raise LongtailError(f"--shard {text!r} is not I/N, e.g. --shard 0/4") from None
    if shard[1] < 1 or not 0 <= shard[0] < shard[1]:
        raise LongtailError(f"--shard {text}: need 0 <= I < N, e.g. --shard 0/4 ... --shard 3/4")
    return shard


def run(args: argparse.Namespace) -> int:
    from longtail.experiments import load_experiment, run_comparison, runner
    from longtail.experiments.redecide import plan_decisions

    shard = parse_shard(args.shard)
    spec = load_experiment(args.experiment, output=args.output, baseline=args.baseline)
    if args.dry_run:
        state = runner.scan_cells(spec)
        cells = runner.shard_cells(spec.cells(), shard)
        plan = plan_decisions(spec, cells, state.done, partial(runner.cell_run_dir, spec))
        for cell in cells:
            print(f"{cell.name}{_mark(cell, state, plan)}")
        decided = f", {len(plan.decided)} to decide from a twin's training" if plan.decided else ""
        print(
            f"{len(cells)} cells, {sum(c in state.done for c in cells)} done{decided}; "
            f"output {spec.output}"
        )
        for line in runner.describe_state(state, cells, spec.output):
            print(line)
        return 0
    if args.summary_only and shard:
        raise LongtailError("--summary-only trains no cell, so it takes no --shard; drop one")
    run_comparison(spec, verbose=args.verbose, shard=shard, train=not args.summary_only)
    print((spec.output / "comparison.md").read_text(encoding="utf-8"))
    print(f"comparison written to {spec.output} (comparison.html, .md, .json)")
    return 0


def _mark(cell: Cell, state: GridState, plan: DecisionPlan) -> str:
    """What ``compare`` will do with one cell, as the dry run lists it."""
    if cell in state.done:
        return "  (done)"
    mark = ""
    if cell in state.stale:
        mark = f"  (settings changed: {', '.join(state.stale[cell][:4])}; runs again)"
    if cell in plan.decided:
        return f"{mark}  (decided from {plan.decided[cell].variant}'s training)"
    if cell in plan.no_logits:
        twin = plan.no_logits[cell].variant
        return f"{mark}  (trains: {twin}'s finished cell trained the same model but kept no logits)"
    return mark
