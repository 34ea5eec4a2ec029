"""What the training loop carries across epochs and checkpoints: its progress and the state of
every random generator an interrupted epoch must resume from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from longtail.training.budget import EarlyStopping


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
