"""The encoder under ONNX Runtime: speed against PyTorch, and what int8 costs in quality, in one run.

    python benchmarks/onnx_runtime.py                     # speed (3 repeats) + SMS Spam quality
    python benchmarks/onnx_runtime.py --finetuned runs/demo/model --finetuned-test runs/demo/data/test.csv

**Speed.** One longtail model directory (the offline all-MiniLM-L6-v2, mean pooling, a seeded
random head: the head does not change the speed) is loaded three times with
``Classifier.load(..., runtime=...)``: ``torch``, ``onnx`` (fp32) and ``onnx-int8``; onnxruntime
gets PyTorch's thread count. Each runs ``predict_proba`` (longtail's batching: longest first,
the CPU default of padded tokens per batch, ``CPU_MAX_BATCH_TOKENS``) over three workloads of real text (UCI SMS Spam):

- ``short``: ``--short-rows`` messages (mean ~26 tokens, max length 128);
- ``long``: rows of 1-12 joined messages (max length 256);
- ``chunks``: rows of 40 joined messages cut at 512 tokens: the work of encoding one 512-token
  chunk of a long document (what ``--long-mode frozen`` spends its time on).

Contenders run interleaved, ``--repeats`` times after a warm-up; a ratio is taken within each
repeat and the median and min-max over repeats are printed. ``--int8-batch-tokens 2048 4096``
adds ``onnx-int8@2048``, ... : the int8 model with that many padded tokens per batch instead of
the CPU default, each also compared with ``onnx-int8`` at the default.

**Quality.** On the demo's split of SMS Spam (80/20 stratified, seed 0), ``longtail train
--encoder frozen`` (the solved linear head) trains once on torch embeddings and once on int8
ones (``--runtime onnx-int8``); the test split is scored by the torch-trained model under each
runtime and by the int8-trained model under int8: macro-F1, MCC, and how many test decisions
differ from the torch-trained model's under torch (a fine-tuned model: from its own under torch). ``--finetuned DIR --finetuned-test FILE`` adds a fine-tuned model (e.g.
``make demo``'s) under each runtime: the case where int8 meets weights it was not trained with.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import encoder_or_offline, ratio_line, write_split  # noqa: E402
from predict_throughput import long_texts, write_model_dir  # noqa: E402

RUNTIMES = ("torch", "onnx", "onnx-int8")


def quiet() -> contextlib.AbstractContextManager:
    return contextlib.redirect_stdout(io.StringIO())


def speed(args: argparse.Namespace, messages: list[str]) -> None:
    from longtail.predictor import Classifier

    rng = np.random.default_rng(0)
    order = rng.permutation(len(messages))[: args.short_rows]
    workloads = {
        "short": ([messages[i] for i in order], 128),
        "long": (long_texts(messages, args.long_rows), 256),
        "chunks": (
            [" ".join(rng.choice(messages, size=40)) for _ in range(args.chunk_rows)],
            512,
        ),
    }
    from transformers import AutoConfig

    window = AutoConfig.from_pretrained(
        args.model
    ).max_position_embeddings  # a tiny test model's 128
    for name, (texts, max_length) in workloads.items():
        max_length = min(max_length, window)
        with tempfile.TemporaryDirectory() as directory:
            write_model_dir(directory, args.model, max_length)
            log = io.StringIO()
            classifiers = {
                runtime: Classifier.load(
                    directory, device="cpu", runtime=runtime, log=log.write,
                )
                for runtime in RUNTIMES
            }  # fmt: skip
            for budget in args.int8_batch_tokens:
                clf = Classifier.load(directory, device="cpu", runtime="onnx-int8", log=log.write)
                clf.max_batch_tokens = budget
                classifiers[f"onnx-int8@{budget}"] = clf
        lengths = [len(r) for r in classifiers["torch"].tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]  # fmt: skip
        reference = classifiers["torch"].predict_proba(texts[:32])
        print(f"\n[{name}] {len(texts)} rows, max_length {max_length}, tokens per row: mean "
              f"{np.mean(lengths):.1f}, max {max(lengths)}")  # fmt: skip
        for runtime in RUNTIMES[1:]:
            diff = np.abs(classifiers[runtime].predict_proba(texts[:32]) - reference).max()
            print(f"  max |P_{runtime} - P_torch| on 32 rows: {diff:.1e}")
        rates: dict[str, list[float]] = {runtime: [] for runtime in classifiers}
        for repeat in range(args.repeats):
            for runtime, clf in classifiers.items():
                started = time.perf_counter()
                clf.predict_proba(texts)
                rates[runtime].append(len(texts) / (time.perf_counter() - started))
                print(f"  repeat {repeat + 1}: {runtime:<10} {rates[runtime][-1]:8.1f} rows/s")
        for runtime, values in rates.items():
            print(f"    {runtime:<10} median {statistics.median(values):8.1f} rows/s "
                  f"({min(values):.1f}-{max(values):.1f})")  # fmt: skip
        for runtime in list(classifiers)[1:]:
            print("  " + ratio_line(f"{runtime} / torch [{name}]", rates[runtime], rates["torch"]))
        for budget in args.int8_batch_tokens:
            print("  " + ratio_line(f"onnx-int8@{budget} / onnx-int8 [{name}]",
                                    rates[f"onnx-int8@{budget}"], rates["onnx-int8"]))  # fmt: skip


def _scores(clf, table) -> tuple[dict[str, float], np.ndarray]:
    """Every metric of the table (tuned decisions), and the decisions themselves."""
    y_true, logits = clf.table_logits(table)
    probs = clf.probability_map(logits)
    return clf.evaluate_probs(y_true, probs), clf.decide(probs)


def quality_rows(
    label: str,
    model_dir: Path,
    test_file: Path,
    runtimes: tuple[str, ...],
    cache: Path,
    reference: np.ndarray | None = None,
) -> tuple[list[str], np.ndarray]:
    """One table row per runtime: macro-F1, MCC, and how many decisions differ from
    ``reference`` (default: the first runtime's); returns the rows and those decisions."""
    from longtail.data import read_table
    from longtail.predictor import Classifier

    rows, first = [], reference
    for runtime in runtimes:
        with quiet():
            clf = Classifier.load(model_dir, device="cpu", runtime=runtime)
            clf.use_embedding_cache(cache)
        table = read_table(test_file, text_column=clf.meta.get("text_column", "text"),
                           label_column=clf.meta.get("label_column", "label"))  # fmt: skip
        started = time.perf_counter()
        result, decisions = _scores(clf, table)
        seconds = time.perf_counter() - started
        first = decisions if first is None else first
        changed = int((decisions != first).reshape(len(decisions), -1).any(axis=1).sum())
        rows.append(
            f"| {label} | {runtime} | {result['f1_macro']:.4f} | {result['mcc']:.4f} | "
            f"{changed} of {len(decisions)} | {seconds:.1f} |"
        )
    return rows, first


def quality(args: argparse.Namespace) -> None:
    from longtail.cli import main as longtail
    from longtail.data import LabelSpace, stratified_split
    from longtail.datasets import load_sms_spam

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    table = load_sms_spam()
    space = LabelSpace.fit(table.labels, source=table.source)
    y = space.encode(table.labels, source=table.source, row_numbers=table.row_numbers)
    train_idx, test_idx = stratified_split(
        y, space.task, val_fraction=0.2, seed=0, names=space.names, source=table.source
    )
    files = {}
    for split, rows in (("train", train_idx), ("test", test_idx)):
        files[split] = write_split(
            work / f"{split}.csv", [table.texts[i] for i in rows], [table.labels[i] for i in rows]
        )
    cache = work / "cache"
    lines = ["| model | runtime at test | macro-F1 | MCC | decisions changed | seconds |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    reference = None  # the torch-trained frozen head's decisions under torch
    for features in ("torch", "onnx-int8"):
        out = work / f"frozen-{features}"
        started = time.perf_counter()
        with quiet():
            code = longtail([
                "train", "--data", str(files["train"]), "--model", args.model, "--encoder",
                "frozen", "--runtime", features, "--max-length", "128", "--cache-dir", str(cache),
                "--output", str(out), "--overwrite",
            ])  # fmt: skip
        assert code == 0, f"longtail train --runtime {features} failed"
        print(
            f"trained frozen head on {features} embeddings in {time.perf_counter() - started:.0f} s"
        )
        runtimes = RUNTIMES if features == "torch" else ("onnx-int8",)
        rows, reference = quality_rows(
            f"frozen head, {features} features", out, files["test"], runtimes, cache, reference
        )
        lines += rows
    if args.finetuned:
        lines += quality_rows(
            "fine-tuned", Path(args.finetuned), Path(args.finetuned_test), RUNTIMES, cache
        )[0]
    print(f"\nSMS Spam test split ({len(test_idx)} messages):")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="encoder (default: offline all-MiniLM-L6-v2)")
    parser.add_argument("--short-rows", type=int, default=1000)
    parser.add_argument("--long-rows", type=int, default=150)
    parser.add_argument("--chunk-rows", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--int8-batch-tokens", type=int, nargs="*", default=[], metavar="N",
        help="also time onnx-int8 with N padded tokens per batch (the CPU default: 1024)",
    )  # fmt: skip
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--finetuned", help="a fine-tuned model directory to score too")
    parser.add_argument("--finetuned-test", help="its labelled test file")
    parser.add_argument("--workdir", default="runs/onnx_runtime")
    args = parser.parse_args(argv)
    if bool(args.finetuned) != bool(args.finetuned_test):
        parser.error("--finetuned and --finetuned-test go together")
    args.model = encoder_or_offline(args.model)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import onnxruntime
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch "
          f"threads; torch {torch.__version__}, onnxruntime {onnxruntime.__version__}")  # fmt: skip
    from longtail.datasets import load_sms_spam

    if not args.skip_speed:
        speed(args, load_sms_spam().texts)
    if not args.skip_quality:
        quality(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
