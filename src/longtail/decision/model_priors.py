"""The class priors a trained single-label model's probabilities reflect (for a prior shift).

A prior shift (``decision.target_priors``, :func:`longtail.decision.logit_adjust.prior_shift`)
moves probabilities from the priors the model learned to the priors where it is used. Those are
not the training file's class shares whenever a remedy re-balanced training:

* a loss that weights class ``c`` by ``w_c`` has its minimiser at ``q(c | x) ~ w_c p(c | x)``:
  the model learns priors ``~ pi_c w_c`` (Elkan 2001, "The foundations of cost-sensitive
  learning", IJCAI; the same argument as Saerens et al. 2002);
* a sampler changes the classes the loss sees: ``pi_c`` becomes each class's share of an epoch's
  draw;
* a loss that adds offsets ``o_c`` to the logits while training and not at prediction
  (``logit_adjusted``, ``balanced_softmax``: Menon et al. 2021, Ren et al. 2020) learns logits
  whose softmax is the above times ``exp(-o_c)``; balanced softmax's ``o_c = log n_c`` gives
  balanced priors.

So the model's priors are ``~ seen_c * w_c * exp(-o_c)``. Exact for weighted cross-entropy, a
sampler and the logit-offset losses at their population minimiser; for focal and LDAM losses
(whose class weights enter the same way, but whose focusing term or margins move the posterior
further) it is the closest statement the loss allows. The last training phase decides: a
strategy's earlier phases are overwritten by it.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def implied_priors(
    task: str,
    loss_fn: Any,
    counts: np.ndarray,
    sampler: Any = None,
    sampler_labels: Any = None,
) -> np.ndarray | None:
    """``pi'`` (summing to 1) the probabilities of a single-label model trained by ``loss_fn``
    on classes with ``counts`` documents, drawn by ``sampler`` over ``sampler_labels`` (class
    indices) when there is one; ``None`` for multilabel.

    Example:
        >>> implied_priors("binary", build_loss({"name": "ce", "weights": "inverse"}, ...),
        ...                np.array([900, 100]))  # inverse weights: balanced
        array([0.5, 0.5])
    """
    if task not in ("binary", "multiclass"):
        return None
    seen = np.maximum(np.asarray(counts, dtype=np.float64), 0.5)
    if sampler is not None and sampler_labels is not None and hasattr(sampler, "indices"):
        drawn = np.asarray(sampler_labels)[sampler.indices().numpy()]
        seen = np.maximum(
            np.bincount(drawn.astype(np.int64), minlength=seen.size)[: seen.size], 0.5
        )
    # an LDAM loss with deferred re-weighting ends training re-weighted (its last epochs)
    weights = _buffer(loss_fn, "drw_weights")
    if weights is None:
        weights = _buffer(loss_fn, "class_weights")
    offsets = _buffer(loss_fn, "offsets")
    log_prior = np.log(seen)
    if weights is not None:
        log_prior = log_prior + np.log(weights)
    if offsets is not None:
        log_prior = log_prior - offsets
    prior = np.exp(log_prior - log_prior.max())
    return prior / prior.sum()


def _buffer(module: Any, name: str) -> np.ndarray | None:
    value = getattr(module, name, None)
    if value is None:
        return None
    return np.asarray(value.detach().cpu().double().numpy() if hasattr(value, "detach") else value)
