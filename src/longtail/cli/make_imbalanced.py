"""``longtail make-imbalanced``: step, long-tailed or minority-removal versions of a training file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from longtail.cli.args import non_negative_int
from longtail.paths import refuse_overwriting_inputs


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "make-imbalanced", help="build an imbalanced training file (+ manifest)"
    )
    p.add_argument("--data", required=True)
    p.add_argument("--text-column", default="text")
    p.add_argument("--label-column", default="label")
    p.add_argument("--kind", required=True, choices=["step", "long_tailed", "remove"])
    p.add_argument("--ratio", type=float, required=True, help="in (0, 1]: e.g. 0.1")
    p.add_argument("--minority-label", help="remove: the class to thin out (default: the smallest)")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument(
        "--output",
        required=True,
        help=".csv, .tsv or .jsonl; a .manifest.json is written beside it",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from longtail.data import LabelSpace, read_table
    from longtail.data.imbalance import subsample, target_counts
    from longtail.datasets import write_table
    from longtail.errors import LongtailError
    from longtail.io_utils import atomic_write_json

    refuse_overwriting_inputs(args.output, {"--data": args.data})
    refuse_overwriting_inputs(f"{args.output}.manifest.json", {"--data": args.data})
    table = read_table(args.data, text_column=args.text_column, label_column=args.label_column)
    space = LabelSpace.fit(table.labels, source=table.source)
    if space.task == "multilabel":
        raise LongtailError(
            f"{args.data}: make-imbalanced handles single-label data; this file is multilabel"
        )
    y = space.encode(table.labels, source=table.source, row_numbers=table.row_numbers)
    counts = space.counts(y)
    keep = target_counts(
        space.names, counts, kind=args.kind, ratio=args.ratio, minority=args.minority_label
    )
    rows = subsample(y, keep, args.seed)
    output = write_table(table.subset(rows.tolist()), args.output)
    manifest = {
        "source": str(args.data),
        "kind": args.kind,
        "ratio": args.ratio,
        "seed": args.seed,
        "minority_label": args.minority_label,
        "rows_before": int(len(y)),
        "rows_after": int(len(rows)),
        "class_counts_before": dict(zip(space.names, counts.tolist(), strict=True)),
        "class_counts_after": dict(zip(space.names, keep.tolist(), strict=True)),
        "note": "training data only: evaluate on the untouched test set",
    }
    atomic_write_json(Path(f"{output}.manifest.json"), manifest)
    for name in sorted(space.names, key=lambda n: -manifest["class_counts_before"][n]):
        print(
            f"{name:>24}  {manifest['class_counts_before'][name]:>7} -> {manifest['class_counts_after'][name]:>7}"
        )
    print(f"wrote {len(rows)} of {len(y)} rows to {output} (manifest: {output}.manifest.json)")
    return 0
