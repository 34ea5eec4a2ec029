"""``longtail augment``: add generated rows to the minority classes of a training file.

Writes the original rows followed by the new ones, with two extra columns: ``augmented``
(``true``/``false``) and ``source_row`` (the input row each line comes from). Augment training
data only — never a file that also holds validation or test rows.

Example::

    longtail augment --data train.csv --method eda --target-ratio 0.5 --output aug.csv \\
        num_aug=4 alpha_sr=0.1
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path
from typing import Any

from longtail.cli.args import non_negative_int
from longtail.errors import LongtailError
from longtail.paths import refuse_overwriting_inputs

_FORMATS = {".csv": ",", ".tsv": "\t", ".jsonl": None}


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "augment",
        help="add generated rows (EDA, back-translation, LLM) to minority classes",
        description="Grow every class below target-ratio × majority with generated rows.",
    )
    p.add_argument("--data", required=True, help="training file (.csv .tsv .jsonl .parquet ...)")
    p.add_argument("--text-column", default="text")
    p.add_argument("--label-column", default="label")
    p.add_argument("--task", choices=("binary", "multiclass", "multilabel"), help="default: detect")
    p.add_argument("--label-delimiter", help="split string labels on this (multilabel)")
    p.add_argument("--method", required=True, help="eda, back_translation or llm")
    p.add_argument("--target-ratio", type=float, required=True, help="in (0, 1]")
    p.add_argument("--output", required=True, help="output file: .csv, .tsv or .jsonl")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--cache-dir", help="reuse generated texts across runs (SQLite cache here)")
    p.add_argument(
        "--min-words",
        type=non_negative_int,
        default=3,
        help="drop generated rows shorter than this",
    )
    p.add_argument(
        "params", nargs="*", metavar="KEY=VALUE", help="method options, e.g. num_aug=4 alpha_sr=0.1"
    )
    p.set_defaults(handler=run)


def parse_params(items: list[str]) -> dict[str, Any]:
    """``["num_aug=4", "model=x"]`` → ``{"num_aug": 4, "model": "x"}`` (JSON values, else text)."""
    params: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise LongtailError(f"method option {item!r} must look like key=value, e.g. num_aug=4")
        lowered = raw.strip().lower()
        if lowered in ("true", "false", "none", "null"):
            value: Any = {"true": True, "false": False}.get(lowered)
        else:
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw
        params[key.strip()] = value
    return params


def run(args: argparse.Namespace) -> int:
    from longtail.augment import AUGMENTERS, AugmentCache, augment_minority, build_augmenter
    from longtail.config import is_off
    from longtail.data import LabelSpace, read_table

    AUGMENTERS.get(args.method)  # unknown method: fail before reading anything
    if is_off(args.method):
        raise LongtailError(
            f"--method {args.method} generates nothing; pick one of "
            f"{', '.join(n for n in AUGMENTERS.names() if not is_off(n))}"
        )
    if not 0.0 < args.target_ratio <= 1.0:
        raise LongtailError(f"--target-ratio must be in (0, 1], got {args.target_ratio}")
    output = Path(args.output)
    if output.suffix.lower() not in _FORMATS:
        raise LongtailError(f"--output {output}: use a .csv, .tsv or .jsonl file name")
    refuse_overwriting_inputs(output, {"--data": args.data})
    augmenter = build_augmenter({"name": args.method, **parse_params(args.params)})
    table = read_table(args.data, text_column=args.text_column, label_column=args.label_column)
    space = LabelSpace.fit(
        table.labels or [],
        task=args.task,
        label_delimiter=args.label_delimiter,
        source=table.source,
        row_numbers=table.row_numbers,
    )
    y = space.encode(table.labels or [], source=table.source, row_numbers=table.row_numbers)
    cache = AugmentCache(args.cache_dir) if args.cache_dir else None
    try:
        result = augment_minority(
            table.texts,
            y,
            space.task,
            augmenter=augmenter,
            target_ratio=args.target_ratio,
            seed=args.seed,
            cache=cache,
            min_words=args.min_words,
            label_names=space.names,
        )
    finally:
        if cache is not None:
            cache.close()
    labels = list(table.labels or [])
    rows = [(t, labels[i], False, table.row_numbers[i]) for i, t in enumerate(table.texts)]
    rows += [
        (t, labels[int(s)], True, table.row_numbers[int(s)])
        for t, s in zip(result.texts, result.source_index, strict=True)
    ]
    _write(output, rows, args.text_column, args.label_column, space.label_delimiter or ",")
    print(format_stats(result.stats))
    print(f"wrote {len(table.texts)} original + {len(result.texts)} new rows to {output}")
    return 0


def _write(
    path: Path, rows: list[tuple[Any, ...]], text_col: str, label_col: str, sep: str
) -> None:
    from longtail.io_utils import atomic_write_text

    header = [text_col, label_col, "augmented", "source_row"]
    delimiter = _FORMATS[path.suffix.lower()]
    if delimiter is None:
        lines = [
            json.dumps(dict(zip(header, r, strict=True)), ensure_ascii=False, default=str)
            for r in rows
        ]
        atomic_write_text(path, "".join(line + "\n" for line in lines))
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    for text, label, augmented, source in rows:
        flat = sep.join(map(str, label)) if isinstance(label, (list, tuple)) else label
        writer.writerow([text, flat, "true" if augmented else "false", source])
    atomic_write_text(path, buffer.getvalue())


def format_stats(stats: dict[str, Any]) -> str:
    """The per-class table: before → after, and what was requested, generated, kept, dropped."""
    head = ["class", "before", "after", "target", "requested", "generated", "kept", "dropped"]
    body = []
    for c in stats["classes"]:
        dropped = ", ".join(f"{k} {v}" for k, v in c["dropped"].items() if v) or "-"
        body.append(
            [
                str(c["class"]),
                str(c["before"]),
                str(c["after"]),
                str(c["target"]),
                str(c["requested"]),
                str(c["generated"]),
                str(c["kept"]),
                dropped,
            ]
        )
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
        for r in [head, *body]
    ]
    lines.insert(
        0,
        f"{stats['method']}: classes below {stats['target']} rows "
        f"({stats['target_ratio']:g} x majority {stats['majority']}) were augmented",
    )
    if "usage" in stats:
        lines.append("usage: " + ", ".join(f"{k} {v}" for k, v in stats["usage"].items()))
    return "\n".join(lines)
