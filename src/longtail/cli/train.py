"""``longtail train``: flags and/or ``--config exp.yaml`` plus dotted overrides (``train.epochs=2``).

The config-bound flags, their help and their choices are generated from the config model and the
registries (:mod:`longtail.options`); only the flags that are not a config key live here.
"""

from __future__ import annotations

import argparse
from typing import Any

from longtail.config import apply_overrides, build_config, is_off, load_config, set_path
from longtail.errors import LongtailError
from longtail.options import (
    GENERAL,
    LONG_DOCUMENTS,
    REMEDIES,
    RegisteredNamesHelp,
    config_annotation,
    config_choices,
    options,
)

__all__ = ["add_parser", "config_annotation", "config_choices", "config_from_args", "run"]


def config_flag_keys() -> dict[str, str]:
    """Flag dest → config key of every config-bound ``longtail train`` flag."""
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    return parser.parse_args(["train"]).config_keys


def add_parser(subparsers: Any) -> None:
    """The flags of ``longtail train``: one per config leaf (:func:`longtail.options.options`),
    plus ``--config``, ``--no-calibration``, ``--aux-weight``, ``--resume``, ``--overwrite`` and
    the dotted overrides."""
    p = subparsers.add_parser(
        "train",
        help="train, calibrate, tune thresholds, write model dir + report",
        formatter_class=RegisteredNamesHelp,
    )
    p.add_argument("--config", help="YAML experiment file (flags and overrides take precedence)")
    groups = {GENERAL: p, REMEDIES: p.add_argument_group(REMEDIES)}
    groups[LONG_DOCUMENTS] = p.add_argument_group(LONG_DOCUMENTS)
    keys = {option.add_to(groups[option.group]).dest: option.key for option in options()}
    p.add_argument(
        "--no-calibration", action="store_true", help="skip calibration (--calibrate none)"
    )
    groups[REMEDIES].add_argument(
        "--aux-weight", type=float, help="weight λ of the auxiliary loss (default 0.1)"
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --output from its last checkpoint",
    )
    p.add_argument("--overwrite", action="store_true", help="replace a finished run in --output")
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="dotted config overrides, e.g. train.epochs=2",
    )
    p.set_defaults(handler=run, config_keys=keys)


def config_from_args(args: argparse.Namespace) -> Any:
    data: dict[str, Any] = load_config(args.config) if args.config else {}
    source = args.config or "command line"
    for dest, key in args.config_keys.items():
        set_path(data, key, getattr(args, dest, None))
    if args.no_calibration:
        set_path(data, "decision.calibrate", "none")
    if args.aux_weight is not None:
        aux = data.get("aux_loss", "none")
        if is_off(aux):
            raise LongtailError(
                "--aux-weight needs an auxiliary loss: add --aux-loss simcse or supcon"
            )
        data["aux_loss"] = ({"name": aux} if isinstance(aux, str) else dict(aux)) | {
            "weight": args.aux_weight
        }
    data = apply_overrides(data, list(args.overrides))
    return build_config(data, source=source)


def run(args: argparse.Namespace) -> int:
    from longtail.training.accelerator import distributed_state
    from longtail.training.run import run_training

    config = config_from_args(args)
    result = run_training(config, resume=args.resume, overwrite=args.overwrite)
    if not distributed_state().is_main_process:
        return 0
    print((result.output / "report.md").read_text(encoding="utf-8"))
    print(f"model and report written to {result.output}")
    return 0
