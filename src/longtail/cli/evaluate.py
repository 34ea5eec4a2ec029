"""``longtail evaluate``: every metric on a labelled file, with the model's tuned decisions."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from longtail.cli.args import (
    add_embedding_cache_arguments,
    add_runtime_argument,
    positive_int,
    use_embedding_cache,
)
from longtail.paths import refuse_overwriting_inputs


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("evaluate", help="evaluate a trained model on a labelled file")
    p.add_argument("--model", required=True, help="model directory written by `longtail train`")
    p.add_argument("--data", required=True, help="labelled file")
    p.add_argument("--output", required=True, help="directory for report.json and report.md")
    p.add_argument("--text-column", help="default: the column the model was trained with")
    p.add_argument("--label-column", help="default: the column the model was trained with")
    p.add_argument("--batch-size", type=positive_int, default=128, help="rows per batch")
    add_embedding_cache_arguments(p)
    add_runtime_argument(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from longtail.decision.probability_map import decision_summary
    from longtail.evaluation import write_report
    from longtail.predictor import Classifier

    refuse_overwriting_inputs(args.output, {"--data": args.data, "--model": args.model})
    classifier = Classifier.load(args.model, runtime=args.runtime)
    use_embedding_cache(classifier, args)
    table = classifier.read_labelled(args.data, args.text_column, args.label_column)
    metrics = classifier.evaluate_table(table, batch_size=args.batch_size)
    report = {
        "task": classifier.task,
        "labels": classifier.label_names,
        "split": f"evaluation on {args.data}",
        "metrics": metrics,
        "thresholds": classifier.thresholds.tolist(),
        # How the thresholds were chosen, as the training report says it (models saved before a
        # field existed lack it, and the report then leaves its line out).
        "threshold_objective": classifier.meta.get("threshold_objective"),
        "threshold_fallback": classifier.meta.get("threshold_fallback"),
        "threshold_untuned": classifier.meta.get("threshold_untuned"),
        "threshold_check": classifier.meta.get("threshold_check"),
        "temperature": classifier.temperature,
        **decision_summary(classifier.meta),  # logit adjustment and calibration, as applied
        # a model still learning when its training stopped is warned about here too
        "training": {"still_improving": classifier.meta.get("training", {}).get("still_improving")},
        "data": {"file": args.data, "rows": len(table.texts)},
        "model": {"directory": str(args.model), "base_model": classifier.meta.get("base_model")},
    }
    write_report(report, Path(args.output))
    print((Path(args.output) / "report.md").read_text(encoding="utf-8"))
    return 0
