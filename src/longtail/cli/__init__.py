"""``longtail`` command line: ``longtail {train,predict,evaluate,compare,demo,datasets,augment,export,cache,make-imbalanced}``.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and ``run(args) -> int``.
User errors (:class:`~longtail.errors.LongtailError`) print one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

from longtail import __version__
from longtail.cli import (
    augment,
    cache_cmd,
    compare,
    datasets_cmd,
    decide,
    demo,
    evaluate,
    export,
    make_imbalanced,
    predict,
    train,
)
from longtail.errors import LongtailError
from longtail.logs import to_stdout

COMMANDS = {
    "train": train,
    "predict": predict,
    "evaluate": evaluate,
    "decide": decide,
    "demo": demo,
    "datasets": datasets_cmd,
    "export": export,
    "augment": augment,
    "cache": cache_cmd,
    "make-imbalanced": make_imbalanced,
    "compare": compare,
}


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse's own errors (unknown flag, bad choice, missing argument) as one ``error:`` line.

    argparse prints the usage block before the message; longtail's rule is one line naming the
    fix, so the usage is replaced by a pointer to ``--help``. Subcommand parsers inherit the class.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # A flag works spelled out only: ``train``'s flags are generated from the config model,
        # so a new field could otherwise change what a shortened flag (``--max-c``) meant.
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="longtail", description="Transformer text classifiers for class-imbalanced data."
    )
    parser.add_argument("--version", action="version", version=f"longtail {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add = subparsers.add_parser

    def add_with_description(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        """A command's ``help=`` (its line in ``longtail --help``) is also the first line of its
        own ``--help``, unless the command gives a longer ``description=``."""
        kwargs.setdefault("description", kwargs.get("help"))
        return add(name, **kwargs)

    subparsers.add_parser = add_with_description  # type: ignore[method-assign]
    for module in COMMANDS.values():
        module.add_parser(subparsers)
    return parser


def _plain_warnings() -> None:
    warnings.formatwarning = lambda message, category, *_args, **_kw: f"warning: {message}\n"


def _quiet_libraries() -> Any:
    """The command prints its own progress: transformers' info logs and warnings stay off while
    it runs (the library itself quiets them only while it loads or saves a model). Before
    transformers is imported an environment default does it, so a command that never needs
    transformers (or torch) does not import it for this."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # read when transformers loads
    if "transformers" not in sys.modules:
        return contextlib.nullcontext()
    from longtail.quiet import quiet_transformers

    return quiet_transformers()


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _plain_warnings()
    parser = build_parser()
    args, unknown = parser.parse_known_args(list(argv) if argv is not None else None)
    if unknown:  # name the subcommand whose --help lists the valid flags
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        commands.choices[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        with _quiet_libraries(), to_stdout():  # the "longtail" logger's lines, printed
            return int(args.handler(args) or 0)
    except LongtailError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"interrupted; {interrupted_advice(args)}", file=sys.stderr)
        return 130


def interrupted_advice(args: argparse.Namespace) -> str:
    """What Ctrl-C left behind and how to go on, for the command that was interrupted.

    Only ``train`` has ``--resume``; ``compare`` picks up its finished cells by itself. Every
    other command writes its outputs atomically (a temporary file renamed when complete), so an
    interrupted one leaves its output files as they were.
    """
    if args.command == "train":
        return "rerun the same command with --resume to continue from the last finished epoch"
    if args.command == "compare":
        return "rerun the same command to continue: finished cells are reused, not retrained"
    if args.command == "demo":
        return "rerun the same command to start the demo again"
    if args.command == "cache" and args.action == "clear":
        return "the entries removed so far are gone, the others are intact; rerun to finish"
    output = getattr(args, "output", None)
    kept = f"{output} was left as it was" if output else "no output file was written"
    return f"{kept} (outputs are replaced only when complete); rerun the same command"
