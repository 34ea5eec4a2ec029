"""One training run, left to right: read → labels → split → tokenize → fit → calibrate → tune → save → report."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from accelerate.utils import set_seed

from longtail.config import (
    DataConfig,
    ExperimentConfig,
    LongDocumentConfig,
    dump_config,
    is_off,
)
from longtail.data import LabelSpace
from longtail.data.prepare import (
    PreparedData,
    enforce_char_cap,
    frozen_documents,
    prepare_data,
    read_labelled,
)
from longtail.data.tokenized import TokenizedSplit
from longtail.decision import apply_thresholds
from longtail.decision.fit import DecisionInputs, check_decision_data, fit_decision
from longtail.decision.logit_adjust import target_shares
from longtail.defaults import default_early_stopping_metric, default_loss
from longtail.errors import LongtailError
from longtail.evaluation import evaluate_predictions, write_report
from longtail.evaluation.anchor import ANCHOR_NAME, anchor_warning, fit_anchor, tfidf_anchor
from longtail.evaluation.convergence import still_improving_note
from longtail.evaluation.model_card import MODEL_CARD, model_card
from longtail.fingerprint import result_settings, training_settings, without_added_defaults
from longtail.io_utils import atomic_write_text
from longtail.logs import info
from longtail.losses import resolved_loss_spec
from longtail.losses.base import with_named_weights
from longtail.models import load_encoder, load_tokenizer, resolve_model_name, save_model_dir
from longtail.models.inference import predict_logits
from longtail.models.lexical import fuse_logits, fused_priors, gather_texts
from longtail.registry import spec_name
from longtail.training.accelerator import distributed_state, gathered_logits, silent
from longtail.training.augmentation import Augmentation, AugmentedRows, describe_augmentation
from longtail.training.cascade import CascadeFeatures, first_stage_meta
from longtail.training.frozen import check_frozen
from longtail.training.lexical import choose_fusion, fusion_line
from longtail.training.loop import TrainingResult
from longtail.training.model_setup import (
    ModelSetup,
    build_model_setup,
    document_settings,
    model_window,
)
from longtail.training.output import CHECKPOINT_DIR, check_paths_outside, open_run_directory
from longtail.training.phases import PhaseInputs, run_phases
from longtail.training.remedies import build_remedies
from longtail.training.reporting import augmentation_section, write_html
from longtail.training.run_checks import (
    check_input_files,
    check_remedies,
    strategy_for_data,
)
from longtail.training.run_record import describe_task, model_meta, report_header
from longtail.training.scoring import validation_scorer
from longtail.training.strategies import build_strategy
from longtail.training.tracking import RunTracking, relocate_mlflow_store

if TYPE_CHECKING:
    from longtail.predictor import Classifier


@dataclass
class RunResult:
    output: Path  # the run directory (while training: the partial one it is written into)
    report: dict[str, Any]
    training: TrainingResult
    #: what another ``decision.*`` is fitted and scored on (``None`` on non-main ranks)
    decision_inputs: DecisionInputs | None = None


def _fingerprint(
    config: ExperimentConfig, task: str, n_train: int, n_val: int, y_sum: float
) -> str:
    """What a checkpoint was trained on; ``--resume`` refuses a checkpoint with another one.

    The settings that decide what is learned, with the training and validation files by their
    content (:func:`longtail.fingerprint.result_settings`; the test file is read after training),
    and the rows after splitting and augmentation. An edited row refuses the checkpoint; moving the
    data or the output directory, or switching on gradient checkpointing, does not. ``decision.*``
    counts while thresholds are tuned, since early stopping scores the tuned decision
    (:func:`longtail.fingerprint.training_settings`); with untuned thresholds a run may resume
    with another calibration. An option added by an upgrade does not count while it holds the
    value that does what longtail did before (:data:`longtail.fingerprint.ADDED_OPTIONS`): a run
    interrupted before the upgrade resumes after it.
    """
    settings = without_added_defaults(
        training_settings(
            result_settings(config, data_keys=("data.train", "data.validation"), task=task)
        )
    )
    payload = json.dumps({"settings": settings, "rows": [n_train, n_val, y_sum]}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def run_training(
    config: ExperimentConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    log: Callable[[str], None] = info,
) -> RunResult:
    """Train, calibrate, tune thresholds, save the model directory and write the report."""
    if not config.data.train:
        raise LongtailError("no training data: pass --data FILE (or data.train in the config)")
    if not config.output:
        raise LongtailError("no output directory: pass --output DIR (or output: in the config)")
    check_remedies(config)
    check_input_files(config)
    check_paths_outside(
        Path(config.output),
        {
            "--data": config.data.train, "--validation-data": config.data.validation,
            "--test-data": config.data.test, "--cache-dir": config.long_documents.cache_dir,
            "--augment-cache-dir": config.augment.cache_dir, "--track-dir": config.track_dir,
            "--arrow-cache-dir": config.data.arrow_cache_dir,
            "--extra-features-from": config.data.extra_features_from,
        },
    )  # fmt: skip
    if config.data.extra_features_from:
        first_stage_meta(config.data.extra_features_from)  # one line now, not after the folds
    dist = distributed_state()
    if config.data.extra_features_from and dist.num_processes > 1:
        raise LongtailError(
            "--extra-features-from trains its first-stage folds in one process; run it without "
            "accelerate launch (or build the cascade features first, then train on several GPUs)"
        )
    if (
        not dist.is_main_process
    ):  # data-parallel: every rank trains, only the main one speaks and writes
        log = silent
    with open_run_directory(
        config.output, resume=resume, overwrite=overwrite, is_main=dist.is_main_process
    ) as run_dir:
        dist.wait_for_everyone()
        work = run_dir.work
        tracking = RunTracking(
            config.track, directory=Path(config.track_dir) if config.track_dir else work / "tracking",
            run_name=run_dir.output.name, is_main=dist.is_main_process,
        )  # fmt: skip
        try:
            result = _run(config, work, dist, tracking, resume=resume, log=log)
        finally:
            tracking.finish()
        run_dir.commit()  # the old run (if any) stays whole until this rename
        if not config.track_dir and dist.is_main_process:  # a no-op without longtail's store
            relocate_mlflow_store(run_dir.output / "tracking", work, run_dir.output)
        dist.wait_for_everyone()
    result.output = run_dir.output
    return result


def _run(
    config: ExperimentConfig,
    work: Path,
    dist: Any,
    tracking: RunTracking,
    *,
    resume: bool,
    log: Callable[[str], None],
) -> RunResult:
    """The run, writing into ``work`` (the partial directory, swapped in by the caller)."""
    tracking.parameters(dump_config(config))
    set_seed(config.train.seed)  # the new head's initialisation, then each epoch reseeds itself
    model_name = resolve_model_name(config.model.name)
    tokenizer = load_tokenizer(model_name, trust_remote_code=config.model.trust_remote_code)
    encoder = load_encoder(model_name, trust_remote_code=config.model.trust_remote_code)
    window = model_window(tokenizer, encoder)
    max_length = min(config.model.max_length, window)
    added = CascadeFeatures(config, work, log=log) if config.data.extra_features_from else None
    data = prepare_data(
        config.data, config.long_documents, tokenizer, max_length, window, added,
        seed=config.train.seed, frozen_chunks=frozen_documents(config.model, config.long_documents),
    )  # fmt: skip
    space = data.space
    # class weights by label name ({"spam": 5}) become one float per class, checked now
    with_named_weights(config.loss, space.names)
    test_table = _read_test(
        config.data, config.long_documents, space, data.documents, added
    )  # a bad file fails now
    n_train, n_val = len(data.train.y), len(data.validation.y)
    log(describe_task(space, data.counts, n_train, n_val, data.validation_source))
    config = strategy_for_data(config, space.task, data.documents, log)
    check_decision_data(config.decision, space.task, data.validation.y, len(space.names))
    if config.decision.target_priors is not None:  # a task or label it cannot serve: now
        target_shares(space.task, space.names, config.decision.target_priors)
    if data.notice:
        log(data.notice)
    if config.model.gradient_checkpointing:
        encoder.gradient_checkpointing_enable()
    augmentation = Augmentation(config.augment, config.train.seed, work)
    # the anchor fits on the training rows as read, before augmentation adds any
    anchor_rows = (data.texts()[0], data.train.y)
    augmented = _augment(data, augmentation, dist, log)
    counts, y_train, y_val = data.counts, data.train.y, data.validation.y
    num_logits = 2 if space.task == "binary" else len(space.names)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    set_seed(config.train.seed)
    if config.model.encoder == "frozen":
        check_frozen(config, documents=data.documents)  # before anything is encoded
    setup = build_model_setup(
        config.model, config.long_documents, encoder, num_logits, data, seed=config.train.seed,
        solved_head=config.strategy == "linear_probe", model_name=model_name, pad_id=pad_id,
        window=window, log=log,
    )  # fmt: skip
    model, trainable, batcher = setup.model, setup.trainable, setup.batcher
    if space.task == "multilabel":
        model.init_head_bias_from_priors(counts / max(len(y_train), 1))

    loss_spec = config.loss if config.loss is not None else default_loss(space.task)
    loss_spec = with_named_weights(loss_spec, space.names)
    remedies = build_remedies(config, loss_spec, augmentation, task=space.task, counts=counts)
    phases = build_strategy(config.strategy, epochs=config.train.epochs)
    metric = config.train.early_stopping_metric or default_early_stopping_metric(space.task)
    log(
        f"model: {model_name}  max_length {max_length}  loss {spec_name(loss_spec)}  "
        f"sampler {spec_name(config.sampler)}  strategy {spec_name(config.strategy)}"
        + (f"  sam {spec_name(config.sam)}" if not is_off(config.sam) else "")
        + (f"  aux {spec_name(config.aux_loss)}" if not is_off(config.aux_loss) else "")
    )
    if data.documents and config.long_documents.mode == "frozen" and len(phases) > 1:
        log("long_documents.mode=frozen: the encoder stays frozen in every phase")

    trained = run_phases(
        phases,
        PhaseInputs(
            trainable=trainable, batcher=batcher, train=setup.train, validation=setup.validation,
            train_texts=data.train_texts, space=space, counts=counts,
            sampler_labels=data.sampler_labels, sampler_task=data.sampler_task,
            score=validation_scorer(
                space.task, space, y_val, metric, config.decision, counts, len(y_train)
            ),
            represent=setup.represent, checkpoint_root=work / CHECKPOINT_DIR,
            fingerprint=_fingerprint(
                config, space.task, len(y_train), len(y_val), float(counts.sum())
            ),
            on_epoch=tracking.epoch if tracking else None,
            on_step=tracking.train_step if tracking else None,
        ),
        config.train,
        remedies,
        resume=resume,
        log=log,
    )  # fmt: skip
    if augmented is not None:
        trained.augmented.insert(0, ("augment", augmented))

    device = next(trainable.parameters()).device
    val_logits = gathered_logits(
        trainable, setup.validation, batch_size=config.train.eval_batch_size, batcher=batcher,
        device=device,
    )  # fmt: skip
    anchor_fit, branch, fusion = None, None, None
    lexical = config.lexical
    if lexical != "off":  # the anchor's model, fitted once: fused, then reported
        anchor_fit = fit_anchor(space.task, space.names, *anchor_rows, seed=config.train.seed)
        branch = anchor_fit[0]
        if branch is None:
            log(f"lexical branch: not fitted ({anchor_fit[1]['skipped']})")
        else:
            score = validation_scorer(space.task, space, y_val, metric, config.decision, counts,
                                      len(y_train))  # fmt: skip
            branch_val = branch.logits(gather_texts(data.texts()[1]))
            fusion = choose_fusion(lexical, space.task, val_logits, branch_val, score, metric)
            log(fusion_line(fusion, metric))
            if fusion.weight:
                val_logits = fuse_logits(space.task, val_logits, branch_val, fusion.weight)
                if space.task != "multilabel":  # what a target-prior shift starts from
                    own = trained.model_priors
                    trained.model_priors = fused_priors(
                        own if own is not None else counts / counts.sum(), fusion.weight
                    )
    decision = fit_decision(
        space.task, val_logits, y_val, space.names, config.decision, counts, len(y_train),
        model_priors=trained.model_priors,
    )  # fmt: skip
    meta = model_meta(
        config, space, counts, decision, trained, model_name=model_name, max_length=max_length,
        long_documents=document_settings(
            config.long_documents, window,
            frozen=frozen_documents(config.model, config.long_documents),
        ) if data.documents else None,
        early_stopping_metric=metric,
    )  # fmt: skip
    if fusion is not None:
        meta["lexical"] = fusion.meta(branch)
    shipped_branch = branch if fusion is not None and fusion.weight else None
    log(f"training: {meta['training']['stopped']}")
    if meta["training"]["still_improving"]:
        log(f"note: {still_improving_note(meta['training']['still_improving'])}")
    if not dist.is_main_process:
        dist.wait_for_everyone()  # the main process writes the model directory and the report
        return RunResult(output=work, report={}, training=trained.final)
    save_model_dir(work, model, tokenizer, meta, lexical=shipped_branch)

    val_probs = decision.probabilities(space.task, val_logits)
    val_pred = apply_thresholds(space.task, val_probs, decision.thresholds)
    report = report_header(
        meta, config, resolved_loss_spec(loss_spec), train_rows=len(y_train),
        validation_rows=len(y_val),
        validation_metrics=evaluate_predictions(space.task, y_val, val_probs, val_pred, space.names),
    )  # fmt: skip
    if config.data.test:
        from longtail.predictor import Classifier

        classifier = Classifier(model, tokenizer, meta, lexical=shipped_branch)
        y_test, test_logits, test_rows = _test_logits(
            config.train.eval_batch_size, test_table, data, setup, device, classifier
        )
        test_probs = decision.probabilities(space.task, test_logits)
        test_metrics = classifier.evaluate_probs(y_test, test_probs)
        shown = (y_test, test_probs, decision.uncalibrated(space.task, test_logits))
        report.update(split="test", metrics=test_metrics)
        report["data"].update(test=config.data.test, test_rows=test_rows)
        scored = (test_logits, np.asarray(y_test))
    else:
        scored = (None, None)
        shown = (y_val, val_probs, decision.uncalibrated(space.task, val_logits))
        report.update(
            split="validation (thresholds were tuned on it: optimistic; pass --test-data for an honest estimate)",
            metrics=report["validation_metrics"],
        )
    if config.anchor == "tfidf":
        test_rows_anchor = (test_table.texts, y_test) if config.data.test else None
        report["anchor"] = _anchor(space, anchor_rows, (data.texts()[1], y_val), test_rows_anchor,
                                   config.train.seed, log, anchor_fit)  # fmt: skip
        if line := anchor_warning(report):
            log(f"note: {line}")
    figures = {}
    if trained.augmented:
        report["augmentation"], figures = augmentation_section(
            trained.augmented, setup, config.augment, config.train, space, work, device, log
        )
    write_report(report, work)
    atomic_write_text(work / MODEL_CARD, model_card(meta, report))  # the hub's page
    write_html(report, space, *shown, meta, figures, work)
    tracking.final(
        report["metrics"],
        [work / name for name in ("report.json", "report.md", "report.html")],
        "test" if config.data.test else "validation",
    )
    dist.wait_for_everyone()
    inputs = DecisionInputs(val_logits, np.asarray(y_val), *scored)
    return RunResult(output=work, report=report, training=trained.final, decision_inputs=inputs)


def _augment(
    data: PreparedData, augmentation: Augmentation, dist: Any, log: Callable[[str], None]
) -> AugmentedRows | None:
    """Grow the minority classes of the training split (``augment.*``) in ``data``, in place."""
    if not augmentation.on:
        return None
    train, space = data.train, data.space
    with dist.main_process_first():  # one process fills the generation cache, the rest read it
        augmented = augmentation.grow_minority(
            data.train_texts, np.asarray(train.y), train.extra, task=space.task,
            label_names=space.names,
        )  # fmt: skip
    log(describe_augmentation(augmented.stats, "augmentation of the training split"))
    new_texts = augmented.texts[augmented.num_original :]
    data.train = TokenizedSplit(
        list(train.ids) + list(data.encode(new_texts)), augmented.y, augmented.extra
    )
    data.train_texts = augmented.texts
    data.counts = space.counts(augmented.y)
    data.sampler_labels = augmented.y
    return augmented


def _anchor(
    space: Any,
    train: tuple[Sequence[str], Any],
    validation: tuple[Sequence[str], Any],
    test: tuple[Sequence[str], Any] | None,
    seed: int,
    log: Callable[[str], None],
    fitted: tuple[Any, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The TF-IDF + logistic regression anchor (:mod:`longtail.evaluation.anchor`) on the run's
    own rows (``fitted``: its model, where the lexical branch fitted it), or why it was not."""
    texts, y_train = train
    splits = {"validation": validation} | ({"test": test} if test is not None else {})
    found = tfidf_anchor(space.task, space.names, texts, y_train, splits, seed=seed, fitted=fitted)
    if found.get("skipped"):
        log(f"anchor: not fitted ({found['skipped']})")
        return found
    log(f"anchor: {ANCHOR_NAME} on {found['train_rows']} training rows in {found['seconds']} s: "
        + ", ".join(f"{split} macro-F1 {m['f1_macro']:.4f}"
                    for split, m in found["metrics"].items()))  # fmt: skip
    return found


def _read_test(
    data: DataConfig,
    long_documents: LongDocumentConfig,
    space: LabelSpace,
    documents: bool,
    added: Any = None,
) -> Any:
    """The test table, read and its labels checked against training's before the first step;
    long documents cut (or refused) as the training file and ``predict`` cut them, so a cut
    test document has the same embedding-cache key in training and in ``predict``."""
    if not data.test:
        return None
    table = read_labelled(data.test, data, added)
    space.encode(table.labels, source=table.source, row_numbers=table.row_numbers)
    return enforce_char_cap(table, long_documents) if documents else table


def _test_logits(
    eval_batch_size: int,
    table: Any,
    data: PreparedData,
    setup: ModelSetup,
    device: torch.device,
    classifier: Classifier,
) -> tuple[np.ndarray, np.ndarray, int]:
    """``(y_test, uncalibrated logits, rows)`` of the test ``table``, scored by the trained model."""
    if not (setup.cached and data.encode is not None):  # frozen encoder: rows from the cache
        y_test, logits = classifier.table_logits(table)
        return y_test, logits, len(table.texts)
    # the chunk embeddings come from the same cache as training's, so a grid of variants and
    # seeds encodes each test document once, not once per cell
    y_test = classifier.labels.encode(
        table.labels, source=table.source, row_numbers=table.row_numbers
    )
    split = setup.represent(table.texts, y_test, table.extra)
    setup.trainable.to(device)  # embedding parks the encoder on the CPU
    logits = predict_logits(  # main process only: no gathering
        setup.trainable, split, batch_size=eval_batch_size, batcher=setup.batcher, device=device,
    )  # fmt: skip
    return y_test, classifier.fuse(table.texts, logits), len(table.texts)
