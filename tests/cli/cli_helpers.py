"""Small labelled files for CLI tests, written with words the tiny BERT's vocabulary knows."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

SPAM = "free win prize cash call now claim text reply urgent award won offer mobile money".split()
HAM = "hi ok see you later home love lunch tomorrow meeting sorry thanks good night".split()
FILLER = "the a and to of in on for is it this with my your me".split()


def make_rows(n: int, spam_rate: float, seed: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        is_spam = i < round(n * spam_rate)
        vocab = SPAM if is_spam else HAM
        words = list(rng.choice(vocab, size=int(rng.integers(4, 12)))) + list(
            rng.choice(FILLER, size=3)
        )
        rng.shuffle(words)
        rows.append((" ".join(words), "spam" if is_spam else "ham"))
    order = rng.permutation(n)
    return [rows[i] for i in order]


def write_csv(path: Path, rows: list[tuple[str, str]], header=("text", "label")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def fast_train_args(tiny_model_dir: Path, output: Path) -> list[str]:
    """Flags that make the tiny model learn the toy task in a few seconds."""
    return [
        "--model", str(tiny_model_dir), "--output", str(output), "--epochs", "3",
        "--batch-size", "16", "--lr", "1e-3", "--head-lr", "1e-2", "--max-length", "32",
    ]  # fmt: skip
