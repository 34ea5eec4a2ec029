"""``longtail train``: flags and/or ``--config exp.yaml`` plus dotted overrides (``train.epochs=2``)."""

from __future__ import annotations

import argparse
from typing import Any, Literal, get_args, get_origin

from longtail.config import (
    ExperimentConfig,
    apply_overrides,
    build_config,
    is_off,
    load_config,
    set_path,
)
from longtail.errors import LongtailError


def config_choices(key: str) -> list[str]:
    """The values a dotted config key allows, read from its ``Literal`` annotation in
    :class:`~longtail.config.ExperimentConfig` (through ``| None`` and ``list[...]``), so a
    flag's ``choices`` never drift from what the config accepts."""
    annotation: Any = ExperimentConfig
    for part in key.split("."):
        annotation = annotation.model_fields[part].annotation
    found: list[str] = []

    def collect(tp: Any) -> None:
        if get_origin(tp) is Literal:
            found.extend(str(arg) for arg in get_args(tp))
        else:
            for arg in get_args(tp):
                collect(arg)

    collect(annotation)
    if not found:
        raise TypeError(f"config key {key!r} is not a Literal")
    return found


# flag dest -> config key
FLAG_KEYS = {
    "data": "data.train",
    "validation_data": "data.validation",
    "test_data": "data.test",
    "text_column": "data.text_column",
    "label_column": "data.label_column",
    "label_delimiter": "data.label_delimiter",
    "task": "data.task",
    "positive_label": "data.positive_label",
    "val_fraction": "data.val_fraction",
    "strict": "data.strict",
    "arrow": "data.arrow",
    "arrow_cache_dir": "data.arrow_cache_dir",
    "model": "model.name",
    "max_length": "model.max_length",
    "pooling": "model.pooling",
    "gradient_checkpointing": "model.gradient_checkpointing",
    "trust_remote_code": "model.trust_remote_code",
    "encoder": "model.encoder",
    "runtime": "model.runtime",
    "head": "model.head",
    "head_hidden": "model.head_hidden",
    "epochs": "train.epochs",
    "max_steps": "train.max_steps",
    "batch_size": "train.batch_size",
    "lr": "train.lr",
    "head_lr": "train.head_lr",
    "layer_decay": "train.layer_decay",
    "grad_accum": "train.grad_accum",
    "mixed_precision": "train.mixed_precision",
    "early_stopping_metric": "train.early_stopping_metric",
    "patience": "train.patience",
    "seed": "train.seed",
    "save_steps": "train.save_steps",
    "logging_steps": "train.logging_steps",
    "compile": "train.compile",
    "loss": "loss",
    "sampler": "sampler",
    "strategy": "strategy",
    "sam": "sam",
    "aux_loss": "aux_loss",
    "augment": "augment.method",
    "augment_ratio": "augment.target_ratio",
    "augment_cache_dir": "augment.cache_dir",
    "track": "track",
    "track_dir": "track_dir",
    "threshold_objective": "decision.objective",
    "threshold_beta": "decision.beta",
    "threshold_floor": "decision.floor",
    "calibrate": "decision.calibrate",
    "logit_adjust": "decision.logit_adjust",
    "output": "output",
    "long_documents": "long_documents.enabled",
    "long_mode": "long_documents.mode",
    "chunk_length": "long_documents.chunk_length",
    "stride": "long_documents.stride",
    "aggregator": "long_documents.aggregator",
    "max_chunks": "long_documents.max_chunks",
    "chunk_batch_size": "long_documents.chunk_batch_size",
    "activation_memory_mb": "long_documents.activation_memory_mb",
    "cache_dir": "long_documents.cache_dir",
    "extra_features": "data.extra_features",
    "extra_features_from": "data.extra_features_from",
    "extra_features_folds": "data.extra_features_folds",
}


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train", help="train, calibrate, tune thresholds, write model dir + report"
    )
    p.add_argument("--config", help="YAML experiment file (flags and overrides take precedence)")
    p.add_argument(
        "--data", help="training file: .csv .tsv .jsonl .parquet or a HF datasets directory"
    )
    p.add_argument(
        "--validation-data", help="validation file (default: stratified split of --data)"
    )
    p.add_argument("--test-data", help="held-out test file for the report")
    p.add_argument("--text-column")
    p.add_argument("--label-column")
    p.add_argument("--label-delimiter", help="multilabel labels as a delimited string, e.g. ','")
    p.add_argument("--task", choices=config_choices("data.task"))
    p.add_argument("--positive-label", help="binary: the positive class (default: the minority)")
    p.add_argument("--val-fraction", type=float)
    p.add_argument(
        "--strict",
        action="store_true",
        default=None,
        help="fail on empty texts instead of dropping them",
    )
    p.add_argument(
        "--arrow",
        action="store_true",
        default=None,
        help="data larger than memory: convert to Arrow, tokenise once, memory-map (HF datasets)",
    )
    p.add_argument(
        "--arrow-cache-dir", help="where the Arrow tables go (default: the datasets cache)"
    )
    p.add_argument(
        "--model", help="local directory or hub name (default: offline all-MiniLM-L6-v2)"
    )
    p.add_argument("--max-length", type=int)
    p.add_argument("--pooling", choices=config_choices("model.pooling"))
    p.add_argument("--gradient-checkpointing", action="store_true", default=None)
    p.add_argument("--trust-remote-code", action="store_true", default=None)
    p.add_argument(
        "--encoder",
        choices=config_choices("model.encoder"),
        help="finetune (default), or frozen: encode each text once (cached) and train the head",
    )
    p.add_argument(
        "--runtime",
        choices=config_choices("model.runtime"),
        help="with a frozen encoder: where it embeds the texts: torch (default), or ONNX Runtime "
        "on the CPU, fp32 (onnx) or int8-quantised (onnx-int8; faster, the vectors move)",
    )
    p.add_argument(
        "--head", choices=config_choices("model.head"), help="classification head (default linear)"
    )
    p.add_argument(
        "--head-hidden", type=int, help="hidden units of --head mlp (default: encoder's)"
    )
    p.add_argument(
        "--epochs",
        type=int,
        help="train exactly this many epochs (default: to convergence, i.e. early stopping "
        "after --patience epochs without a better validation score, not before train.min_steps "
        "steps, at most train.max_epochs)",
    )
    p.add_argument("--max-steps", type=int, help="at most this many optimizer steps")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="encoder learning rate")
    p.add_argument("--head-lr", type=float)
    p.add_argument("--layer-decay", type=float, help="layer-wise lr decay (1.0 = off)")
    p.add_argument("--grad-accum", type=int)
    p.add_argument("--mixed-precision", choices=config_choices("train.mixed_precision"))
    p.add_argument("--early-stopping-metric")
    p.add_argument(
        "--patience",
        type=int,
        help="epochs without a better validation score before stopping (default 3 when training "
        "to convergence, 2 with --epochs)",
    )
    p.add_argument("--seed", type=int)
    p.add_argument(
        "--save-steps",
        type=int,
        help="also checkpoint every N optimizer steps inside an epoch, so --resume goes on "
        "from there (default: at each epoch's end only)",
    )
    p.add_argument(
        "--logging-steps",
        type=int,
        help="optimizer steps between two reads of the training loss: progress bar, trackers "
        "(default 50)",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        default=None,
        help="train through torch.compile (opt-in; first steps are slower while it compiles)",
    )
    p.add_argument("--loss", help="registered loss name (parameters via loss.NAME=VALUE overrides)")
    p.add_argument("--sampler", help="registered sampler name")
    p.add_argument("--threshold-objective", choices=config_choices("decision.objective"))
    p.add_argument("--threshold-beta", type=float)
    p.add_argument("--threshold-floor", type=float)
    p.add_argument(
        "--no-calibration", action="store_true", help="skip calibration (--calibrate none)"
    )
    p.add_argument(
        "--calibrate",
        choices=config_choices("decision.calibrate"),
        help="calibration fitted on validation (default temperature)",
    )
    p.add_argument(
        "--logit-adjust",
        metavar="TAU",
        help="post-hoc logit adjustment: none (default), a tau >= 0, or tuned on validation",
    )
    remedies = p.add_argument_group("strategies and augmentation (parameters: KEY=VALUE overrides)")
    remedies.add_argument(
        "--strategy",
        help="vanilla (default; linear_probe with --encoder frozen), auto, linear_probe, lp_ft, "
        "prefinetune_da, drw, crt, tau_norm or lws; e.g. strategy.top_layers=2",
    )
    remedies.add_argument(
        "--sam", help="optimizer wrapper: sam or asymmetric_sam (e.g. sam.rho=0.05)"
    )
    remedies.add_argument("--aux-loss", help="auxiliary contrastive loss: simcse or supcon")
    remedies.add_argument(
        "--aux-weight", type=float, help="weight λ of the auxiliary loss (default 0.1)"
    )
    remedies.add_argument(
        "--augment", help="grow minority classes of the training split: eda, back_translation, llm"
    )
    remedies.add_argument(
        "--augment-ratio", type=float, help="target minority/majority size ratio (default 0.5)"
    )
    remedies.add_argument("--augment-cache-dir", help="cache of generated texts")
    long = p.add_argument_group("long documents (hierarchical model over chunks)")
    long.add_argument(
        "--long-documents",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="force the hierarchical model on or off (default: on when texts exceed the window)",
    )
    long.add_argument(
        "--long-mode",
        choices=config_choices("long_documents.mode"),
        help="fine-tune, or frozen encoder + cache",
    )
    long.add_argument(
        "--chunk-length",
        type=int,
        help="tokens per chunk (default: the smaller of 512 and the encoder's window)",
    )
    long.add_argument("--stride", type=int, help="tokens shared by consecutive chunks (default 64)")
    long.add_argument(
        "--aggregator", help="mean, max, mean_max, attention (default) or transformer"
    )
    long.add_argument(
        "--max-chunks",
        type=int,
        help="end to end: random chunks per document per training step; frozen: the chunks "
        "encoded per document, spread evenly (also at prediction)",
    )
    long.add_argument("--chunk-batch-size", type=int, help="chunks per encoder micro-batch")
    long.add_argument(
        "--activation-memory-mb",
        type=float,
        metavar="MB",
        help="end to end: activations a step keeps before recomputing the rest of its chunks "
        "(default 0: recompute all, the smallest peak)",
    )
    long.add_argument("--cache-dir", help="chunk-embedding cache (frozen mode)")
    long.add_argument(
        "--extra-features",
        type=lambda value: [c.strip() for c in value.split(",") if c.strip()],
        help="numeric columns joined to the document embedding, e.g. p_nomination",
    )
    long.add_argument(
        "--extra-features-from",
        metavar="MODEL",
        help="a cascade: a first-stage model directory whose probabilities join the document "
        "embedding (out of fold for the training rows, so no label leaks)",
    )
    long.add_argument(
        "--extra-features-folds",
        type=int,
        metavar="K",
        help="first-stage models trained for the out-of-fold features (default 5)",
    )
    p.add_argument("--output", help="run directory (model + report)")
    p.add_argument(
        "--track",
        action="append",
        choices=config_choices("track"),
        help="log parameters, the loss every --logging-steps, epochs, metrics and the report "
        "(repeatable)",
    )
    p.add_argument("--track-dir", help="tracker files (default: <output>/tracking)")
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
    p.set_defaults(handler=run)


def config_from_args(args: argparse.Namespace) -> Any:
    data: dict[str, Any] = load_config(args.config) if args.config else {}
    source = args.config or "command line"
    for dest, key in FLAG_KEYS.items():
        value = getattr(args, dest, None)
        if key in ("loss", "sampler", "strategy", "sam", "aux_loss") and value is not None:
            data[key] = value
            continue
        set_path(data, key, value)
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
