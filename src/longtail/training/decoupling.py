"""Decoupled classifier re-training: what the cRT, τ-norm and LWS phases do to the trained head.

Kang et al. 2020, "Decoupling Representation and Classifier for Long-Tailed Recognition", ICLR,
arXiv 1910.09217: learn the representation with plain (instance-balanced) sampling, then fix it
and re-balance only the classifier — re-train it from scratch with class-balanced sampling (cRT),
rescale its class vectors by their norms (τ-normalisation), or learn one scale per class (LWS).

Every function here acts on the classifier (``model.head``, the final linear layer, of a
short-text, hierarchical or frozen-encoder model alike) in place and leaves a plain ``nn.Linear``
behind, so a saved model needs nothing new to load or predict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from longtail.errors import LongtailError
from longtail.models.classifier import init_bias_from_priors


def _owner(model: nn.Module) -> nn.Module:
    """The module holding the head: the model itself, or the one a frozen-encoder wrapper holds."""
    for owner in (model, getattr(model, "model", None)):
        if isinstance(getattr(owner, "head", None), nn.Linear):
            return owner
    raise LongtailError(
        f"{type(model).__name__} has no linear head (model.head); cRT, tau_norm and lws re-train "
        "or rescale that head: use a longtail model, or another strategy"
    )


def classifier_head(model: nn.Module) -> nn.Linear:
    """The final linear layer of a longtail model (``nn.Linear``, one row per logit)."""
    return _owner(model).head


def classifier_modules(model: nn.Module) -> list[nn.Module]:
    """What cRT re-trains: the final linear layer and, for an MLP head, its hidden layer (not a
    document model's aggregator, which belongs to the representation)."""
    owner = _owner(model)
    hidden = getattr(owner, "hidden", None)
    return [m for m in (hidden, owner.head) if isinstance(m, nn.Module)]


def reset_head(model: nn.Module, *, seed: int, positive_rates: np.ndarray | None = None) -> None:
    """Re-initialise the head as a fresh model would (seeded, so a resumed run draws the same).

    For multilabel models the bias starts at each label's prior again (``positive_rates``), as
    :func:`longtail.models.classifier.init_bias_from_priors` does for a new model.
    """
    owner = _owner(model)
    with torch.random.fork_rng(devices=[]):  # the global generator is left as it was
        torch.manual_seed(seed)
        for module in classifier_modules(model):
            for layer in module.modules():
                if isinstance(layer, nn.Linear):
                    layer.reset_parameters()
    if positive_rates is not None:
        init_bias_from_priors(owner.head, positive_rates)


def tau_normalised_logits(
    logits: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, tau: float
) -> np.ndarray:
    """The logits the head gives after :func:`tau_normalise_`, from the logits it gives now.

    ``z_c = w_c·x + b_c`` becomes ``w_c·x / ‖w_c‖^τ + b_c``, so no feature is needed:
    ``(z_c − b_c) / ‖w_c‖^τ + b_c``. Used to try a grid of τ on validation at no cost.
    """
    norms = np.linalg.norm(np.asarray(weight, dtype=np.float64), axis=1)
    b = np.zeros(len(norms)) if bias is None else np.asarray(bias, dtype=np.float64)
    scaled = (np.asarray(logits, dtype=np.float64) - b) / np.power(norms, tau) + b
    return scaled.astype(np.float32)


@torch.no_grad()
def tau_normalise_(head: nn.Linear, tau: float) -> None:
    """``w_c ← w_c / ‖w_c‖^τ`` in place (Kang et al. 2020, §4, "τ-normalized classifier").

    The bias is kept as trained: τ = 0 then leaves the model exactly as it was. (Kang et al.'s
    classifier has its bias left out of the τ-normalised logits; ours learnt one beside the
    weights, and dropping it would change the model even at τ = 0.)
    """
    norms = head.weight.norm(dim=1, keepdim=True).clamp(min=1e-12)
    head.weight.div_(norms.pow(tau))


def choose_tau(
    logits: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    taus: Sequence[float],
    score: Callable[[np.ndarray], float],
) -> tuple[float, dict[float, float]]:
    """``(best τ, score per τ)`` on validation logits; ties go to the smaller τ (nearer the
    trained model)."""
    scores = {float(t): float(score(tau_normalised_logits(logits, weight, bias, t))) for t in taus}
    best = max(sorted(scores), key=lambda t: (scores[t], -t))
    return best, scores


def attach_scales(model: nn.Module) -> nn.Parameter:
    """Give the head one learnable scale per output, ``s_c · (w_c·x + b_c)``, starting at 1.

    Learnable weight scaling (LWS, Kang et al. 2020, §4): the weights and bias stay fixed and only
    the scales (``head.scale``) are trained; :func:`fold_scales` multiplies them into the weights
    afterwards. The head module itself is kept (a forward hook applies the scales), so a wrapper
    that shares it (a frozen-encoder model) and the saved model see the same head.
    """
    head = classifier_head(model)
    if getattr(head, "scale", None) is None:
        head.scale = nn.Parameter(torch.ones(head.out_features, device=head.weight.device))
        head._lws_hook = head.register_forward_hook(lambda module, _, out: out * module.scale)
    return head.scale


@torch.no_grad()
def fold_scales(model: nn.Module) -> np.ndarray:
    """``w_c ← s_c·w_c``, ``b_c ← s_c·b_c`` and the scales removed; returns them."""
    head = classifier_head(model)
    scale = getattr(head, "scale", None)
    if scale is None:
        raise LongtailError("the head has no learnt scales to fold (the lws phase did not run)")
    head.weight.mul_(scale[:, None])
    if head.bias is not None:
        head.bias.mul_(scale)
    head._lws_hook.remove()
    del head._lws_hook
    del head.scale
    return scale.detach().cpu().numpy().copy()
