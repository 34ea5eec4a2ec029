"""Count the memory autograd keeps for the backward pass: what an activation budget spends.

Activation checkpointing (Chen et al. 2016, "Training Deep Nets with Sublinear Memory Cost",
arXiv 1604.06174) trades memory for a second forward pass. Which micro-batches must pay it depends
on how much memory their saved activations take, which depends on the encoder, the chunk length,
the dtype and the attention kernel (PyTorch's CPU attention with dropout keeps every attention
matrix; a fused kernel keeps far less). Rather than guess from the architecture,
:class:`SavedActivations` counts the tensors autograd actually saves while a block of code runs
(``torch.autograd.graph.saved_tensors_hooks``), each storage once.

Parameters are not activations: a saved parameter, or a view or dtype cast of one (autocast saves
the bf16 copy of each weight a matmul used), costs the same whatever the document length and is
left out of the count.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch.autograd.graph import saved_tensors_hooks

#: Autograd nodes that only view or cast their input: followed back to see if a saved tensor is
#: a parameter in disguise (``weight.t()`` or autocast's ``weight.to(bfloat16)``).
_VIEW_OR_CAST = frozenset(
    {
        "TBackward0",
        "ToCopyBackward0",
        "ViewBackward0",
        "UnsafeViewBackward0",
        "TransposeBackward0",
        "PermuteBackward0",
        "ExpandBackward0",
        "AliasBackward0",
    }
)


def _derived_from_a_parameter(tensor: torch.Tensor, parameters: set[int]) -> bool:
    """True when ``tensor`` is one of ``parameters`` (storage addresses) seen through views and
    casts only."""
    node = tensor.grad_fn
    for _ in range(6):
        if node is None:
            return False
        if type(node).__name__ == "AccumulateGrad":
            return node.variable.untyped_storage().data_ptr() in parameters
        inputs = [fn for fn, _ in node.next_functions if fn is not None]
        if node.name() not in _VIEW_OR_CAST or len(inputs) != 1:
            return False
        node = inputs[0]
    return False


class SavedActivations:
    """A context manager that adds up the bytes of the storages autograd saves inside it.

    One ledger may be entered several times (e.g. once per micro-batch of a training step): a
    storage counts once over all of them. :attr:`total` is every byte counted so far;
    :attr:`last` the bytes first seen in the most recent block.

    Example:
        >>> ledger = SavedActivations(model.parameters())
        >>> with ledger:
        ...     loss = model(batch).sum()
        >>> ledger.total  # bytes held until loss.backward() frees them
    """

    def __init__(self, parameters: Iterable[torch.Tensor] = ()) -> None:
        self._persistent = {p.untyped_storage().data_ptr() for p in parameters}
        self._seen: set[int] = set()
        self.total = 0
        self.last = 0
        self._hooks: saved_tensors_hooks | None = None

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        pointer = storage.data_ptr()
        if pointer in self._seen or pointer in self._persistent:
            return tensor
        self._seen.add(pointer)
        if not _derived_from_a_parameter(tensor, self._persistent):
            self.last += storage.nbytes()
        return tensor

    def __enter__(self) -> SavedActivations:
        self.last = 0
        self._hooks = saved_tensors_hooks(self._pack, lambda tensor: tensor)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._hooks is not None
        self._hooks.__exit__(*exc_info)
        self._hooks = None
        self.total += self.last
