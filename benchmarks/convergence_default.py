"""Training to convergence (the default) against fixed epochs, fine-tuning MiniLM on two real sets.

    python benchmarks/convergence_default.py --seeds 2          # about an hour or more on 2 CPU cores
    python benchmarks/convergence_default.py --rows 300 --seeds 1 --epochs-long 2 \
        --set train.min_steps=10 train.max_epochs=3                                  # a smoke run

On CPU cores shared with other jobs, ``OMP_NUM_THREADS=1`` avoids oversubscribing them (one
MiniLM step of 32 questions took 3.0 s with one thread against 9.3 s with two, under a load of 10).

Fine-tunes the offline all-MiniLM-L6-v2 (max length 64) with ``longtail train`` (in-process, the
default loss and decision) on

- **TREC questions** (``longtail.datasets.load_dataset("trec")``, 6 classes from 86 to 1,245
  questions): the cut of ``benchmarks/frozen_head.py`` — one permutation (seed 0), 2,400 training,
  600 validation, the remaining 2,382 test rows;
- **UCI SMS spam** (``load_dataset("sms_spam")``, 4,837 messages, 13 % spam): 2,400 / 600 /
  1,837, stratified (every split holds the file's spam rate). The file holds 4,522 distinct
  texts and the split does not remove repeats, so some messages (mostly spam templates) sit in
  training and test alike; every configuration sees the same split;

in three configurations:

- ``convergence``: the new default — no ``--epochs``: early stopping after ``train.patience`` (3)
  epochs without a better validation score (the tuned decision's macro-F1), not before
  ``train.min_steps`` (500), at most ``train.max_epochs`` (100), best weights kept;
- ``epochs3``: ``--epochs 3``, the former default (patience 2, best of the 3 epochs kept);
- ``epochs20``: ``--epochs 20 train.patience=null``: a long fixed run without early stopping (the
  best epoch's weights are still kept);
- ``auto``: ``--strategy auto``, the linear probe and then fine-tuning to convergence from it,
  the probe kept unless a fine-tuned epoch beats it on validation;
- ``probe``: ``--strategy linear_probe``, the probe alone (the encoder never trained).

``auto`` and ``probe`` run with ``decision.tuning_check=none``, the decision the other three had
when they were measured (before the cross-fitted check existed), so that only the training
differs.

It prints, per dataset × configuration, test macro-F1 and MCC as mean ± SEM over the seeds, the
optimizer steps, the best epoch and why training stopped (per seed) and the wall seconds. Each
run's result is appended to ``results.jsonl`` in ``--workdir`` as soon as it finishes; a rerun
with the same ``--workdir`` skips the runs already there.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
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
SIZES = (2400, 600)  # training, validation; the rest is the test split
CONFIGS = {
    "convergence": (),
    "epochs3": ("--epochs", "3"),
    "epochs20": ("--epochs", "20", "train.patience=null"),
    # the decision as in the runs above, from before the cross-fitted check: like for like
    "auto": ("--strategy", "auto", "decision.tuning_check=none"),
    "probe": ("--strategy", "linear_probe", "decision.tuning_check=none"),
}


#: What runs without ``--configs``: the comparison of training lengths; ``auto`` and ``probe``
#: are asked for by name.
DEFAULT_CONFIGS = ("convergence", "epochs3", "epochs20")


def _rows(table, order: np.ndarray) -> tuple[list[str], list[str]]:
    return [table.texts[i] for i in order], [table.labels[i] for i in order]


def _capped(order: np.ndarray, labels: list[str], fraction: float) -> np.ndarray:
    """The first ``fraction`` of each class's rows in ``order`` (at least one), in that order."""
    if fraction >= 1:
        return order
    keep, seen = [], {}
    wanted = {c: max(1, round(fraction * n)) for c, n in _counts(order, labels).items()}
    for i in order:
        label = labels[i]
        seen[label] = seen.get(label, 0) + 1
        if seen[label] <= wanted[label]:
            keep.append(i)
    return np.asarray(keep)


def _counts(order: np.ndarray, labels: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for i in order:
        counts[labels[i]] = counts.get(labels[i], 0) + 1
    return counts


def split_dataset(name: str, rows: int | None = None, seed: int = 0) -> dict[str, tuple]:
    """``{"train", "validation", "test"}`` → ``(texts, labels)``.

    TREC: one permutation cut 2,400 / 600 / rest (the rows of ``benchmarks/frozen_head.py``).
    SMS spam: the same sizes, stratified: each class's rows permuted and dealt to the three splits
    in proportion. ``rows``: about this many rows in all, a stratified part of each split.
    """
    from longtail.datasets import load_dataset

    table = load_dataset(name)
    rng = np.random.default_rng(seed)
    n_train, n_val = SIZES
    if name == "trec":
        order = rng.permutation(len(table.texts))
        parts = {
            "train": order[:n_train],
            "validation": order[n_train : n_train + n_val],
            "test": order[n_train + n_val :],
        }
    else:
        parts = {"train": [], "validation": [], "test": []}
        labels = np.asarray(table.labels)
        for label in sorted(set(table.labels)):
            members = rng.permutation(np.flatnonzero(labels == label))
            share = len(members) / len(labels)
            a, b = round(n_train * share), round((n_train + n_val) * share)
            parts["train"] += list(members[:a])
            parts["validation"] += list(members[a:b])
            parts["test"] += list(members[b:])
        parts = {k: rng.permutation(np.asarray(v)) for k, v in parts.items()}
    if rows:
        fraction = rows / len(table.texts)
        parts = {k: _capped(v, table.labels, fraction) for k, v in parts.items()}
    return {k: _rows(table, v) for k, v in parts.items()}


def _train(files: dict[str, Path], output: Path, seed: int, *extra: str) -> dict:
    from longtail.cli import main

    argv = ["train", "--data", str(files["train"]), "--validation-data", str(files["validation"]),
            "--test-data", str(files["test"]), "--max-length", str(MAX_LENGTH), "--seed",
            str(seed), "--output", str(output), "--overwrite", "--lexical", "off",
            *extra]  # fmt: skip
    log = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(log):
        if main(argv) != 0:
            raise RuntimeError(f"longtail train failed: {' '.join(argv)}\n{log.getvalue()[-3000:]}")
    seconds = time.perf_counter() - started
    report = json.loads((output / "report.json").read_text(encoding="utf-8"))
    training = report["training"]
    return {
        "f1_macro": report["metrics"]["f1_macro"],
        "mcc": report["metrics"]["mcc"],
        "steps": training["steps"],
        "epochs": training["history"][-1]["epoch"] if training["history"] else 0,
        "best_epoch": training["best_epoch"],
        "stop": training["stop"],
        "stopped": training["stopped"],
        "seconds": seconds,
    }


def _table(results: list[dict], datasets: list[str], configs: list[str]) -> list[str]:
    lines = [
        "| dataset | configuration | seeds | test macro-F1 | test MCC | steps | epochs run "
        "| best epoch | stopped by | wall s (mean) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for dataset in datasets:
        for config in configs:
            runs = sorted(
                (r for r in results if r["dataset"] == dataset and r["config"] == config),
                key=lambda r: r["seed"],
            )
            if not runs:
                continue
            lines.append(
                f"| {dataset} | {config} | {len(runs)} "
                f"| {_mean_sem([r['f1_macro'] for r in runs])} "
                f"| {_mean_sem([r['mcc'] for r in runs])} "
                f"| {', '.join(str(r['steps']) for r in runs)} "
                f"| {', '.join(str(r['epochs']) for r in runs)} "
                f"| {', '.join(str(r['best_epoch']) for r in runs)} "
                f"| {', '.join(r['stop'] or '?' for r in runs)} "
                f"| {statistics.mean(r['seconds'] for r in runs):.0f} |"
            )
    return lines


def _order(seeds: int, long_seeds: int, datasets: list[str], configs: list[str]):
    """``(seed, dataset, config)`` in the order they run: per seed, the short configurations of
    every dataset before the long fixed run, so a cut-short run still holds whole comparisons."""
    for seed in range(seeds):
        for long in (False, True):
            for dataset in datasets:
                for config in configs:
                    if (config == "epochs20") != long or (long and seed >= long_seeds):
                        continue
                    yield seed, dataset, config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--long-seeds", type=int, help="seeds of the 20-epoch run (default: --seeds)"
    )
    parser.add_argument("--rows", type=int, help="about this many rows per dataset (smoke runs)")
    parser.add_argument("--datasets", nargs="+", default=["trec", "sms_spam"])
    parser.add_argument(
        "--configs", nargs="+", default=list(DEFAULT_CONFIGS), choices=list(CONFIGS)
    )
    parser.add_argument(
        "--epochs-long", type=int, default=20, help="epochs of the long fixed run (default 20)"
    )
    parser.add_argument("--workdir", help="keep the runs and results.jsonl here (default: temp)")
    parser.add_argument("--model", help="encoder (default: the offline all-MiniLM-L6-v2)")
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE",
        help="overrides for every run (smoke runs: train.min_steps=10 train.max_epochs=3)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    configs = dict(CONFIGS)
    configs["epochs20"] = ("--epochs", str(args.epochs_long), "train.patience=null")
    model = args.model or _offline_minilm()
    long_seeds = args.seeds if args.long_seeds is None else args.long_seeds
    with tempfile.TemporaryDirectory(prefix="convergence-default-") as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        store = work / "results.jsonl"
        results = (
            [json.loads(line) for line in store.read_text().splitlines()] if store.is_file() else []
        )
        files = {}
        for dataset in args.datasets:
            split = split_dataset(dataset, args.rows)
            files[dataset] = {
                k: write_split(work / f"{dataset}-{k}.csv", *v) for k, v in split.items()
            }
            sizes = " / ".join(str(len(v[0])) for v in split.values())
            print(f"{dataset}: {sizes} training / validation / test rows", flush=True)
        for seed, dataset, config in _order(args.seeds, long_seeds, args.datasets, args.configs):
            key = {"dataset": dataset, "config": config, "seed": seed, "rows": args.rows,
                   "set": args.set}  # fmt: skip
            if any(all(r.get(k) == v for k, v in key.items()) for r in results):
                continue
            output = work / f"{dataset}-{config}-seed{seed}"
            extra = ("--model", model, *configs[config], *args.set)
            run = key | _train(files[dataset], output, seed, *extra)
            results.append(run)
            with store.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(run) + "\n")
            print(f"{dataset} {config} seed {seed}: macro-F1 {run['f1_macro']:.4f}, MCC "
                  f"{run['mcc']:.4f}, {run['seconds']:.0f} s; {run['stopped']}",
                  flush=True)  # fmt: skip
    results = [r for r in results if (r.get("rows"), r.get("set")) == (args.rows, args.set)]
    print(f"\nall-MiniLM-L6-v2 fine-tuned, max length {MAX_LENGTH}, default loss and decision; "
          f"test split; {args.seeds} seed(s) ({long_seeds} for epochs20)")  # fmt: skip
    print("\n".join(_table(results, args.datasets, args.configs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
