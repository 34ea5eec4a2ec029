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


def config_annotation(key: str) -> Any:
    """The type annotation of a dotted config key in :class:`~longtail.config.ExperimentConfig`
    (``KeyError`` naming the part that does not exist)."""
    annotation: Any = ExperimentConfig
    for part in key.split("."):
        annotation = annotation.model_fields[part].annotation
    return annotation


def config_choices(key: str) -> list[str]:
    """The values a dotted config key allows, read from its ``Literal`` annotation in
    :class:`~longtail.config.ExperimentConfig` (through ``| None`` and ``list[...]``), so a
    flag's ``choices`` never drift from what the config accepts."""
    annotation = config_annotation(key)
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


class ConfigFlags:
    """The flags of ``longtail train`` that set a config key, each bound to its key where it is
    declared: ``keys.add(parser, "--lr", "train.lr", type=float)``.

    :attr:`keys` (flag dest → dotted config key) travels with the parsed arguments
    (``args.config_keys``), so :func:`config_from_args` needs no second list of flags.
    """

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}

    def add(self, target: Any, flag: str, key: str, **kwargs: Any) -> argparse.Action:
        """``target.add_argument(flag, **kwargs)`` and record that it sets ``key``."""
        config_annotation(key)  # a typo in a key fails when the parser is built
        action = target.add_argument(flag, **kwargs)
        self.keys[action.dest] = key
        return action


def config_flag_keys() -> dict[str, str]:
    """Flag dest → config key of every config-bound ``longtail train`` flag."""
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    return parser.parse_args(["train"]).config_keys


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train", help="train, calibrate, tune thresholds, write model dir + report"
    )
    keys = ConfigFlags()
    p.add_argument("--config", help="YAML experiment file (flags and overrides take precedence)")
    keys.add(
        p,
        "--data",
        "data.train",
        help="training file: .csv .tsv .jsonl .parquet or a HF datasets directory",
    )
    keys.add(
        p,
        "--validation-data",
        "data.validation",
        help="validation file (default: stratified split of --data)",
    )
    keys.add(p, "--test-data", "data.test", help="held-out test file for the report")
    keys.add(p, "--text-column", "data.text_column")
    keys.add(p, "--label-column", "data.label_column")
    keys.add(
        p,
        "--label-delimiter",
        "data.label_delimiter",
        help="multilabel labels as a delimited string, e.g. ','",
    )
    keys.add(p, "--task", "data.task", choices=config_choices("data.task"))
    keys.add(
        p,
        "--positive-label",
        "data.positive_label",
        help="binary: the positive class (default: the minority)",
    )
    keys.add(p, "--val-fraction", "data.val_fraction", type=float)
    keys.add(
        p,
        "--strict",
        "data.strict",
        action="store_true",
        default=None,
        help="fail on empty texts instead of dropping them",
    )
    keys.add(
        p,
        "--arrow",
        "data.arrow",
        action="store_true",
        default=None,
        help="data larger than memory: convert to Arrow, tokenise once, memory-map (HF datasets)",
    )
    keys.add(
        p,
        "--arrow-cache-dir",
        "data.arrow_cache_dir",
        help="where the Arrow tables go (default: the datasets cache)",
    )
    keys.add(
        p,
        "--model",
        "model.name",
        help="local directory or hub name (default: offline all-MiniLM-L6-v2)",
    )
    keys.add(p, "--max-length", "model.max_length", type=int)
    keys.add(p, "--pooling", "model.pooling", choices=config_choices("model.pooling"))
    keys.add(
        p,
        "--gradient-checkpointing",
        "model.gradient_checkpointing",
        action="store_true",
        default=None,
    )
    keys.add(p, "--trust-remote-code", "model.trust_remote_code", action="store_true", default=None)
    keys.add(
        p,
        "--encoder",
        "model.encoder",
        choices=config_choices("model.encoder"),
        help="finetune (default), or frozen: encode each text once (cached) and train the head",
    )
    keys.add(
        p,
        "--runtime",
        "model.runtime",
        choices=config_choices("model.runtime"),
        help="with a frozen encoder: where it embeds the texts: torch (default), or ONNX Runtime "
        "on the CPU, fp32 (onnx) or int8-quantised (onnx-int8; faster, the vectors move)",
    )
    keys.add(
        p,
        "--head",
        "model.head",
        choices=config_choices("model.head"),
        help="classification head (default linear)",
    )
    keys.add(
        p,
        "--head-hidden",
        "model.head_hidden",
        type=int,
        help="hidden units of --head mlp (default: encoder's)",
    )
    keys.add(
        p,
        "--epochs",
        "train.epochs",
        type=int,
        help="train exactly this many epochs (default: to convergence, i.e. early stopping "
        "after --patience epochs without a better validation score, not before train.min_steps "
        "steps, at most train.max_epochs)",
    )
    keys.add(
        p, "--max-steps", "train.max_steps", type=int, help="at most this many optimizer steps"
    )
    keys.add(p, "--batch-size", "train.batch_size", type=int)
    keys.add(p, "--lr", "train.lr", type=float, help="encoder learning rate")
    keys.add(p, "--head-lr", "train.head_lr", type=float)
    keys.add(
        p, "--layer-decay", "train.layer_decay", type=float, help="layer-wise lr decay (1.0 = off)"
    )
    keys.add(p, "--grad-accum", "train.grad_accum", type=int)
    keys.add(
        p,
        "--mixed-precision",
        "train.mixed_precision",
        choices=config_choices("train.mixed_precision"),
    )
    keys.add(p, "--early-stopping-metric", "train.early_stopping_metric")
    keys.add(
        p,
        "--patience",
        "train.patience",
        type=int,
        help="epochs without a better validation score before stopping (default 3 when training "
        "to convergence, 2 with --epochs)",
    )
    keys.add(p, "--seed", "train.seed", type=int)
    keys.add(
        p,
        "--save-steps",
        "train.save_steps",
        type=int,
        help="also checkpoint every N optimizer steps inside an epoch, so --resume goes on "
        "from there (default: at each epoch's end only)",
    )
    keys.add(
        p,
        "--logging-steps",
        "train.logging_steps",
        type=int,
        help="optimizer steps between two reads of the training loss: progress bar, trackers "
        "(default 50)",
    )
    keys.add(
        p,
        "--compile",
        "train.compile",
        action="store_true",
        default=None,
        help="train through torch.compile (opt-in; first steps are slower while it compiles)",
    )
    keys.add(
        p, "--loss", "loss", help="registered loss name (parameters via loss.NAME=VALUE overrides)"
    )
    keys.add(p, "--sampler", "sampler", help="registered sampler name")
    keys.add(
        p,
        "--threshold-objective",
        "decision.objective",
        choices=config_choices("decision.objective"),
    )
    keys.add(p, "--threshold-beta", "decision.beta", type=float)
    keys.add(p, "--threshold-floor", "decision.floor", type=float)
    p.add_argument(
        "--no-calibration", action="store_true", help="skip calibration (--calibrate none)"
    )
    keys.add(
        p,
        "--calibrate",
        "decision.calibrate",
        choices=config_choices("decision.calibrate"),
        help="calibration fitted on validation (default temperature)",
    )
    keys.add(
        p,
        "--logit-adjust",
        "decision.logit_adjust",
        metavar="TAU",
        help="post-hoc logit adjustment: none (default), a tau >= 0, or tuned on validation",
    )
    remedies = p.add_argument_group("strategies and augmentation (parameters: KEY=VALUE overrides)")
    keys.add(
        remedies,
        "--strategy",
        "strategy",
        help="vanilla (default; linear_probe with --encoder frozen), auto, linear_probe, lp_ft, "
        "prefinetune_da, drw, crt, tau_norm or lws; e.g. strategy.top_layers=2",
    )
    keys.add(
        remedies,
        "--sam",
        "sam",
        help="optimizer wrapper: sam or asymmetric_sam (e.g. sam.rho=0.05)",
    )
    keys.add(
        remedies, "--aux-loss", "aux_loss", help="auxiliary contrastive loss: simcse or supcon"
    )
    remedies.add_argument(
        "--aux-weight", type=float, help="weight λ of the auxiliary loss (default 0.1)"
    )
    keys.add(
        remedies,
        "--augment",
        "augment.method",
        help="grow minority classes of the training split: eda, back_translation, llm",
    )
    keys.add(
        remedies,
        "--augment-ratio",
        "augment.target_ratio",
        type=float,
        help="target minority/majority size ratio (default 0.5)",
    )
    keys.add(remedies, "--augment-cache-dir", "augment.cache_dir", help="cache of generated texts")
    long = p.add_argument_group("long documents (hierarchical model over chunks)")
    keys.add(
        long,
        "--long-documents",
        "long_documents.enabled",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="force the hierarchical model on or off (default: on when texts exceed the window)",
    )
    keys.add(
        long,
        "--long-mode",
        "long_documents.mode",
        choices=config_choices("long_documents.mode"),
        help="fine-tune, or frozen encoder + cache",
    )
    keys.add(
        long,
        "--chunk-length",
        "long_documents.chunk_length",
        type=int,
        help="tokens per chunk (default: the smaller of 512 and the encoder's window)",
    )
    keys.add(
        long,
        "--stride",
        "long_documents.stride",
        type=int,
        help="tokens shared by consecutive chunks (default 64)",
    )
    keys.add(
        long,
        "--aggregator",
        "long_documents.aggregator",
        help="mean, max, mean_max, attention (default) or transformer",
    )
    keys.add(
        long,
        "--max-chunks",
        "long_documents.max_chunks",
        type=int,
        help="end to end: random chunks per document per training step; frozen: the chunks "
        "encoded per document, spread evenly (also at prediction)",
    )
    keys.add(
        long,
        "--chunk-batch-size",
        "long_documents.chunk_batch_size",
        type=int,
        help="chunks per encoder micro-batch",
    )
    keys.add(
        long,
        "--activation-memory-mb",
        "long_documents.activation_memory_mb",
        type=float,
        metavar="MB",
        help="end to end: activations a step keeps before recomputing the rest of its chunks "
        "(default 0: recompute all, the smallest peak)",
    )
    keys.add(
        long, "--cache-dir", "long_documents.cache_dir", help="chunk-embedding cache (frozen mode)"
    )
    keys.add(
        long,
        "--extra-features",
        "data.extra_features",
        type=lambda value: [c.strip() for c in value.split(",") if c.strip()],
        help="numeric columns joined to the document embedding, e.g. p_nomination",
    )
    keys.add(
        long,
        "--extra-features-from",
        "data.extra_features_from",
        metavar="MODEL",
        help="a cascade: a first-stage model directory whose probabilities join the document "
        "embedding (out of fold for the training rows, so no label leaks)",
    )
    keys.add(
        long,
        "--extra-features-folds",
        "data.extra_features_folds",
        type=int,
        metavar="K",
        help="first-stage models trained for the out-of-fold features (default 5)",
    )
    keys.add(p, "--output", "output", help="run directory (model + report)")
    keys.add(
        p,
        "--track",
        "track",
        action="append",
        choices=config_choices("track"),
        help="log parameters, the loss every --logging-steps, epochs, metrics and the report "
        "(repeatable)",
    )
    keys.add(p, "--track-dir", "track_dir", help="tracker files (default: <output>/tracking)")
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
    p.set_defaults(handler=run, config_keys=keys.keys)


def config_from_args(args: argparse.Namespace) -> Any:
    data: dict[str, Any] = load_config(args.config) if args.config else {}
    source = args.config or "command line"
    for dest, key in args.config_keys.items():
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
