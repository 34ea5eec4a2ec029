"""The linear probe: a linear head on fixed encoder vectors, solved by L-BFGS along an L2 path
whose strength is chosen on validation.

Why: trained by minibatch SGD with early stopping, longtail's frozen-encoder head scored below
plain logistic regression on the same vectors on R8, R52 and 20 Newsgroups long-tailed
(docs/benchmarks.md, "Results on one page"). A linear head over fixed vectors with a
cross-entropy-type loss is a convex problem: it can be *solved*, not trained. This is how Kumar
et al. fit the probe of LP-FT ("Fine-Tuning can Distort Pretrained Features and Underperform
Out-of-Distribution", ICLR 2022, arXiv 2202.10054: L-BFGS logistic regression, L2 strength
chosen on validation), and how scikit-learn's ``LogisticRegression`` fits the anchor.

How:

* the loss is longtail's configured loss (class weights from document counts, focal, logit
  adjustment, LDAM, ...), evaluated on the whole training set at once (in slices of
  :data:`SLICE_ROWS` rows, gradients summed, so memory stays bounded), plus ``λ/2 · ‖W‖²``
  (the bias is not penalised);
* the vectors are standardised (training mean and standard deviation per dimension) for the
  solve, so one λ grid suits every encoder; the head saved is the ordinary ``nn.Linear`` over
  raw vectors, with the standardisation folded in (``W' = W / σ``, ``b' = b − W' μ``);
* λ runs over :data:`L2_GRID` from strong to weak, each solve warm-started from the previous one
  (a regularisation path, Friedman, Hastie & Tibshirani 2010, J. Stat. Softw. 33(1)); each head
  is scored on validation with the early-stopping score (the decision that ships), and the best
  is kept — ties go to the stronger penalty. The path stops early once
  :data:`PATH_PATIENCE` weaker penalties in a row have not beaten the best.
* L-BFGS (Liu & Nocedal 1989) with a strong-Wolfe line search, at most ``max_iter`` iterations
  per λ. Deterministic: no sampling, no dropout, so a resumed run refits the same head.

A loss with a schedule over epochs (LDAM with deferred re-weighting) is solved in its final,
re-weighted state. Samplers, SAM and auxiliary losses act on minibatches and are refused by the
phase that calls this (:mod:`longtail.training.phases`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from longtail.errors import LongtailError
from longtail.logs import info

#: λ of ``loss + λ/2 ‖W‖²`` on standardised vectors, strong to weak. In scikit-learn's terms
#: (sum of losses + ‖W‖² / 2C) λ = 1 / (C · rows) on the vectors it is given: C = 1 on 10,000
#: raw MiniLM vectors (per-dimension standard deviation ~0.05-0.1) is λ ≈ 1e-2 to 4e-2 here. On
#: 20 Newsgroups long-tailed validation chose the strongest value of a grid that began at 0.1,
#: so the grid starts at 1.
L2_GRID = (1.0, 3e-1, 1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6)
#: Weaker penalties tried after the best one before the path stops.
PATH_PATIENCE = 3
#: Rows per slice of the full-batch loss (logits of ``SLICE_ROWS × classes`` at a time).
SLICE_ROWS = 65_536
#: L-BFGS iterations per λ (each one a pass over the training vectors, plus line-search passes).
MAX_ITER = 300


@dataclass
class ProbeFit:
    """What :func:`fit_linear_probe` chose and how it got there."""

    l2: float
    val_score: float
    seconds: float
    path: list[dict[str, Any]] = field(default_factory=list)

    @property
    def iterations(self) -> int:
        """L-BFGS iterations over the whole path."""
        return sum(point["iterations"] for point in self.path)

    def line(self) -> str:
        tried = ", ".join(f"{p['l2']:g}: {p['val_score']:.4f}" for p in self.path)
        return (
            f"linear probe (L-BFGS): l2 {self.l2:g} chosen on validation, val score "
            f"{self.val_score:.4f}, {self.iterations} iterations in {self.seconds:.1f} s "
            f"(l2: val score — {tried})"
        )


def _final_epoch_state(loss_fn: nn.Module) -> None:
    """Put a loss with an epoch schedule (LDAM-DRW) in its last epoch's state."""
    if hasattr(loss_fn, "set_epoch"):
        loss_fn.set_epoch(999, 1_000)  # any drw_start < 1 has switched re-weighting on


def _targets(y: np.ndarray) -> torch.Tensor:
    y = np.asarray(y)
    return torch.as_tensor(y, dtype=torch.long if y.ndim == 1 else torch.float32)


def fit_linear_probe(
    head: nn.Linear,
    loss_fn: nn.Module,
    features: torch.Tensor,
    y: np.ndarray,
    val_features: torch.Tensor,
    score: Callable[[np.ndarray], float],
    *,
    l2_grid: tuple[float, ...] = L2_GRID,
    max_iter: int = MAX_ITER,
    log: Callable[[str], None] = info,
) -> ProbeFit:
    """Solve ``head`` (in place) on ``features`` ``(N, H)`` with labels ``y`` along ``l2_grid``;
    keep the λ whose head ``score`` rates best on ``val_features``.

    ``head`` must read the vectors directly (``head.in_features == H``); its bias is the starting
    point (a multilabel head starts at the label priors), its weight starts at zero.
    """
    if features.ndim != 2 or features.shape[1] != head.in_features:
        raise LongtailError(
            f"the linear probe needs (rows, {head.in_features}) vectors, got {tuple(features.shape)}"
        )
    if len(features) == 0:
        raise LongtailError("the linear probe has no training rows")
    if not l2_grid or any(not (v >= 0 and math.isfinite(v)) for v in l2_grid):
        raise LongtailError(f"the probe's l2 grid must hold finite values >= 0, got {l2_grid!r}")
    started = time.perf_counter()
    x = features.detach().float().cpu()
    mean = x.mean(dim=0)
    std = x.std(dim=0, unbiased=False).clamp_min(1e-6)
    z = (x - mean) / std
    z_val = (val_features.detach().float().cpu() - mean) / std
    target = _targets(y)
    loss_fn = loss_fn.cpu()
    _final_epoch_state(loss_fn)

    weight = torch.zeros_like(head.weight, device="cpu", dtype=torch.float32, requires_grad=True)
    bias = head.bias.detach().float().cpu().clone().requires_grad_(True)
    rows = len(z)

    def objective(l2: float) -> Callable[[], torch.Tensor]:
        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            total = 0.0
            for start in range(0, rows, SLICE_ROWS):
                part = slice(start, start + SLICE_ROWS)
                logits = z[part] @ weight.T + bias
                loss = loss_fn(logits, target[part]) * (len(logits) / rows)
                loss.backward()
                total += loss.detach().item()
            penalty = 0.5 * l2 * (weight * weight).sum()
            penalty.backward()
            value = total + penalty.detach().item()
            if not math.isfinite(value):
                raise LongtailError(
                    f"the linear probe's loss became {value} (l2 {l2:g}); check the loss's "
                    "class weights (loss.max_weight) or use --strategy vanilla"
                )
            return torch.tensor(value)

        return closure

    best: tuple[float, float, torch.Tensor, torch.Tensor] | None = None
    path: list[dict[str, Any]] = []
    since_best = 0
    for l2 in sorted(l2_grid, reverse=True):
        optimizer = torch.optim.LBFGS(
            [weight, bias], lr=1.0, max_iter=max_iter, history_size=20,
            tolerance_grad=1e-6, tolerance_change=1e-10, line_search_fn="strong_wolfe",
        )  # fmt: skip
        loss = float(optimizer.step(objective(l2)))
        steps = int(optimizer.state[weight].get("n_iter", 0))
        with torch.no_grad():
            val_score = float(score((z_val @ weight.T + bias).numpy()))
        path.append(
            {"l2": l2, "val_score": val_score, "train_objective": loss, "iterations": steps}
        )
        if best is None or val_score > best[1]:
            best = (l2, val_score, weight.detach().clone(), bias.detach().clone())
            since_best = 0
        else:
            since_best += 1
            if since_best >= PATH_PATIENCE:
                break
    assert best is not None
    l2, val_score, w, b = best
    with torch.no_grad():
        folded = w / std
        head.weight.copy_(folded.to(head.weight))
        head.bias.copy_((b - folded @ mean).to(head.bias))
    fit = ProbeFit(l2, val_score, time.perf_counter() - started, path)
    log(fit.line())
    return fit
