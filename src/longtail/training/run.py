"""One training run, left to right: read → labels → split → tokenize → fit → calibrate → tune → save → report."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate.utils import set_seed

from longtail import __version__
from longtail.cache import (
    EmbeddingCache,
    chunking_fingerprint,
    default_cache_dir,
    encoder_fingerprint,
)
from longtail.config import ExperimentConfig, dump_config
from longtail.data import LabelSpace
from longtail.decision import (
    apply_thresholds,
    default_thresholds,
    fit_temperature,
    probabilities,
    tune_thresholds,
)
from longtail.errors import LongtailError
from longtail.evaluation import evaluate_predictions, write_report
from longtail.losses import build_loss
from longtail.models import (
    TextClassifier,
    load_encoder,
    load_tokenizer,
    resolve_model_name,
    save_model_dir,
)
from longtail.models.encoder import describe_model
from longtail.models.io import META_FILE
from longtail.sampling import build_sampler
from longtail.training.batchers import DocumentBatcher, EmbeddingBatcher, TokenBatcher
from longtail.training.documents import FrozenEncoderModel, build_document_model, embed_documents
from longtail.training.loop import (
    TokenizedSplit,
    TrainingResult,
    distributed_state,
    gathered_logits,
    silent,
    train_model,
)
from longtail.training.prepare import PreparedData, chunk_settings, prepare_data, read_labelled

CHECKPOINT_DIR = "checkpoint"


def default_loss(task: str) -> dict[str, Any]:
    """longtail's recommended default: mildly re-weighted losses, the decision left to thresholds.

    Single-label: cross-entropy with effective-number class weights (β = 0.999; Cui et al. 2019,
    arXiv 1901.05555), which re-weights rare classes but saturates for large ones, so a 1:1000 skew
    does not turn into a 1000× weight. Multilabel: BCE with square-root positive weights, clipped,
    normalised to keep the gradient scale bounded.
    """
    if task == "multilabel":
        return {"name": "bce", "pos_weight": "sqrt_ratio", "max_weight": 100.0}
    return {"name": "ce", "weights": "effective_number", "beta": 0.999}


def default_early_stopping_metric(task: str) -> str:
    return "pr_auc_macro" if task == "multilabel" else "f1_macro"


@dataclass
class RunResult:
    output: Path
    report: dict[str, Any]
    training: TrainingResult


def _fingerprint(config: ExperimentConfig, n_train: int, n_val: int, y_sum: float) -> str:
    payload = json.dumps(
        {"config": dump_config(config), "rows": [n_train, n_val, y_sum]},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _prepare_output(output: Path, *, resume: bool, overwrite: bool, is_main: bool) -> None:
    existing = (output / META_FILE).exists() or (output / CHECKPOINT_DIR).exists()
    if existing and not (resume or overwrite):
        raise LongtailError(
            f"{output} already holds a run; pass --resume to continue it or --overwrite to start over"
        )
    if not is_main:
        return
    if overwrite and not resume:
        shutil.rmtree(output / CHECKPOINT_DIR, ignore_errors=True)
        (output / META_FILE).unlink(missing_ok=True)
    output.mkdir(parents=True, exist_ok=True)


def _scorer(
    task: str, space: LabelSpace, y_val: np.ndarray, metric: str
) -> Callable[[np.ndarray], float]:
    def score(logits: np.ndarray) -> float:
        probs = probabilities(logits, task)
        pred = apply_thresholds(task, probs, default_thresholds(task, len(space.names)))
        value = evaluate_predictions(task, y_val, probs, pred, space.names).get(metric)
        if not isinstance(value, (int, float)):
            raise LongtailError(
                f"train.early_stopping_metric {metric!r} is not a numeric metric; try f1_macro, pr_auc_macro, mcc"
            )
        return float(value)

    return score


def run_training(
    config: ExperimentConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    log: Callable[[str], None] = print,
) -> RunResult:
    """Train, calibrate, tune thresholds, save the model directory and write the report."""
    if not config.data.train:
        raise LongtailError("no training data: pass --data FILE (or data.train in the config)")
    if not config.output:
        raise LongtailError("no output directory: pass --output DIR (or output: in the config)")
    output = Path(config.output)
    dist = distributed_state()
    if (
        not dist.is_main_process
    ):  # data-parallel: every rank trains, only the main one speaks and writes
        log = silent
    _prepare_output(output, resume=resume, overwrite=overwrite, is_main=dist.is_main_process)
    dist.wait_for_everyone()

    set_seed(config.train.seed)  # the new head's initialisation, then each epoch reseeds itself
    model_name = resolve_model_name(config.model.name)
    tokenizer = load_tokenizer(model_name, trust_remote_code=config.model.trust_remote_code)
    encoder = load_encoder(model_name, trust_remote_code=config.model.trust_remote_code)
    window = _model_max_length(tokenizer, encoder)
    max_length = min(config.model.max_length, window)
    data = prepare_data(config, tokenizer, max_length, window)
    space, counts = data.space, data.counts
    train_split, val_split = data.train, data.validation
    y_train, y_val = train_split.y, val_split.y
    log(_describe_task(space, counts, len(y_train), len(y_val), data.validation_source))

    if data.notice:
        log(data.notice)
    if config.model.gradient_checkpointing:
        encoder.gradient_checkpointing_enable()
    num_logits = 2 if space.task == "binary" else len(space.names)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    set_seed(config.train.seed)
    model, trainable, batcher, train_split, val_split = _build_model(
        config,
        encoder,
        num_logits,
        data,
        model_name=model_name,
        pad_id=pad_id,
        window=window,
        log=log,
    )
    if space.task == "multilabel":
        model.init_head_bias_from_priors(counts / max(len(y_train), 1))

    loss_spec = config.loss if config.loss is not None else default_loss(space.task)
    loss_fn = build_loss(loss_spec, task=space.task, class_counts=counts, num_docs=len(y_train))
    sampler = build_sampler(
        config.sampler, y=data.sampler_labels, task=data.sampler_task, seed=config.train.seed
    )
    metric = config.train.early_stopping_metric or default_early_stopping_metric(space.task)
    log(
        f"model: {model_name}  max_length {max_length}  loss {_spec_name(loss_spec)}  "
        f"sampler {_spec_name(config.sampler)}"
    )

    result = train_model(
        trainable,
        loss_fn,
        train_split,
        val_split,
        config.train,
        batcher=batcher,
        score=_scorer(space.task, space, y_val, metric),
        sampler=sampler,
        checkpoint_dir=output / CHECKPOINT_DIR,
        resume=resume,
        fingerprint=_fingerprint(config, len(y_train), len(y_val), float(counts.sum())),
        log=log,
    )

    device = next(trainable.parameters()).device
    val_logits = gathered_logits(
        trainable,
        val_split,
        batch_size=config.train.eval_batch_size,
        batcher=batcher,
        device=device,
    )
    temperature = (
        fit_temperature(val_logits, y_val, space.task) if config.decision.calibrate else 1.0
    )
    val_probs = probabilities(val_logits, space.task, temperature=temperature)
    thresholds = (
        tune_thresholds(
            space.task,
            y_val,
            val_probs,
            objective=config.decision.objective,
            beta=config.decision.beta,
            floor=config.decision.floor,
        )
        if config.decision.tune_thresholds
        else default_thresholds(space.task, len(space.names))
    )
    meta = {
        "task": space.task,
        "labels": space.to_dict(),
        "thresholds": np.asarray(thresholds).tolist(),
        "threshold_objective": config.decision.objective,
        "temperature": float(temperature),
        "max_length": max_length,
        "long_documents": _document_settings(config, window) if data.documents else None,
        "extra_features": list(config.data.extra_features),
        "text_column": config.data.text_column,
        "label_column": config.data.label_column,
        "base_model": describe_model(model_name),
        "trust_remote_code": config.model.trust_remote_code,
        "config": dump_config(config),
        "training": {
            "best_epoch": result.best_epoch,
            "early_stopping_metric": metric,
            "best_score": result.best_score,
            "history": result.history,
            "seconds": round(result.seconds, 1),
            "train_class_counts": dict(zip(space.names, counts.tolist(), strict=True)),
        },
    }
    if not dist.is_main_process:
        dist.wait_for_everyone()  # the main process writes the model directory and the report
        return RunResult(output=output, report={}, training=result)
    save_model_dir(output, model, tokenizer, meta)

    val_pred = apply_thresholds(space.task, val_probs, thresholds)
    validation_metrics = evaluate_predictions(space.task, y_val, val_probs, val_pred, space.names)
    report: dict[str, Any] = {
        "task": space.task,
        "labels": space.names,
        "thresholds": meta["thresholds"],
        "temperature": float(temperature),
        "model": {
            "base_model": meta["base_model"],
            "longtail_version": __version__,
            "loss": loss_spec,
            "sampler": config.sampler,
        },
        "data": {
            "train": config.data.train,
            "train_rows": len(y_train),
            "validation_rows": len(y_val),
            "train_class_counts": meta["training"]["train_class_counts"],
        },
        "training": meta["training"] | {"config": None},
        "validation_metrics": validation_metrics,
    }
    if config.data.test:
        from longtail.predictor import Classifier

        classifier = Classifier(model, tokenizer, meta)
        test_table = read_labelled(config.data.test, config)
        test_metrics = classifier.evaluate_table(test_table)
        report.update(split="test", metrics=test_metrics)
        report["data"]["test"] = config.data.test
        report["data"]["test_rows"] = len(test_table.texts)
    else:
        report.update(
            split="validation (thresholds were tuned on it: optimistic; pass --test-data for an honest estimate)",
            metrics=validation_metrics,
        )
    write_report(report, output)
    dist.wait_for_everyone()
    return RunResult(output=output, report=report, training=result)


def _build_model(
    config: ExperimentConfig,
    encoder: Any,
    num_logits: int,
    data: PreparedData,
    *,
    model_name: str,
    pad_id: int,
    window: int,
    log: Callable[[str], None],
):
    """``(model to save, module to train, batcher, train split, validation split)``."""
    extra = data.train.extra
    if not data.documents:
        if extra is not None:
            raise LongtailError(
                "data.extra_features are joined to a document embedding: use them with "
                "long_documents.enabled=true"
            )
        model = TextClassifier(
            encoder, num_logits, pooling=config.model.pooling, dropout=config.model.dropout
        )
        return model, model, TokenBatcher(pad_id), data.train, data.validation
    ld = config.long_documents
    num_extra = 0 if extra is None else extra.shape[1]
    model = build_document_model(encoder, num_logits, config, num_extra)
    if ld.mode == "end_to_end":
        batcher = DocumentBatcher(pad_id, max_chunks=ld.max_chunks, seed=config.train.seed)
        return model, model, batcher, data.train, data.validation
    cache = EmbeddingCache(
        Path(ld.cache_dir) if ld.cache_dir else default_cache_dir(),
        encoder_key=encoder_fingerprint(model_name, encoder),
        chunking_key=chunking_fingerprint(
            settings=chunk_settings(config, window),
            pooling=config.model.pooling, max_chars=ld.max_chars, on_too_long=ld.on_too_long,
        ),
        hidden_size=encoder.config.hidden_size,
    )  # fmt: skip
    device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    splits = []
    for split, texts in ((data.train, data.train_texts), (data.validation, data.validation_texts)):
        vectors = embed_documents(
            model, split.ids, texts, cache=cache, pad_id=pad_id, device=device, log=log
        )
        splits.append(TokenizedSplit(vectors, split.y, split.extra))
    model.to("cpu")
    batcher = EmbeddingBatcher(ld.max_chunks, config.train.seed)
    return model, FrozenEncoderModel(model), batcher, splits[0], splits[1]


def _document_settings(config: ExperimentConfig, window: int) -> dict[str, Any]:
    """What predict needs to cut documents exactly as training did."""
    ld = config.long_documents
    chunk_length, stride = chunk_settings(config, window)
    return {
        "aggregator": ld.aggregator,
        "mode": ld.mode,
        "chunk_length": chunk_length,
        "stride": stride,
        "max_chars": ld.max_chars,
        "on_too_long": ld.on_too_long,
    }


def _model_max_length(tokenizer: Any, encoder: Any) -> int:
    limits = [
        getattr(encoder.config, "max_position_embeddings", None),
        getattr(tokenizer, "model_max_length", None),
    ]
    usable = [int(v) for v in limits if isinstance(v, int) and 0 < v < 1_000_000]
    return min(usable) if usable else 512


def _spec_name(spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, dict):
        params = ", ".join(f"{k}={v}" for k, v in spec.items() if k != "name")
        return f"{spec.get('name')}({params})" if params else str(spec.get("name"))
    return type(spec).__name__


def _describe_task(
    space: LabelSpace, counts: np.ndarray, n_train: int, n_val: int, source: str
) -> str:
    order = np.argsort(-counts)
    shown = ", ".join(f"{space.names[i]} {int(counts[i])}" for i in order[:8])
    more = f", … {len(order) - 8} more" if len(order) > 8 else ""
    positive = f"; positive class '{space.names[1]}'" if space.task == "binary" else ""
    return (
        f"task: {space.task} ({len(space.names)} classes{positive}); train {n_train} rows [{shown}{more}]; "
        f"validation {n_val} rows ({source})"
    )
