"""A strategy phase with ``solver="lbfgs"``: the linear probe checked, solved and checkpointed.

Short texts give the probe one pooled encoder vector per row; long documents on the frozen path
give it their cached chunk embeddings pooled by a weight-free aggregator (:func:`document_vectors`).

:func:`check_probe` refuses, before any encoder pass, what the probe cannot honour (an MLP head,
a sampler, SAM, an auxiliary loss); :func:`solve_probe_phase` solves the head
(:func:`longtail.training.probe.fit_linear_probe`), turns its L2 path into the phase's history
(one entry per L2 value, L-BFGS iterations as steps) and saves the solved head beside the
phase's checkpoints, so that ``--resume`` restores it without embedding the rows again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save
from torch import nn

from longtail.config import is_off
from longtail.data.tokenized import TokenizedSplit
from longtail.errors import LongtailError
from longtail.io_utils import atomic_write_bytes, atomic_write_json
from longtail.models.batchers import EmbeddingBatcher
from longtail.models.inference import predict_logits
from longtail.registry import spec_name
from longtail.training.decoupling import classifier_head, classifier_modules
from longtail.training.frozen import FeatureBatcher
from longtail.training.loop import TrainingResult
from longtail.training.phase import Phase
from longtail.training.probe import L2_GRID, fit_linear_probe

#: A solved probe's head and what it chose, in the phase's checkpoint directory.
PROBE_WEIGHTS, PROBE_STATE = "probe.safetensors", "probe.json"
#: Documents pooled per batch when cached chunk embeddings become the probe's vectors.
DOCUMENTS_PER_BATCH = 64


def check_probe(phase: Phase, model: nn.Module, sampler: Any, *, minibatch_remedies: bool) -> None:
    """Refuse, before any embedding, what the L-BFGS probe cannot honour: an MLP head, a
    ``sampler`` that is not off, and remedies that act on minibatches (SAM, an auxiliary loss)."""
    refuse = None
    if len(classifier_modules(model)) > 1:
        refuse = "an MLP head is not one linear layer; use --head linear"
    elif not is_off(sampler):
        refuse = (
            f"it fits the whole training set at once, so sampler {spec_name(sampler)} has "
            "nothing to draw; re-balance through the loss (e.g. loss.weights) instead"
        )
    elif minibatch_remedies:
        refuse = "SAM and auxiliary losses act on minibatches; drop --sam / --aux-loss"
    if refuse:
        raise LongtailError(f"phase {phase.name!r} (linear probe, solver lbfgs): {refuse}")


def _solved_probe(checkpoint_dir: Path, fingerprint: str, model: nn.Module) -> dict | None:
    """The saved probe of this phase (head loaded into ``model``), or ``None``."""
    state_file = checkpoint_dir / PROBE_STATE
    if not state_file.is_file() or not (checkpoint_dir / PROBE_WEIGHTS).is_file():
        return None
    state = json.loads(state_file.read_text(encoding="utf-8"))
    if state.get("fingerprint") != fingerprint:
        raise LongtailError(
            f"{checkpoint_dir}: this probe was solved for other data or settings; "
            "start again without --resume, or pick another output directory"
        )
    head = classifier_head(model)
    with torch.no_grad():
        for name, tensor in load_file(str(checkpoint_dir / PROBE_WEIGHTS)).items():
            getattr(head, name).copy_(tensor)
    return state


def parameter_free(aggregator: nn.Module) -> bool:
    """Whether a document aggregator has no weights (``mean``, ``max``, ``mean_max``): then a
    frozen encoder gives each document one fixed vector, and the head over it can be solved."""
    return not any(True for _ in aggregator.parameters())


def document_vectors(
    module: nn.Module, batcher: Any, splits: tuple[TokenizedSplit, ...], phase_name: str
) -> tuple[TokenizedSplit, ...]:
    """One vector per document for the probe: the cached chunk embeddings pooled by a
    weight-free aggregator, with the document's extra features appended — exactly the input of
    the head (:meth:`~longtail.models.hierarchical.HierarchicalClassifier.from_chunk_embeddings`
    in eval mode, where dropout is the identity)."""
    why = None
    if not isinstance(batcher, EmbeddingBatcher):
        why = (
            "a document model trained end to end reads token chunks; the probe needs the frozen "
            "chunk-embedding path (--long-mode frozen)"
        )
    elif not parameter_free(module.aggregator):
        why = (
            "the aggregator has weights of its own to train; use --aggregator mean, max or "
            "mean_max, or --strategy vanilla"
        )
    if why:
        raise LongtailError(f"phase {phase_name!r} (linear probe, solver lbfgs): {why}")

    def pooled(rows: TokenizedSplit) -> TokenizedSplit:
        vectors = predict_logits(
            module, rows, batch_size=DOCUMENTS_PER_BATCH, batcher=batcher,
            device=torch.device("cpu"), return_embedding=True,
        )  # fmt: skip
        if rows.extra is not None:
            vectors = np.concatenate([vectors, np.asarray(rows.extra, dtype=np.float32)], axis=1)
        return TokenizedSplit(torch.from_numpy(vectors), rows.y)

    return tuple(pooled(rows) for rows in splits)


def solve_probe_phase(
    model: nn.Module,
    phase: Phase,
    loss_fn: nn.Module,
    score: Callable[[np.ndarray], float],
    checkpoint_dir: Path,
    fingerprint: str,
    *,
    resume: bool,
    log: Callable[[str], None],
    embed: Callable[[], tuple[nn.Module, Any, TokenizedSplit, TokenizedSplit, float]],
) -> tuple[TrainingResult, float]:
    """Solve the linear head on the frozen encoder's vectors (:mod:`longtail.training.probe`);
    ``(result, seconds spent embedding)``. The history has one entry per L2 strength tried.

    ``embed`` gives ``(module, batcher, train, validation, seconds)`` with one vector per row;
    it is not called when ``resume`` finds the probe solved already."""
    started = time.perf_counter()
    if resume and (state := _solved_probe(checkpoint_dir, fingerprint, model)) is not None:
        log(f"phase {phase.name}: the solved probe is restored (l2 {state['l2']:g})")
        return TrainingResult(**state["result"]), 0.0
    module, batcher, train, validation, embedding = embed()
    if not isinstance(batcher, FeatureBatcher):
        started_pooling = time.perf_counter()
        train, validation = document_vectors(module, batcher, (train, validation), phase.name)
        embedding += time.perf_counter() - started_pooling

    def vectors(rows: TokenizedSplit) -> torch.Tensor:
        ids = rows.ids
        return ids if torch.is_tensor(ids) else torch.stack(list(ids))

    head = classifier_head(module)
    fit = fit_linear_probe(
        head, loss_fn, vectors(train), np.asarray(train.y), vectors(validation), score,
        log=log,
    )  # fmt: skip
    tried = [point["l2"] for point in fit.path]
    if len(tried) > 1 and fit.l2 == min(tried) == min(L2_GRID):
        log(f"note: the weakest l2 tried ({fit.l2:g}) scored best; the probe may want less penalty")
    elif len(tried) > 1 and fit.l2 == max(tried):
        log(f"note: the strongest l2 tried ({fit.l2:g}) scored best; the probe may want more")
    history, step = [], 0
    for epoch, point in enumerate(fit.path, start=1):
        step += point["iterations"]
        history.append({
            "epoch": epoch, "step": step, "train_loss": point["train_objective"],
            "val_score": point["val_score"], "l2": point["l2"],
        })  # fmt: skip
    result = TrainingResult(
        best_epoch=1 + [p["l2"] for p in fit.path].index(fit.l2), best_score=fit.val_score,
        history=history, seconds=time.perf_counter() - started - embedding, steps=step,
        stop="solved",
    )  # fmt: skip
    staging = {k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(checkpoint_dir / PROBE_WEIGHTS, save(staging))
    atomic_write_json(
        checkpoint_dir / PROBE_STATE,
        {"fingerprint": fingerprint, "l2": fit.l2, "result": result.__dict__},
    )
    return result, embedding
