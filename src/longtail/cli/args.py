"""argparse ``type=`` checks for numeric flags: nonsense (0 rows per batch, -3 days) is refused
while parsing, as one ``error:`` line naming the flag (see :class:`~longtail.cli.OneLineErrorParser`),
instead of running slowly or failing later."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def whole_number(minimum: int) -> Callable[[str], int]:
    """A ``type=`` for an integer flag of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = f"whole number >= {minimum}"
    return parse


def non_negative_number(text: str) -> float:
    """A ``type=`` for a finite float flag ``>= 0``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if math.isnan(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


positive_int = whole_number(1)
non_negative_int = whole_number(0)


def add_embedding_cache_arguments(parser: argparse.ArgumentParser) -> None:
    """``--cache-dir`` / ``--no-cache`` of ``predict`` and ``evaluate`` (frozen long documents)."""
    parser.add_argument(
        "--cache-dir",
        help="frozen long-document models: the chunk-embedding cache to read and fill (default: "
        "the one the model was trained with, else $LONGTAIL_CACHE_DIR or "
        "~/.cache/longtail/embeddings)",
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="encode every chunk; read and write no cache"
    )


def add_runtime_argument(parser: argparse.ArgumentParser) -> None:
    """``--runtime`` of ``predict`` and ``evaluate``: where the encoder runs."""
    from longtail.options import config_choices

    parser.add_argument(
        "--runtime",
        choices=config_choices("model.runtime"),
        help="run the encoder under torch or ONNX Runtime on the CPU (onnx: same numbers; "
        "onnx-int8: faster, probabilities move); default: what a frozen encoder was trained "
        "under, else torch",
    )


def use_embedding_cache(classifier: object, args: argparse.Namespace) -> None:
    """Turn on a classifier's embedding cache unless ``--no-cache`` (a no-op for other models)."""
    if not args.no_cache:
        classifier.use_embedding_cache(args.cache_dir)  # type: ignore[attr-defined]
