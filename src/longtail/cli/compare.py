"""``longtail compare experiment.yaml``: variants × seeds × folds, mean ± SEM, paired tests."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "compare",
        help="run a grid of variants × seeds × folds; mean ± SEM, paired tests, HTML report",
    )
    p.add_argument(
        "experiment", help="experiment YAML: base, variants, seeds, folds (see docs/guide.md)"
    )
    p.add_argument("--output", help="grid directory (default: output: in the experiment file)")
    p.add_argument("--dry-run", action="store_true", help="list the cells and exit")
    p.add_argument("--verbose", action="store_true", help="show each cell's training log")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from longtail.experiments import load_experiment, run_comparison, runner

    spec = load_experiment(args.experiment, output=args.output)
    if args.dry_run:
        done = runner.load_done(spec)
        for cell in spec.cells():
            print(f"{cell.name}{'  (done)' if cell in done else ''}")
        print(f"{len(spec.cells())} cells, {len(done)} done; output {spec.output}")
        return 0
    run_comparison(spec, verbose=args.verbose)
    print((spec.output / "comparison.md").read_text(encoding="utf-8"))
    print(f"comparison written to {spec.output} (comparison.html, .md, .json)")
    return 0
