"""The training loop: epochs of length-grouped batches, validation, early stopping, checkpoints.

Device-agnostic through ``accelerate`` (``prepare`` / ``backward`` / ``autocast``), and resumable:
all randomness of an epoch (data order, sampler draws, dropout) is derived from ``(seed, epoch)``,
so a run killed after epoch k and resumed gives the same result as one that never stopped. With
``train.save_steps`` a checkpoint is also taken every that many optimizer steps inside an epoch
(the batches done, the epoch's loss so far and the generators' states), and a resumed run skips
the batches it already trained on and goes on with the same random draws: a crash costs at most
``save_steps`` steps, not an epoch of a multi-million-row set.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from longtail.config import TrainConfig
from longtail.data.tokenized import TokenizedSplit
from longtail.errors import LongtailError
from longtail.logs import info
from longtail.models.batchers import TokenBatcher, to_device
from longtail.sampling.base import epoch_seed
from longtail.sampling.length_grouped import LengthGroupedBatchSampler
from longtail.training.accelerator import gathered_logits, make_accelerator, silent
from longtail.training.budget import EarlyStopping, TrainingBudget, training_budget
from longtail.training.checkpoint import (
    has_checkpoint,
    read_random_state,
    resume_checkpoint,
    save_checkpoint,
    train_settings,
)
from longtail.training.optim import build_optimizer, linear_schedule
from longtail.training.progress import LoopProgress, capture_random_state, restore_random_state
from longtail.training.step import StepFunction


@dataclass
class TrainingResult:
    best_epoch: int
    best_score: float
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped_early: bool = False
    seconds: float = 0.0
    steps: int = 0
    stop: str | None = None  # why it stopped: one of longtail.training.budget.STOP_REASONS


def _to_target(y: np.ndarray, rows: list[int]) -> torch.Tensor:
    values = y[rows]
    return torch.as_tensor(values, dtype=torch.long if values.ndim == 1 else torch.float32)


def _finite_sum(running: torch.Tensor, seen: int, epoch: int, since: int, step: int) -> float:
    """The epoch's training loss so far, summed over rows; a one-line error if it is not finite."""
    total = float(running)
    mean = total / max(seen, 1)
    if not math.isfinite(mean):
        where = f"step {step}" if step - since <= 1 else f"steps {since + 1}-{step}"
        raise LongtailError(
            f"the loss became {mean} at epoch {epoch}, {where}; lower train.lr, clip class "
            "weights (loss.max_weight) or turn off mixed precision"
        )
    return total


@dataclass
class _Run:
    """The objects one call of :func:`train_model` builds once and every epoch uses."""

    model: nn.Module  # wrapped by ``accelerator.prepare``
    loss_fn: nn.Module
    config: TrainConfig
    accelerator: Any
    batches: LengthGroupedBatchSampler
    batcher: Any
    budget: TrainingBudget
    optimizer: torch.optim.Optimizer
    scheduler: Any
    step: StepFunction
    checkpoint_dir: Path | None = None
    fingerprint: str = ""
    on_step: Callable[[dict[str, Any]], None] | None = None

    @property
    def unwrapped(self) -> nn.Module:
        return self.accelerator.unwrap_model(self.model)

    def save(self, progress: LoopProgress) -> None:
        """A checkpoint of ``progress`` (the main process writes it; every process waits)."""
        if self.checkpoint_dir is not None and self.accelerator.is_main_process:
            save_checkpoint(
                self.checkpoint_dir, model=self.unwrapped, optimizer=self.optimizer,
                scheduler=self.scheduler,
                state=progress.checkpoint_state() | {
                    "fingerprint": self.fingerprint, "train_config": train_settings(self.config),
                },
                best_weights=progress.best_weights, random_state=progress.random_state,
            )  # fmt: skip
        self.accelerator.wait_for_everyone()

    def weights(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().clone() for k, v in self.unwrapped.state_dict().items()}

    def validate(self, validation: TokenizedSplit, score: Callable[[np.ndarray], float]) -> float:
        """The early-stopping score of the current weights on the whole validation split."""
        logits = gathered_logits(
            self.unwrapped, validation, batch_size=self.config.eval_batch_size,
            batcher=self.batcher, device=self.accelerator.device,
        )  # fmt: skip
        return float(score(logits))

    def train_epoch(self, epoch: int, train: TokenizedSplit, progress: LoopProgress) -> float:
        """One epoch of optimizer steps (fewer if the step budget runs out); the mean training
        loss per row over every process. A resumed epoch skips the batches it already did."""
        accelerator, config, budget = self.accelerator, self.config, self.budget
        torch.manual_seed(epoch_seed(config.seed, epoch))  # dropout noise, reproducible on resume
        if hasattr(self.loss_fn, "set_epoch"):
            self.loss_fn.set_epoch(epoch - 1, budget.epochs)
        self.batches.set_epoch(epoch)
        self.batcher.set_epoch(epoch)
        done_before = progress.epoch_batches
        if progress.random_state is not None:
            restore_random_state(progress.random_state, self.batcher)
        self.model.train()
        # the running loss stays on the device: reading it back is a GPU sync, done every
        # train.logging_steps steps (progress bar, trackers, the finite-loss check) and at the
        # end, not per step. A resumed epoch starts from the saved sums (every process's, held
        # by the main one).
        carried = accelerator.is_main_process and done_before
        running = torch.tensor(
            progress.epoch_loss if carried else 0.0, dtype=torch.float64, device=accelerator.device
        )
        seen = progress.epoch_rows if carried else 0
        read_at, last_read = progress.step, (float(running), seen)
        bar = tqdm(
            total=len(self.batches), desc=f"epoch {budget.epoch_label(epoch)}", unit="batch",
            leave=False, disable=None if accelerator.is_main_process else True,
        )  # fmt: skip
        bar.update(done_before)
        for batch, rows in enumerate(self.batches, start=1):
            if batch <= done_before:
                continue  # trained on before the checkpoint this run resumed from
            inputs = to_device(self.batcher(train, rows, training=True), accelerator.device)
            target = _to_target(train.y, rows).to(accelerator.device)
            stepped = False
            with accelerator.accumulate(self.model), accelerator.autocast():
                loss = self.step(inputs, target)
                if accelerator.sync_gradients:
                    if config.max_grad_norm:
                        accelerator.clip_grad_norm_(self.model.parameters(), config.max_grad_norm)
                    self.optimizer.step()
                    self.scheduler.step()
                    self.optimizer.zero_grad(set_to_none=True)
                    progress.step += 1
                    stepped = True
            running += loss.detach().double() * len(rows)
            seen += len(rows)
            bar.update(1)
            done = progress.step >= budget.total_steps
            last = done or batch == len(self.batches)
            if (stepped and progress.step % config.logging_steps == 0) or last:
                total = _finite_sum(running, seen, epoch, read_at, progress.step)
                bar.set_postfix(loss=f"{total / max(seen, 1):.4f}", refresh=False)
                self._log_step(progress.step, total - last_read[0], seen - last_read[1])
                read_at, last_read = progress.step, (total, seen)
            if (
                stepped and config.save_steps and self.checkpoint_dir is not None
                and progress.step % config.save_steps == 0 and not last
            ):  # fmt: skip
                self._save_inside(progress, batch, running, seen)
            if done:
                break
        bar.close()
        loss_sum, rows = self._epoch_totals(running, seen)
        return loss_sum / max(rows, 1.0)

    def _epoch_totals(self, running: torch.Tensor, seen: int) -> tuple[float, float]:
        """The loss summed over rows and the rows, over every process (a collective call)."""
        device = self.accelerator.device
        totals = self.accelerator.reduce(
            torch.stack([running, torch.tensor(float(seen), dtype=torch.float64, device=device)]),
            reduction="sum",
        )
        return float(totals[0]), float(totals[1])

    def _log_step(self, step: int, loss_sum: float, rows: int) -> None:
        """The training loss since the last read (this process's rows) and the learning rate."""
        if self.on_step is not None and rows and self.accelerator.is_main_process:
            lr = self.scheduler.get_last_lr()[0]
            self.on_step({"step": step, "train_loss": loss_sum / rows, "lr": float(lr)})

    def _save_inside(self, progress: LoopProgress, batch: int, running: torch.Tensor, seen: int):
        """A checkpoint after ``batch`` batches of the current epoch."""
        loss_sum, rows = self._epoch_totals(running, seen)
        progress.epoch_batches, progress.epoch_loss, progress.epoch_rows = (
            batch,
            loss_sum,
            int(rows),
        )
        progress.random_state = capture_random_state(self.batcher)
        self.save(progress)


def _build_run(
    model: nn.Module,
    loss_fn: nn.Module,
    train: TokenizedSplit,
    config: TrainConfig,
    *,
    batcher: Any,
    sampler: Any,
    sam: Any,
    aux_loss: nn.Module | None,
    checkpoint_dir: Path | None,
    fingerprint: str,
    on_step: Callable[[dict[str, Any]], None] | None,
) -> _Run:
    """The accelerator, batches, budget, optimizer and schedule of one :func:`train_model`."""
    if sam is not None and config.grad_accum != 1:
        raise LongtailError(
            "sam needs train.grad_accum=1 (each step already takes two or more passes); "
            "lower train.batch_size instead"
        )
    if not any(p.requires_grad for p in model.parameters()):
        raise LongtailError("nothing to train: every parameter of the model is frozen")
    accelerator = make_accelerator(config)
    batches = LengthGroupedBatchSampler(
        train.lengths, config.batch_size, sampler=sampler, seed=config.seed,
        group_by_length=config.group_by_length, num_replicas=accelerator.num_processes,
        rank=accelerator.process_index,
    )  # fmt: skip
    budget = training_budget(config, math.ceil(len(batches) / config.grad_accum))
    budget.check_loss(loss_fn)
    optimizer = build_optimizer(
        model, lr=config.lr, head_lr=config.head_lr, layer_decay=config.layer_decay,
        weight_decay=config.weight_decay,
    )  # fmt: skip
    scheduler = linear_schedule(optimizer, budget.total_steps, warmup_steps=budget.warmup_steps)
    model, optimizer = accelerator.prepare(model, optimizer)
    if config.compile:  # training steps only: validation and checkpoints use the plain module
        model = torch.compile(model)
    loss_fn = loss_fn.to(accelerator.device)
    step = StepFunction(model, loss_fn, accelerator, sam=sam, aux_loss=aux_loss)
    return _Run(model, loss_fn, config, accelerator, batches, batcher, budget, optimizer,
                scheduler, step, checkpoint_dir, fingerprint, on_step)  # fmt: skip


def _starting_progress(
    run: _Run,
    validation: TokenizedSplit,
    score: Callable[[np.ndarray], float],
    *,
    checkpoint_dir: Path | None,
    resume: bool,
    fingerprint: str,
    keep_start: bool,
    log: Callable[[str], None],
) -> LoopProgress:
    """Fresh, resumed from ``checkpoint_dir``, or (``keep_start``) with the starting weights
    scored as epoch 0."""
    progress = LoopProgress(EarlyStopping(run.budget))
    if resume and checkpoint_dir is not None and has_checkpoint(checkpoint_dir):
        saved, progress.best_weights = resume_checkpoint(
            checkpoint_dir, fingerprint=fingerprint, settings=train_settings(run.config),
            model=run.unwrapped, optimizer=run.optimizer, scheduler=run.scheduler,
        )  # fmt: skip
        progress.epoch, progress.step = saved.epoch, saved.step
        progress.history = [entry.model_dump() for entry in saved.history]
        stopping = progress.stopping
        stopping.best_score, stopping.best_epoch = saved.best_score, saved.best_epoch
        stopping.bad_epochs, stopping.stopped = saved.bad_epochs, saved.stopped_early
        if saved.epoch_batches:
            progress.epoch_batches, progress.epoch_rows = saved.epoch_batches, saved.epoch_rows
            progress.epoch_loss = saved.epoch_loss
            progress.random_state = read_random_state(checkpoint_dir)
            log(
                f"resuming in epoch {progress.epoch + 1} after batch {saved.epoch_batches} "
                f"(step {progress.step})"
            )
        else:
            log(f"resuming after epoch {progress.epoch} (step {progress.step})")
    elif keep_start:
        progress.stopping.best_score = run.validate(validation, score)
        progress.best_weights = run.weights()
        log(
            f"start weights: val score {progress.stopping.best_score:.4f} (epoch 0, kept unless "
            "an epoch beats it)"
        )
    return progress


def train_model(
    model: nn.Module,
    loss_fn: nn.Module,
    train: TokenizedSplit,
    validation: TokenizedSplit,
    config: TrainConfig,
    *,
    pad_id: int = 0,
    batcher: Any = None,
    score: Callable[[np.ndarray], float],
    sampler: Any = None,
    sam: Any = None,
    aux_loss: nn.Module | None = None,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    fingerprint: str = "",
    log: Callable[[str], None] = info,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    on_step: Callable[[dict[str, Any]], None] | None = None,
    keep_start: bool = False,
) -> TrainingResult:
    """Fine-tune ``model`` in place and leave it holding the best validation weights.

    Only parameters with ``requires_grad`` are optimised, so a caller freezes what a phase
    keeps fixed (see :mod:`longtail.training.strategies`) before calling. How long it trains
    (fixed epochs, or to convergence) and the schedule: :mod:`longtail.training.budget`.

    Args:
        batcher: turns rows into model inputs (default: padded token ids with ``pad_id``).
        score: maps validation logits to the early-stopping score (higher is better).
        sampler: an imbalance sampler over training rows (``None``: shuffle).
        sam: a :class:`~longtail.training.sam.SharpnessAwareMinimization` (``None``: plain steps).
        aux_loss: an auxiliary loss on the model's embeddings, added with its ``weight`` λ
            (:mod:`longtail.losses.contrastive`).
        checkpoint_dir: where each epoch's checkpoint goes, and every ``train.save_steps``
            steps' (``None``: no checkpoints).
        resume: continue from the checkpoint in ``checkpoint_dir``.
        fingerprint: identifies data + config; a checkpoint from another fingerprint is refused.
        on_epoch: called with each epoch's history entry (e.g. to log it to a tracker).
        on_step: called every ``train.logging_steps`` optimizer steps (and at an epoch's end)
            with ``{"step", "train_loss", "lr"}``: the mean loss per row since the last call
            (the main process's rows) and the learning rate.
        keep_start: score the starting weights on validation as epoch 0; they are the best
            weights until an epoch beats them (``best_epoch`` 0 when none does).
    """
    started = time.perf_counter()
    run = _build_run(
        model, loss_fn, train, config, batcher=batcher or TokenBatcher(pad_id), sampler=sampler,
        sam=sam, aux_loss=aux_loss, checkpoint_dir=checkpoint_dir, fingerprint=fingerprint,
        on_step=on_step,
    )  # fmt: skip
    if not run.accelerator.is_main_process:
        log = silent
    progress = _starting_progress(
        run, validation, score, checkpoint_dir=checkpoint_dir, resume=resume,
        fingerprint=fingerprint, keep_start=keep_start, log=log,
    )  # fmt: skip
    budget, stopping = run.budget, progress.stopping
    for epoch in range(progress.epoch + 1, budget.epochs + 1):
        if progress.step >= budget.total_steps or stopping.stopped:
            break
        train_loss = run.train_epoch(epoch, train, progress)
        progress.end_epoch()
        epoch_score = run.validate(validation, score)
        entry = {"epoch": epoch, "step": progress.step, "train_loss": train_loss,
                 "val_score": epoch_score}  # fmt: skip
        progress.history.append(entry)
        if on_epoch is not None:
            on_epoch(entry)
        improved = stopping.update(epoch, epoch_score)
        if improved:
            progress.best_weights = run.weights()
        log(
            f"epoch {budget.epoch_label(epoch)}  train loss {train_loss:.4f}  "
            f"val score {epoch_score:.4f}{'  (best)' if improved else ''}"
        )
        progress.epoch = epoch
        if stopping.check(progress.step):
            log(f"early stopping after {progress.step} steps: {stopping.note()}")
        run.save(progress)

    unwrapped = run.unwrapped
    if progress.best_weights is not None:
        unwrapped.load_state_dict(copy.deepcopy(progress.best_weights))
    unwrapped.to("cpu")
    return TrainingResult(
        best_epoch=stopping.best_epoch, best_score=float(stopping.best_score),
        history=progress.history, stopped_early=stopping.stopped,
        seconds=time.perf_counter() - started, steps=progress.step,
        stop=stopping.reason(progress.step),
    )  # fmt: skip
