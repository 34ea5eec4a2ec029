"""Task kinds and the label array conventions every module shares.

* ``binary`` and ``multiclass``: labels ``y`` are ``int64`` of shape ``(n,)`` with values in
  ``[0, C)``; the model emits ``C`` logits (``C = 2`` for binary) and probabilities are a softmax.
  For binary tasks class index 1 is the *positive* class (the minority unless the user says
  otherwise), and decisions threshold ``P(class 1)``.
* ``multilabel``: labels ``y`` are a multi-hot ``float32`` array of shape ``(n, C)``; the model
  emits ``C`` logits and probabilities are element-wise sigmoids.
"""

from __future__ import annotations

from typing import Literal

Task = Literal["binary", "multiclass", "multilabel"]
TASKS: tuple[str, ...] = ("binary", "multiclass", "multilabel")


def is_multilabel(task: str) -> bool:
    return task == "multilabel"
