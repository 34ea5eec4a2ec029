"""``longtail`` command line: ``longtail {train,predict,evaluate,compare,demo,datasets,augment,export,cache,make-imbalanced}``.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and ``run(args) -> int``.
User errors (:class:`~longtail.errors.LongtailError`) print one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence

from longtail import __version__
from longtail.cli import (
    augment,
    cache_cmd,
    compare,
    datasets_cmd,
    demo,
    evaluate,
    export,
    make_imbalanced,
    predict,
    train,
)
from longtail.errors import LongtailError

COMMANDS = {
    "train": train,
    "predict": predict,
    "evaluate": evaluate,
    "demo": demo,
    "datasets": datasets_cmd,
    "export": export,
    "augment": augment,
    "cache": cache_cmd,
    "make-imbalanced": make_imbalanced,
    "compare": compare,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="longtail", description="Transformer text classifiers for class-imbalanced data."
    )
    parser.add_argument("--version", action="version", version=f"longtail {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS.values():
        module.add_parser(subparsers)
    return parser


def _plain_warnings() -> None:
    warnings.formatwarning = lambda message, category, *_args, **_kw: f"warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _plain_warnings()
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        return int(args.handler(args) or 0)
    except LongtailError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted; rerun the same command with --resume to continue", file=sys.stderr)
        return 130
