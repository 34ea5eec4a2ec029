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
    tune_thresholds_detailed,
)
from longtail.defaults import default_early_stopping_metric, default_loss
from longtail.errors import LongtailError
from longtail.evaluation import evaluate_predictions, write_report
from longtail.fingerprint import result_settings
from longtail.models import (
    TextClassifier,
    load_encoder,
    load_tokenizer,
    resolve_model_name,
    save_model_dir,
)
from longtail.models.encoder import describe_model
from longtail.models.io import META_FILE
from longtail.training.augmentation import augment_training_split, describe_augmentation
from longtail.training.batchers import DocumentBatcher, EmbeddingBatcher, TokenBatcher
from longtail.training.documents import FrozenEncoderModel, build_document_model, embed_documents
from longtail.training.loop import (
    TokenizedSplit,
    TrainingResult,
    distributed_state,
    gathered_logits,
    predict_logits,
    silent,
)
from longtail.training.phases import PhaseInputs, run_phases
from longtail.training.prepare import PreparedData, chunk_settings, prepare_data, read_labelled
from longtail.training.reporting import augmentation_section, write_html
from longtail.training.strategies import build_strategy
from longtail.training.tracking import RunTracking

CHECKPOINT_DIR = "checkpoint"


@dataclass
class RunResult:
    output: Path
    report: dict[str, Any]
    training: TrainingResult


def _fingerprint(
    config: ExperimentConfig, task: str, n_train: int, n_val: int, y_sum: float
) -> str:
    """What a checkpoint was trained on; ``--resume`` refuses a checkpoint with another one.

    The settings that decide what is learned, with the training and validation files by their
    content (:func:`longtail.fingerprint.result_settings`; the test file is read after training),
    and the rows after splitting and augmentation. An edited row refuses the checkpoint; moving the
    data or the output directory, or switching on gradient checkpointing, does not. ``decision.*``
    is left out: calibration and thresholds are fitted after training, from the resumed model, so
    a run may resume with another decision objective.
    """
    settings = {
        key: value
        for key, value in result_settings(
            config, data_keys=("data.train", "data.validation"), task=task
        ).items()
        if not key.startswith("decision.")
    }
    payload = json.dumps({"settings": settings, "rows": [n_train, n_val, y_sum]}, sort_keys=True)
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
    _check_remedies(config)
    dist = distributed_state()
    if (
        not dist.is_main_process
    ):  # data-parallel: every rank trains, only the main one speaks and writes
        log = silent
    _prepare_output(output, resume=resume, overwrite=overwrite, is_main=dist.is_main_process)
    dist.wait_for_everyone()

    tracking = RunTracking(
        config.track, directory=Path(config.track_dir) if config.track_dir else output / "tracking",
        run_name=output.name, is_main=dist.is_main_process,
    )  # fmt: skip
    try:
        return _run(config, output, dist, tracking, resume=resume, log=log)
    finally:
        tracking.finish()


def _run(
    config: ExperimentConfig,
    output: Path,
    dist: Any,
    tracking: RunTracking,
    *,
    resume: bool,
    log: Callable[[str], None],
) -> RunResult:
    tracking.parameters(dump_config(config))
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
    augmented = None
    if config.augment.method is not None:
        with dist.main_process_first():  # one process fills the generation cache, the rest read it
            augmented = augment_training_split(
                data.train_texts, np.asarray(train_split.y), train_split.extra, task=space.task,
                label_names=space.names, config=config, output=output,
            )  # fmt: skip
        log(describe_augmentation(augmented.stats, "augmentation of the training split"))
        new_texts = augmented.texts[augmented.num_original :]
        data.train = train_split = TokenizedSplit(
            list(train_split.ids) + list(data.encode(new_texts)), augmented.y, augmented.extra
        )
        data.train_texts = augmented.texts
        data.counts = counts = space.counts(augmented.y)
        data.sampler_labels = augmented.y
        y_train = augmented.y
    num_logits = 2 if space.task == "binary" else len(space.names)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    set_seed(config.train.seed)
    setup = _build_model(
        config,
        encoder,
        num_logits,
        data,
        model_name=model_name,
        pad_id=pad_id,
        window=window,
        log=log,
    )
    model, trainable, batcher = setup.model, setup.trainable, setup.batcher
    train_split, val_split = setup.train, setup.validation
    if space.task == "multilabel":
        model.init_head_bias_from_priors(counts / max(len(y_train), 1))

    loss_spec = config.loss if config.loss is not None else default_loss(space.task)
    phases = build_strategy(config.strategy, epochs=config.train.epochs)
    metric = config.train.early_stopping_metric or default_early_stopping_metric(space.task)
    log(
        f"model: {model_name}  max_length {max_length}  loss {_spec_name(loss_spec)}  "
        f"sampler {_spec_name(config.sampler)}  strategy {_spec_name(config.strategy)}"
        + (f"  sam {_spec_name(config.sam)}" if config.sam != "none" else "")
        + (f"  aux {_spec_name(config.aux_loss)}" if config.aux_loss != "none" else "")
    )
    if data.documents and config.long_documents.mode == "frozen" and len(phases) > 1:
        log("long_documents.mode=frozen: the encoder stays frozen in every phase")

    trained = run_phases(
        phases,
        PhaseInputs(
            trainable=trainable, batcher=batcher, train=train_split, validation=val_split,
            train_texts=data.train_texts, space=space, counts=counts,
            sampler_labels=data.sampler_labels, sampler_task=data.sampler_task,
            loss_spec=loss_spec, score=_scorer(space.task, space, y_val, metric),
            represent=setup.represent, checkpoint_root=output / CHECKPOINT_DIR, output=output,
            fingerprint=_fingerprint(
                config, space.task, len(y_train), len(y_val), float(counts.sum())
            ),
            on_epoch=tracking.epoch if tracking else None,
        ),
        config,
        resume=resume,
        log=log,
    )  # fmt: skip
    result = trained.final
    if augmented is not None:
        trained.augmented.insert(0, ("augment", augmented))

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
    val_probs_uncalibrated = probabilities(val_logits, space.task)
    val_probs = probabilities(val_logits, space.task, temperature=temperature)
    fallback: list[str] = []
    untuned: list[str] = []
    if config.decision.tune_thresholds:
        tuning = tune_thresholds_detailed(
            space.task,
            y_val,
            val_probs,
            objective=config.decision.objective,
            beta=config.decision.beta,
            floor=config.decision.floor,
            fbr=config.decision.resolved_fbr(space.task),
        )
        thresholds = tuning.thresholds
        fallback = [space.names[c] for c in tuning.fallback if c < len(space.names)]
        untuned = [space.names[c] for c in tuning.untuned if c < len(space.names)]
    else:
        thresholds = default_thresholds(space.task, len(space.names))
    meta = {
        "task": space.task,
        "labels": space.to_dict(),
        "thresholds": np.asarray(thresholds).tolist(),
        "threshold_objective": config.decision.objective,
        "threshold_fallback": fallback,  # SCutFBR.1: best validation F below decision.fbr
        "threshold_untuned": untuned,  # no validation example: the default decision
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
            "history": trained.history,
            "phases": trained.phases,
            "seconds": round(sum(phase["seconds"] for phase in trained.phases), 1),
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
        "threshold_fallback": fallback,
        "threshold_untuned": untuned,
        "temperature": float(temperature),
        "model": {
            "base_model": meta["base_model"],
            "longtail_version": __version__,
            "loss": loss_spec,
            "sampler": config.sampler,
            "strategy": config.strategy,
            "sam": config.sam,
            "aux_loss": config.aux_loss,
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
        frozen = data.documents and config.long_documents.mode == "frozen"
        if frozen and data.encode is not None:
            # the chunk embeddings come from the same cache as training's, so a grid of variants
            # and seeds encodes each test document once, not once per cell
            y_test = classifier.labels.encode(
                test_table.labels, source=test_table.source, row_numbers=test_table.row_numbers
            )
            test_split = setup.represent(test_table.texts, y_test, test_table.extra)
            trainable.to(device)  # embedding parks the encoder on the CPU
            test_logits = predict_logits(  # main process only: no gathering
                trainable,
                test_split,
                batch_size=config.train.eval_batch_size,
                batcher=batcher,
                device=device,
            )
        else:
            y_test, test_logits = classifier.table_logits(test_table)
        test_probs = probabilities(test_logits, space.task, temperature=temperature)
        test_metrics = classifier.evaluate_probs(y_test, test_probs)
        shown = (y_test, test_probs, probabilities(test_logits, space.task))
        report.update(split="test", metrics=test_metrics)
        report["data"]["test"] = config.data.test
        report["data"]["test_rows"] = len(test_table.texts)
    else:
        shown = (y_val, val_probs, val_probs_uncalibrated)
        report.update(
            split="validation (thresholds were tuned on it: optimistic; pass --test-data for an honest estimate)",
            metrics=validation_metrics,
        )
    figures = {}
    if trained.augmented:
        report["augmentation"], figures = augmentation_section(
            trained.augmented, setup, config, space, output, device, log
        )
    write_report(report, output)
    write_html(report, space, *shown, meta, figures, output)
    tracking.final(
        report["metrics"],
        [output / name for name in ("report.json", "report.md", "report.html")],
        "test" if config.data.test else "validation",
    )
    dist.wait_for_everyone()
    return RunResult(output=output, report=report, training=result)


def _check_remedies(config: ExperimentConfig) -> None:
    """Fail on a bad strategy / wrapper / auxiliary loss / augmenter before reading any data."""
    from longtail.augment import AUGMENTERS
    from longtail.losses import build_aux_loss
    from longtail.training.sam import SAM_WRAPPERS

    build_strategy(config.strategy, epochs=config.train.epochs)
    for spec, registry in ((config.sam, SAM_WRAPPERS), (config.augment.method, AUGMENTERS)):
        name = spec.get("name") if isinstance(spec, dict) else spec
        if name not in (None, "none"):
            registry.get(str(name))
    if config.aux_loss != "none":
        build_aux_loss(config.aux_loss, task="multiclass")  # checks λ and the temperature


@dataclass
class ModelSetup:
    """The model to save, the module to train, its batcher, the splits in the form it reads,
    and ``represent(texts, y, extra)``: new rows (a phase's own data) in that same form."""

    model: Any
    trainable: Any
    batcher: Any
    train: TokenizedSplit
    validation: TokenizedSplit
    represent: Callable[[list[str], Any, Any], TokenizedSplit]


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
) -> ModelSetup:
    extra = data.train.extra

    def tokenized(texts: list[str], y: Any, features: Any) -> TokenizedSplit:
        if data.encode is None:
            raise LongtailError("this data backend cannot add rows; drop --arrow")
        return TokenizedSplit(data.encode(texts), y, features)

    if not data.documents:
        if extra is not None:
            raise LongtailError(
                "data.extra_features are joined to a document embedding: use them with "
                "long_documents.enabled=true"
            )
        model = TextClassifier(
            encoder, num_logits, pooling=config.model.pooling, dropout=config.model.dropout
        )
        return ModelSetup(
            model, model, TokenBatcher(pad_id), data.train, data.validation, tokenized
        )
    ld = config.long_documents
    num_extra = 0 if extra is None else extra.shape[1]
    model = build_document_model(encoder, num_logits, config, num_extra)
    if ld.mode == "end_to_end":
        batcher = DocumentBatcher(pad_id, max_chunks=ld.max_chunks, seed=config.train.seed)
        return ModelSetup(model, model, batcher, data.train, data.validation, tokenized)
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

    def embedded(split: TokenizedSplit, texts: list[str]) -> TokenizedSplit:
        vectors = embed_documents(
            model, split.ids, texts, cache=cache, pad_id=pad_id, device=device, log=log
        )
        model.to("cpu")
        return TokenizedSplit(vectors, split.y, split.extra)

    train = embedded(data.train, data.train_texts)
    validation = embedded(data.validation, data.validation_texts)
    batcher = EmbeddingBatcher(ld.max_chunks, config.train.seed)
    return ModelSetup(
        model, FrozenEncoderModel(model), batcher, train, validation,
        lambda texts, y, features: embedded(tokenized(texts, y, features), texts),
    )  # fmt: skip


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
