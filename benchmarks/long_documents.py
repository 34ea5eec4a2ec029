"""Long documents on a frozen encoder: the default head, the solved probe, and the anchors.

    python benchmarks/long_documents.py --seeds 5          # Gutenberg novels, 8 chunks each
    python benchmarks/long_documents.py --setup friends_multilabel --workdir runs/long_documents_friends \
        --cache runs/long_documents_friends/cache --configs attention_sgd probe_mean_max probe_mean

``--setup friends_multilabel`` (Friends episodes, 31 side-character labels) has no test split:
it is cut once, 80/20, by iterative stratification with seed 0, and its anchors are one-vs-rest
logistic regressions scored by longtail's own multilabel metrics.

The rule this answers is fixed in docs/benchmarks.md ("The frozen long-document head"). Every
configuration runs ``longtail train --long-mode frozen`` itself (in this process, through
``longtail.cli.main``) on the full Gutenberg training and test files
(``benchmarks/reproduce_papers.py``'s ``gutenberg`` setup), with the same encoding budget
(``--max-chunks``, chunks spread evenly over each document) and one shared embedding cache, so
the first run encodes and every later run reads:

* ``default``: what ``--long-mode frozen`` gives; for a multiclass task the chunk embeddings
  pooled by ``mean_max`` and the head solved by L-BFGS (the default since the first run of this
  script, when it was ``probe_mean_max``);
* ``attention_sgd``: the attention aggregator and a linear head trained by SGD to early stopping
  (``--aggregator attention``; the default before);
* ``probe_mean``: mean pooling and the solved head (``--aggregator mean --strategy linear_probe``);
* ``default_int8``: the default, its chunks encoded under ONNX Runtime with int8 weights
  (``--runtime onnx-int8``; its own cache entries, so its first run encodes again and its
  chunks/s are printed beside torch's).

Seeds change the validation split and the head's start; the test file is fixed. Two anchors on
the same rows, fitted on the whole training file: TF-IDF (word 1-2 grams, sublinear tf) +
logistic regression with ``class_weight="balanced"`` on the full text, and the same logistic
regression on the mean of each document's cached chunk embeddings (the chunks the runs read).
Prints one line per run, then per configuration test macro-F1 and MCC (mean ± SEM over seeds),
the L-BFGS iterations or SGD steps, why training stopped, and seconds; the first run's seconds
include encoding every chunk, and the chunks/s it measured are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import encoder_or_offline, mean_sem  # noqa: E402

#: Configuration name → extra ``longtail train`` flags on top of ``--long-mode frozen``.
CONFIGS: dict[str, list[str]] = {
    "default": [],  # for a multiclass task: mean_max pooling, the head solved
    "attention_sgd": ["--aggregator", "attention"],  # the default before 2026-12-06
    "probe_mean": ["--aggregator", "mean", "--strategy", "linear_probe"],
    "probe_mean_max": ["--aggregator", "mean_max", "--strategy", "linear_probe"],
    "default_int8": ["--runtime", "onnx-int8"],  # the default on int8-quantised chunk embeddings
    # the TF-IDF branch on the full text fused into the same head (--lexical auto): each is
    # paired with the configuration named without "_lexical", seed by seed
    "default_lexical": ["--lexical", "auto"],
    "attention_sgd_lexical": ["--aggregator", "attention", "--lexical", "auto"],
}
#: Setups with one table and no test split: split once, 80/20, iteratively stratified, seed 0.
MULTILABEL = ("friends_multilabel",)
SETUPS = ("gutenberg", *MULTILABEL)
RATE = re.compile(r"chunk embeddings: ([\d,]+) chunks encoded in .*?([\d.]+) chunks/s")


def run_config(
    name: str, seed: int, args: argparse.Namespace, data: Path, model: str
) -> dict[str, Any]:
    """One ``longtail train`` run (skipped when its report exists); what it measured."""
    from longtail.cli import main as longtail

    out = Path(args.workdir) / "runs" / f"{name}-seed{seed}"
    log = out.parent / f"{out.name}.log"
    timing = out.parent / f"{out.name}.seconds.json"  # the run's own time, read back on a rerun
    started = time.perf_counter()
    if not (out / "report.json").exists():
        argv = [
            "train", "--data", str(data / "train.jsonl"), "--test-data", str(data / "test.jsonl"),
            "--model", model, "--long-mode", "frozen", "--max-chunks", str(args.max_chunks),
            "--cache-dir", str(args.cache), "--seed", str(seed), "--output", str(out),
            "--overwrite", *(["--chunk-length", str(args.chunk_length)] if args.chunk_length else []),
            *(["--task", "multilabel"] if args.setup in MULTILABEL else []), *CONFIGS[name],
        ]  # fmt: skip
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured):
            code = longtail(argv)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(captured.getvalue(), encoding="utf-8")
        if code != 0:
            raise SystemExit(f"{name} seed {seed}: longtail train exited {code}; see {log}")
        timing.write_text(json.dumps({"seconds": round(time.perf_counter() - started, 1)}))
    metrics = json.loads((out / "report.json").read_text(encoding="utf-8"))["metrics"]
    training = json.loads((out / "longtail.json").read_text(encoding="utf-8"))["training"]
    # one closing line per split encoded (training + validation, then the test file)
    closing = RATE.findall(log.read_text(encoding="utf-8")) if log.exists() else []
    chunks = [int(done.replace(",", "")) for done, _ in closing]
    seconds = sum(n / float(rate) for n, (_, rate) in zip(chunks, closing, strict=True))
    return {
        "config": name, "seed": seed, "f1_macro": metrics["f1_macro"], "mcc": metrics["mcc"],
        "pr_auc_macro": metrics.get("pr_auc_macro"),
        "steps": training.get("steps"), "stop": training.get("stop"),
        "seconds": json.loads(timing.read_text())["seconds"] if timing.exists() else None,
        "chunks_encoded": sum(chunks),
        "chunks_per_second": round(sum(chunks) / seconds, 2) if seconds else None,
        "output": str(out),
    }  # fmt: skip


def anchors(data: Path, mean_run: Path) -> dict[str, dict[str, float]]:
    """TF-IDF + balanced LR on the full text; balanced LR on the mean of the cached chunk
    embeddings that ``mean_run`` (a frozen long-document model directory) reads."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score, matthews_corrcoef

    from longtail.data.readers import read_table
    from longtail.models.documents import all_document_chunks, cut_documents, embed_documents
    from longtail.predictor import Classifier

    train, test = (read_table(data / f"{split}.jsonl") for split in ("train", "test"))
    multilabel = isinstance(train.labels[0], list)
    classifier = Classifier.load(mean_run)
    cache = classifier.use_embedding_cache(log=lambda _: None)

    def mean_vectors(texts: list[str]) -> np.ndarray:
        import torch

        texts = cut_documents(texts, classifier.chunks)
        chunks = embed_documents(
            classifier.model, all_document_chunks(classifier.tokenizer, texts, classifier.chunks),
            texts, cache=cache, pad_id=classifier.tokenizer.pad_token_id or 0,
            device=torch.device("cpu"), max_chunks=classifier.chunks.max_chunks_encoded,
            log=lambda _: None,
        )  # fmt: skip
        return np.stack([c.float().mean(0).numpy() for c in chunks])

    def scored(x_train, x_test) -> dict[str, float]:
        if multilabel:
            return scored_multilabel(x_train, x_test)
        fitted = LogisticRegression(max_iter=5000, class_weight="balanced")
        pred = fitted.fit(x_train, train.labels).predict(x_test)
        return {
            "f1_macro": float(f1_score(test.labels, pred, average="macro", zero_division=0)),
            "mcc": float(matthews_corrcoef(test.labels, pred)),
        }

    def scored_multilabel(x_train, x_test) -> dict[str, float]:
        """One-vs-rest balanced LR, scored by longtail's own multilabel metrics (macro-F1 over
        labels, MCC as the mean of per-label MCCs) at the 0.5 threshold LR predicts with."""
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.preprocessing import MultiLabelBinarizer

        from longtail.evaluation import evaluate_predictions

        names = sorted({name for row in [*train.labels, *test.labels] for name in row})
        binarizer = MultiLabelBinarizer(classes=names)
        y_train, y_test = binarizer.fit_transform(train.labels), binarizer.transform(test.labels)
        fitted = OneVsRestClassifier(LogisticRegression(max_iter=5000, class_weight="balanced"))
        probs = fitted.fit(x_train, y_train).predict_proba(x_test)
        metrics = evaluate_predictions(
            "multilabel", y_test, probs, (probs >= 0.5).astype(int), names
        )
        return {
            "f1_macro": float(metrics["f1_macro"]), "mcc": float(metrics["mcc"]),
            "pr_auc_macro": float(metrics["pr_auc_macro"]),
        }  # fmt: skip

    tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    return {
        "TF-IDF + LR (balanced), full text": scored(
            tfidf.fit_transform(train.texts), tfidf.transform(test.texts)
        ),
        "LR (balanced) on mean chunk embeddings": scored(
            mean_vectors(list(train.texts)), mean_vectors(list(test.texts))
        ),
    }


def _pr_auc(rows: list[dict[str, Any]]) -> str:
    values = [r["pr_auc_macro"] for r in rows if r.get("pr_auc_macro") is not None]
    return mean_sem(values) if values else "–"


def _median_seconds(rows: list[dict[str, Any]]) -> str:
    timed = [r["seconds"] for r in rows if r["seconds"] is not None]
    return f"{statistics.median(timed):.1f}" if timed else "–"


def summary(rows: list[dict[str, Any]], anchor: dict[str, dict[str, float]]) -> list[str]:
    lines = [
        "| head | test macro-F1 | MCC | PR-AUC (macro, threshold-free) | steps / iterations | stopped | seconds (median) |"
    ]
    lines.append("|---|---|---|---|---|---|---|")
    for name in CONFIGS:
        mine = [r for r in rows if r["config"] == name]
        if not mine:
            continue
        stops = sorted({str(r["stop"]) for r in mine})
        lines.append(
            f"| {name} | {mean_sem([r['f1_macro'] for r in mine])} | "
            f"{mean_sem([r['mcc'] for r in mine])} | {_pr_auc(mine)} | "
            f"{statistics.median(r['steps'] or 0 for r in mine):.0f} | {', '.join(stops)} | "
            f"{_median_seconds(mine)} |"
        )
    for name, scores in anchor.items():
        pr_auc = f"{scores['pr_auc_macro']:.3f}" if scores.get("pr_auc_macro") is not None else "–"
        lines.append(
            f"| **anchor:** {name} | {scores['f1_macro']:.3f} | {scores['mcc']:.3f} | {pr_auc} | – | – | – |"
        )
    lines += paired_lexical(rows)
    encoded = [r for r in rows if r["chunks_per_second"]]
    if encoded:
        first = encoded[0]
        lines.append(
            f"encoding: {first['chunks_encoded']:,} chunks at {first['chunks_per_second']:.2f} "
            f"chunks/s in the first run ({first['config']} seed {first['seed']}); later runs "
            "read the cache"
        )
    return lines


def paired_lexical(rows: list[dict[str, Any]]) -> list[str]:
    """Per ``*_lexical`` configuration: its paired difference from the same head without the
    branch, seed by seed (mean ± SEM), and the weights ``--lexical auto`` chose."""
    lines = []
    by_key = {(r["config"], r["seed"]): r for r in rows}
    for name in CONFIGS:
        base = name.removesuffix("_lexical")
        pairs = [(by_key[(base, r["seed"])], r) for r in rows
                 if r["config"] == name and (base, r["seed"]) in by_key]  # fmt: skip
        if base == name or not pairs:
            continue
        weights = [
            json.loads((Path(r["output"]) / "longtail.json").read_text(encoding="utf-8"))
            .get("lexical", {}).get("weight") for _, r in pairs
        ]  # fmt: skip
        parts = [
            f"{metric} {mean_sem([f[metric] - b[metric] for b, f in pairs])}"
            for metric in ("f1_macro", "mcc", "pr_auc_macro")
            if all(b.get(metric) is not None and f.get(metric) is not None for b, f in pairs)
        ]
        lines.append(f"{name} minus {base}, paired over {len(pairs)} seeds: {', '.join(parts)}; "
                     f"weights {weights}")  # fmt: skip
    return lines


def split_once(setup: str, directory: Path, rows: int = 0) -> dict[str, Any]:
    """A setup with no test split, cut once into 80 % training and 20 % test rows
    (iterative stratification for multilabel, seed 0); ``rows`` > 0 keeps the first rows."""
    import reproduce_papers as rp

    from longtail.data import LabelSpace, stratified_split
    from longtail.datasets import write_table

    table, _, about = rp.build_data(setup, argparse.Namespace(train_rows=0, test_rows=0))
    if rows:
        table = table.subset(range(min(rows, len(table.texts))))
    space = LabelSpace.fit(table.labels, task="multilabel", source=table.source)
    y = space.encode(table.labels, source=table.source, row_numbers=table.row_numbers)
    train_idx, test_idx = stratified_split(
        y, "multilabel", val_fraction=0.2, seed=0, names=space.names, source=table.source
    )
    directory.mkdir(parents=True, exist_ok=True)
    write_table(table.subset(train_idx), directory / "train.jsonl")
    write_table(table.subset(test_idx), directory / "test.jsonl")
    return {"about": about, "train_rows": len(train_idx), "test_rows": len(test_idx)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--setup", default="gutenberg", choices=SETUPS)
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--max-chunks", type=int, default=8)
    parser.add_argument("--chunk-length", type=int, help="default: longtail's own")
    parser.add_argument("--workdir", default="runs/long_documents")
    parser.add_argument("--cache", default="runs/long_documents/cache")
    parser.add_argument("--model", help="encoder (default: the offline all-MiniLM-L6-v2)")
    parser.add_argument("--rows", type=int, default=0, help="sample per split, for smoke runs")
    args = parser.parse_args(argv)
    import frozen_grid

    model = encoder_or_offline(args.model)
    data = Path(args.workdir) / args.setup
    if not (data / "test.jsonl").exists():
        write = split_once if args.setup in MULTILABEL else frozen_grid.write_setup_data
        info = write(args.setup, data, args.rows)
        print(
            f"{args.setup}: {info['about']}; train {info['train_rows']}, test {info['test_rows']} rows"
        )
    rows = []
    for seed in range(args.seeds):
        for name in args.configs:
            rows.append(run_config(name, seed, args, data, model))
            print(json.dumps(rows[-1]), flush=True)
    mean_run = next((Path(r["output"]) for r in rows if r["config"] == "probe_mean"), None)
    mean_run = mean_run or (Path(rows[0]["output"]) if rows else None)  # any run: same cache
    anchor = anchors(data, mean_run) if mean_run is not None else {}
    print("\n".join(summary(rows, anchor)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
