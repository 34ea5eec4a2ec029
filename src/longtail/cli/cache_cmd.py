"""``longtail cache {info,clear}``: inspect or empty the on-disk chunk-embedding cache.

``clear`` asks no question: the cache only holds what can be recomputed, and it deletes nothing
but files named like cache entries. It prints what it removed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from longtail.cli.args import non_negative_number


def _size(n_bytes: int) -> str:
    size = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("cache", help="show or clear the chunk-embedding cache")
    actions = p.add_subparsers(dest="action", required=True)
    dir_help = "cache directory (default: $LONGTAIL_CACHE_DIR or ~/.cache/longtail/embeddings)"
    info = actions.add_parser("info", help="entries and size, per encoder/chunking key")
    info.add_argument("--dir", default=None, help=dir_help)
    clear = actions.add_parser("clear", help="delete cached embeddings (no confirmation)")
    clear.add_argument("--dir", default=None, help=dir_help)
    clear.add_argument(
        "--older-than-days",
        type=non_negative_number,
        default=None,
        help="only delete entries not written for this many days",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from longtail.cache.embeddings import cache_info, clear_cache, default_cache_dir
    from longtail.errors import LongtailError

    root = args.dir if args.dir is not None else default_cache_dir()
    if Path(root).expanduser().exists() and not Path(root).expanduser().is_dir():
        raise LongtailError(f"--dir {root} is a file, not a cache directory; pass the directory")
    if args.action == "info":
        info = cache_info(root)
        print(f"cache: {info['root']}")
        print(f"entries: {info['entries']} ({_size(info['bytes'])})")
        for key, entry in info["keys"].items():
            print(f"  {key}: {entry['entries']} entries ({_size(entry['bytes'])})")
        return 0
    if args.older_than_days is not None and args.older_than_days < 0:
        raise LongtailError(f"--older-than-days must be >= 0 (got {args.older_than_days})")
    result = clear_cache(root, older_than_days=args.older_than_days)
    print(f"removed {result['removed']} entries ({_size(result['bytes'])}) from {root}")
    return 0
