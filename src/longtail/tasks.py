"""Task kinds, the label array conventions every module shares, and the per-task dispatcher.

* ``binary`` and ``multiclass``: labels ``y`` are ``int64`` of shape ``(n,)`` with values in
  ``[0, C)``; the model emits ``C`` logits (``C = 2`` for binary) and probabilities are a softmax.
  For binary tasks class index 1 is the *positive* class (the minority unless the user says
  otherwise), and decisions threshold ``P(class 1)``.
* ``multilabel``: labels ``y`` are a multi-hot ``float32`` array of shape ``(n, C)``; the model
  emits ``C`` logits and probabilities are element-wise sigmoids.

A function whose work differs by task is written once per task (``binary_<name>``,
``multiclass_<name>``, ``multilabel_<name>``, or ``single_label_<name>`` where binary and
multiclass share one) and reached through a :class:`ByTask` table, not an if/elif on the task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from longtail.errors import LongtailError

Task = Literal["binary", "multiclass", "multilabel"]
TASKS: tuple[str, ...] = ("binary", "multiclass", "multilabel")

T = TypeVar("T")


def check_task(task: str) -> str:
    """``task`` itself when it is one of :data:`TASKS`; else a :class:`LongtailError` naming them."""
    if task not in TASKS:
        raise LongtailError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
    return task


@dataclass(frozen=True)
class ByTask(Generic[T]):
    """One value per task, looked up by the task's name: the table behind a task dispatcher.

    torchmetrics keeps ``binary_accuracy``, ``multiclass_accuracy`` and ``multilabel_accuracy``
    behind one ``accuracy(task=...)``; here the public function keeps its name and signature and
    its body is one look-up, so what a task does is read in one place, its own function. The
    three fields are required, so a table cannot leave a task out, and ``table[task]`` fails on
    an unknown task with the list of valid ones (:func:`check_task`).

    Example:
        >>> _PROBABILITIES = ByTask(
        ...     binary=binary_probabilities,
        ...     multiclass=multiclass_probabilities,
        ...     multilabel=multilabel_probabilities,
        ... )
        >>> def probabilities(logits, task):
        ...     return _PROBABILITIES[task](logits)
    """

    binary: T
    multiclass: T
    multilabel: T

    def __getitem__(self, task: str) -> T:
        return getattr(self, check_task(task))


def is_multilabel(task: str) -> bool:
    return task == "multilabel"
