"""``longtail predict``: calibrated probabilities and thresholded labels per row (JSONL or CSV)."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path
from typing import Any

from longtail.cli.args import (
    add_embedding_cache_arguments,
    add_runtime_argument,
    positive_int,
    use_embedding_cache,
)
from longtail.errors import LongtailError
from longtail.io_utils import atomic_writer
from longtail.paths import refuse_overwriting_inputs
from longtail.safe_text import spreadsheet_cell

CHUNK_ROWS = 2048


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("predict", help="predict labels and probabilities for a file")
    p.add_argument("--model", required=True, help="model directory written by `longtail train`")
    p.add_argument(
        "--data", required=True, help="input file (.csv .tsv .jsonl .parquet or HF datasets dir)"
    )
    p.add_argument("--output", required=True, help="predictions file: .jsonl or .csv")
    p.add_argument("--text-column", help="default: the column the model was trained with")
    p.add_argument("--batch-size", type=positive_int, default=128, help="rows per batch")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--explain",
        type=positive_int,
        metavar="K",
        help="long-document models: add the K chunks that weigh most in each prediction (JSONL)",
    )
    add_embedding_cache_arguments(p)
    add_runtime_argument(p)
    p.set_defaults(handler=run)


def _rows(
    classifier: Any, probs: Any, decisions: Any, row_numbers: list[int]
) -> list[dict[str, Any]]:
    names = classifier.label_names
    predicted = classifier.labels.decode(decisions)
    return [
        {
            "row": row,
            "prediction": label,
            "probabilities": {
                name: round(float(p), 6) for name, p in zip(names, prob_row, strict=True)
            },
        }
        for row, label, prob_row in zip(row_numbers, predicted, probs, strict=True)
    ]


def _format(records: list[dict[str, Any]], as_csv: bool, names: list[str], header: bool) -> str:
    if not as_csv:
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if header:
        writer.writerow(["row", "prediction", *[f"p_{n}" for n in names]])
    for r in records:
        label = r["prediction"]
        label = "|".join(label) if isinstance(label, list) else label
        # a report people open in a spreadsheet: a label like "=cmd|..." must not run
        cells = [r["row"], spreadsheet_cell(label), *[r["probabilities"][n] for n in names]]
        writer.writerow(cells)
    return buffer.getvalue()


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from longtail.data import read_table
    from longtail.predictor import Classifier

    output = Path(args.output)
    if output.suffix.lower() not in (".jsonl", ".csv"):
        raise LongtailError(f"--output {output}: use a .jsonl or .csv file name")
    refuse_overwriting_inputs(output, {"--data": args.data})
    classifier = Classifier.load(args.model, runtime=args.runtime)
    use_embedding_cache(classifier, args)
    column = args.text_column or classifier.meta.get("text_column", "text")
    table = read_table(
        args.data,
        text_column=column,
        label_column=None,
        require_labels=False,
        extra_columns=classifier.file_features,
    )
    as_csv = output.suffix.lower() == ".csv"
    if args.explain is not None and (as_csv or args.explain < 1):
        raise LongtailError(
            "--explain K needs K >= 1 and a .jsonl --output (explanations are nested)"
        )
    progress = tqdm(total=len(table.texts), unit="rows", disable=args.no_progress, desc="predict")
    try:  # umask modes (a replaced file keeps its mode); a killed predict's temporary removed
        with atomic_writer(output, "w", encoding="utf-8", newline="") as handle:
            for start in range(0, len(table.texts), CHUNK_ROWS):
                texts = table.texts[start : start + CHUNK_ROWS]
                extra = None if table.extra is None else table.extra[start : start + CHUNK_ROWS]
                probs = classifier.predict_proba(
                    texts, batch_size=args.batch_size, progress=progress, extra=extra
                )
                records = _rows(
                    classifier,
                    probs,
                    classifier.decide(probs),
                    table.row_numbers[start : start + CHUNK_ROWS],
                )
                if args.explain:
                    reasons = classifier.explain(texts, top_k=args.explain, extra=extra)
                    for record, reason in zip(records, reasons, strict=True):
                        record["explanation"] = reason
                handle.write(_format(records, as_csv, classifier.label_names, header=start == 0))
    finally:
        progress.close()
    print(f"wrote {len(table.texts)} predictions to {output}")
    return 0
