"""Toy labels and probabilities shared by the figure tests (imported by name, like cli_helpers)."""

from __future__ import annotations

import numpy as np


def scored_toy_data(task: str, n: int = 120, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """``(y_true, probs)`` for a task: informative but imperfect probabilities."""
    rng = np.random.default_rng(1)
    k = 2 if task == "binary" else k
    if task == "multilabel":
        y = (rng.random((n, k)) < [0.5, 0.2, 0.08][:k]).astype(int)
        p = np.clip(0.6 * y + 0.4 * rng.random((n, k)), 0, 1)
        return y, p
    y = rng.choice(k, size=n, p=[0.7, 0.3] if k == 2 else [0.6, 0.3, 0.1])
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    p = np.exp(logits)
    return y, p / p.sum(axis=1, keepdims=True)


def one_vs_rest(task: str, y: np.ndarray, k: int) -> np.ndarray:
    return y.astype(bool) if task == "multilabel" else np.eye(k, dtype=bool)[y]
