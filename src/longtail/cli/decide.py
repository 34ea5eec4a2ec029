"""``longtail decide``: refit a trained model's calibration and thresholds on new labelled data
(the weights untouched) and save the result as a new model directory (:mod:`longtail.decide`)."""

from __future__ import annotations

import argparse
from typing import Any

from longtail.cli.args import add_runtime_argument
from longtail.options import config_choices


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "decide", help="refit a model's calibration and thresholds on new labelled data"
    )
    p.add_argument("--model", required=True, help="model directory written by `longtail train`")
    p.add_argument("--data", required=True, help="labelled file the decision is fitted on")
    p.add_argument("--output", required=True, help="the new model directory")
    p.add_argument("--text-column", help="default: the column the model was trained with")
    p.add_argument("--label-column", help="default: the column the model was trained with")
    p.add_argument(
        "--objective", choices=config_choices("decision.objective"),
        help="what the thresholds maximise (default: the model's own)",
    )  # fmt: skip
    p.add_argument("--beta", type=float, help="with --objective fbeta")
    p.add_argument("--floor", type=float, help="with --objective recall_floor / precision_floor")
    p.add_argument(
        "--calibrate", choices=config_choices("decision.calibrate"),
        help="temperature, isotonic or none (default: the model's own)",
    )  # fmt: skip
    p.add_argument("--logit-adjust", help="none, tuned or a tau >= 0 (default: the model's own)")
    p.add_argument(
        "--target-priors",
        help="the class priors where the model is used: balanced or LABEL=SHARE,... "
        "(probabilities corrected from the training priors; thresholds not tuned)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    add_runtime_argument(p)
    p.set_defaults(handler=run)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("objective", "beta", "floor", "calibrate", "target_priors"):
        if getattr(args, key) is not None:
            out[key] = getattr(args, key)
    if args.logit_adjust is not None:
        value = args.logit_adjust
        try:
            out["logit_adjust"] = float(value)
        except ValueError:
            out["logit_adjust"] = value
    return out


def run(args: argparse.Namespace) -> int:
    from longtail.decide import decide_model
    from longtail.paths import refuse_overwriting_inputs

    refuse_overwriting_inputs(args.output, {"--data": args.data, "--model": args.model})
    result = decide_model(
        args.model, args.data, args.output, decision=_overrides(args),
        text_column=args.text_column, label_column=args.label_column, runtime=args.runtime,
        overwrite=args.overwrite,
    )  # fmt: skip
    before, after = result["before"], result["after"]
    print(
        f"decision refitted on {after['num_examples']} rows of {args.data} "
        f"(objective {result['decision']['objective']}, calibration "
        f"{result['decision']['calibrate']}); on those rows macro-F1 {before['f1_macro']:.4f} -> "
        f"{after['f1_macro']:.4f}, MCC {before['mcc']:.4f} -> {after['mcc']:.4f} (in-sample: "
        "score held-out rows with `longtail evaluate`)"
    )
    print(f"model with the new decision written to {args.output} (weights unchanged)")
    return 0
