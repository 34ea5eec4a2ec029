"""One optimizer step's work for a batch: forward, loss (with an auxiliary contrastive loss when
one is set) and backward, or SAM's two passes (:mod:`longtail.training.sam`)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class StepFunction:
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
