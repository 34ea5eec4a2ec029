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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from longtail.config import TrainConfig
from longtail.data.tokenized import TokenizedSplit, as_split
from longtail.errors import LongtailError
from longtail.logs import info
from longtail.models.batchers import TokenBatcher, to_device
from longtail.models.inference import predict_logits
from longtail.sampling.base import epoch_seed
from longtail.sampling.length_grouped import LengthGroupedBatchSampler
from longtail.training.accelerator import distributed_state, make_accelerator, silent
from longtail.training.budget import EarlyStopping, TrainingBudget, training_budget
from longtail.training.checkpoint import (
    has_checkpoint,
    read_random_state,
    resume_checkpoint,
    save_checkpoint,
    train_settings,
)
from longtail.training.optim import build_optimizer, linear_schedule


@dataclass
class TrainingResult:
    best_epoch: int
    best_score: float
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped_early: bool = False
    seconds: float = 0.0
    steps: int = 0
    stop: str | None = None  # why it stopped: one of longtail.training.budget.STOP_REASONS


def gathered_logits(
    model: nn.Module,
    data: TokenizedSplit | Sequence,
    *,
    batch_size: int,
    device: torch.device,
    pad_id: int = 0,
    batcher: Any = None,
) -> np.ndarray:
    """Logits for every row; under data parallelism each rank predicts a shard and all gather.

    Every rank ends with the full, identical array, so early stopping, calibration and
    thresholds are decided on the whole validation set and agree across ranks.
    """
    split = as_split(data)
    options = {"batch_size": batch_size, "device": device, "pad_id": pad_id, "batcher": batcher}
    state = distributed_state()
    if state.num_processes == 1:
        return predict_logits(model, split, **options)
    from accelerate.utils import gather_object

    rows = list(range(state.process_index, len(split.ids), state.num_processes))
    extra = None if split.extra is None else np.asarray(split.extra)[rows]
    shard = predict_logits(
        model, TokenizedSplit([split.ids[i] for i in rows], None, extra), **options
    )
    pieces = gather_object([(rows, shard)])
    width = max(piece[1].shape[1] for piece in pieces if len(piece[0]))
    out = np.zeros((len(split.ids), width), dtype=np.float32)
    for piece_rows, piece in pieces:
        if piece_rows:
            out[piece_rows] = piece
    return out


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


class _StepFunction:
    """Forward + loss + backward for one batch: plain, with an auxiliary loss, and/or with SAM.

    Returns the (detached) batch loss; gradients are left in ``.grad`` for the optimizer.
    """

    def __init__(
        self, model: nn.Module, loss_fn: nn.Module, accelerator: Any, *, sam: Any, aux_loss: Any
    ) -> None:
        self.model, self.loss_fn, self.accelerator = model, loss_fn, accelerator
        self.sam = sam
        active = aux_loss is not None and aux_loss.weight > 0
        self.aux = aux_loss.to(accelerator.device) if active else None

    def _forward(self, inputs: dict[str, Any]) -> tuple[torch.Tensor, Any, Any]:
        if self.aux is None:
            return self.model(**inputs), None, None
        logits, first = self.model(**inputs, return_embedding=True)
        second = None
        if getattr(self.aux, "needs_second_view", False):  # a second dropout mask (SimCSE)
            _, second = self.model(**inputs, return_embedding=True)
        return logits, first, second

    def _loss(self, outputs: tuple, target: torch.Tensor, rows: torch.Tensor | None = None):
        logits, first, second = outputs
        if rows is not None:
            logits, target = logits[rows], target[rows]
            first = None if first is None else first[rows]
            second = None if second is None else second[rows]
        loss = self.loss_fn(logits.float(), target)
        if self.aux is not None:
            aux = self.aux(first.float(), None if second is None else second.float(), target)
            loss = loss + self.aux.weight * aux
        return loss

    def __call__(self, inputs: dict[str, Any], target: torch.Tensor) -> torch.Tensor:
        if self.sam is None:
            loss = self._loss(self._forward(inputs), target)
            self.accelerator.backward(loss)
            return loss.detach()
        return self.sam.step(
            [p for p in self.model.parameters() if p.requires_grad],
            lambda: self._forward(inputs),
            lambda outputs, rows: self._loss(outputs, target, rows),
            target,
            backward=self.accelerator.backward,
            no_sync=lambda: self.accelerator.no_sync(self.model),
            every_level=self.accelerator.num_processes > 1,
        )


@dataclass
class LoopProgress:
    """What the loop carries from epoch to epoch, and what each checkpoint saves.

    ``epoch`` counts finished epochs. Inside the next one, a checkpoint (``train.save_steps``)
    also records ``epoch_batches`` done, their loss summed over rows (``epoch_loss``, every
    process) and ``epoch_rows``; ``random_state`` is where the generators stood then.
    """

    stopping: EarlyStopping
    epoch: int = 0
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_weights: dict[str, torch.Tensor] | None = None
    epoch_batches: int = 0
    epoch_loss: float = 0.0
    epoch_rows: int = 0
    random_state: dict[str, torch.Tensor] | None = None

    def checkpoint_state(self) -> dict[str, Any]:
        """The loop's part of ``state.json`` (:class:`~longtail.training.checkpoint.LoopState`)."""
        stopping = self.stopping
        return {
            "epoch": self.epoch, "step": self.step, "best_score": stopping.best_score,
            "best_epoch": stopping.best_epoch, "bad_epochs": stopping.bad_epochs,
            "stopped_early": stopping.stopped, "history": self.history,
            "epoch_batches": self.epoch_batches, "epoch_loss": self.epoch_loss,
            "epoch_rows": self.epoch_rows,
        }  # fmt: skip

    def end_epoch(self) -> None:
        self.epoch_batches, self.epoch_loss, self.epoch_rows = 0, 0.0, 0
        self.random_state = None


def capture_random_state(batcher: Any) -> dict[str, torch.Tensor]:
    """The generators the rest of an epoch draws from: PyTorch's (dropout), each GPU's, the
    batcher's (chunk subsets). Row order needs none: it is redrawn from ``(seed, epoch)``."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state |= {f"cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())}
    if hasattr(batcher, "random_state"):
        state |= {f"batcher.{k}": v for k, v in batcher.random_state().items()}
    return state


def restore_random_state(state: dict[str, torch.Tensor], batcher: Any) -> None:
    """Put the generators back where :func:`capture_random_state` found them."""
    torch.set_rng_state(state["torch"])
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            if f"cuda.{index}" in state:
                torch.cuda.set_rng_state(state[f"cuda.{index}"], index)
    if hasattr(batcher, "restore_random_state"):
        prefix = "batcher."
        batcher.restore_random_state(
            {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        )


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
    step: _StepFunction
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
    step = _StepFunction(model, loss_fn, accelerator, sam=sam, aux_loss=aux_loss)
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
