"""Prediction throughput: ``Classifier.predict_proba`` vs ``transformers.pipeline``, in one run.

The same model for both: a longtail model directory (the offline all-MiniLM-L6-v2 encoder, mean
pooling, a seeded random linear head) is written to a temporary directory and loaded with
``Classifier.load``; the pipeline gets a ``BertForSequenceClassification`` whose ``forward`` is the
same computation (encoder → masked mean pooling → the same linear head), built from the same
``encoder/`` directory and ``head.safetensors``. The script checks that both return the same
probabilities before timing anything. Both truncate to the same ``max_length``; both return every
class's probability (the pipeline with ``top_k=None``).

Two workloads of real text (UCI SMS Spam):

- ``short``: ``--short-rows`` messages drawn at random (seed 0; mean ~26 tokens, max length 128);
- ``long``: ``--long-rows`` rows, each joining 1-12 random messages (mean ~160 tokens, max length
  256), so rows differ a lot in length and padding to a batch's longest row costs more.

The defaults are subsets so that the whole run, dominated by the pipeline's one-text-at-a-time
mode, stays within minutes on 2 CPU cores; ``--short-rows 4837`` runs every message.

The like-for-like contender is the pipeline given longtail's batch size (``--batch-size``, 128
by default as in ``longtail predict``; the pipeline then pads each batch to its longest row, in
input order): the headline ratio. The pipeline with its default ``batch_size`` (1: one forward
pass per text) is measured too, as a reference for what a pipeline user gets without setting it.
Each contender runs ``--repeats`` times (default 3), interleaved, after one warm-up batch; a ratio
is taken within each repeat, and the script prints the median ratio and its min-max over the
repeats.

``--max-batch-tokens N [N ...]`` measures longtail alone instead, once per token budget
(``Classifier.max_batch_tokens``: rows x padded width per batch on a CPU), interleaved, on the
two workloads and a third, ``512``: ``--long-rows`` rows of 40 joined messages cut at 512 tokens.
Each budget's ratio is taken against the first one given (8192: the default until 2026-12-07).

    python benchmarks/predict_throughput.py
    python benchmarks/predict_throughput.py --short-rows 200 --long-rows 40 --repeats 1   # quick look
    python benchmarks/predict_throughput.py --max-batch-tokens 8192 4096 2048 1024   # the CPU budget
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from longtail.data import LabelSpace
from longtail.datasets import load_sms_spam
from longtail.models import (
    TextClassifier,
    load_encoder,
    load_tokenizer,
    resolve_model_name,
    save_model_dir,
)
from longtail.predictor import Classifier

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ratio_line  # noqa: E402


def write_model_dir(directory: str, encoder_name: str, max_length: int) -> None:
    """A longtail model directory with the real encoder and a seeded random head (binary task)."""
    torch.manual_seed(0)
    model = TextClassifier(load_encoder(encoder_name), num_logits=2, pooling="mean", dropout=0.0)
    space = LabelSpace("binary", ["ham", "spam"])
    meta = {
        "task": "binary",
        "labels": space.to_dict(),
        "thresholds": [0.5],
        "temperature": 1.0,
        "max_length": max_length,
    }
    save_model_dir(directory, model, load_tokenizer(encoder_name), meta)


def pipeline_for(classifier: Classifier, device: torch.device | None = None):
    """``pipeline("text-classification")`` running the classifier's own encoder and head, on
    ``device`` (default: the CPU)."""
    from transformers import BertForSequenceClassification, pipeline
    from transformers.modeling_outputs import SequenceClassifierOutput
    from transformers.utils import logging as hf_logging

    class MeanPooledBert(BertForSequenceClassification):
        """BERT for sequence classification with longtail's head: masked mean, then linear."""

        def forward(self, input_ids=None, attention_mask=None, **_unused):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            return SequenceClassifierOutput(logits=self.classifier(pooled))

    encoder = classifier.model.encoder
    config = encoder.config.__class__.from_dict(encoder.config.to_dict())
    config.num_labels = 2
    config.id2label = dict(enumerate(classifier.label_names))
    config.label2id = {name: i for i, name in config.id2label.items()}
    model = MeanPooledBert(config)
    model.bert.load_state_dict(encoder.state_dict(), strict=False)  # pooler: unused either way
    model.classifier.load_state_dict(classifier.model.head.state_dict())
    model.eval()
    hf_logging.set_verbosity(hf_logging.CRITICAL)  # not "MeanPooledBert is not supported for ..."
    return pipeline(
        "text-classification",
        model=model,
        tokenizer=classifier.tokenizer,
        device=device or torch.device("cpu"),
    )


def long_texts(messages: list[str], rows: int, seed: int = 0) -> list[str]:
    """Rows of 1-12 real messages joined by spaces: long and of very different lengths."""
    rng = np.random.default_rng(seed)
    return [
        " ".join(messages[i] for i in rng.choice(len(messages), size=int(rng.integers(1, 13))))
        for _ in range(rows)
    ]


def timed(fn: Callable[[], object], rows: int) -> float:
    started = time.perf_counter()
    fn()
    return rows / (time.perf_counter() - started)


def pipeline_proba(pipe, texts: list[str], batch_size: int | None, max_length: int, names):
    kwargs = {"top_k": None, "truncation": True, "max_length": max_length}
    if batch_size is not None:
        kwargs["batch_size"] = batch_size
    out = pipe(texts, **kwargs)
    return np.array([[{d["label"]: d["score"] for d in row}[n] for n in names] for row in out])


def run_workload(name: str, texts: list[str], max_length: int, args) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as directory:
        write_model_dir(directory, args.model, max_length)
        clf = Classifier.load(directory, device="cpu")
    pipe = pipeline_for(clf)
    names = clf.label_names
    lengths = np.array([len(r) for r in clf.tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]])  # fmt: skip
    print(f"\n[{name}] {len(texts)} rows, max_length {max_length}, tokens per row: mean "
          f"{lengths.mean():.1f}, median {np.median(lengths):.0f}, max {lengths.max()}")  # fmt: skip

    probe = texts[:16]  # same model, same answers: check before timing (also the warm-up)
    diff = np.abs(
        clf.predict_proba(probe, batch_size=args.batch_size)
        - pipeline_proba(pipe, probe, args.batch_size, max_length, names)
    ).max()
    print(f"  max |P_longtail - P_pipeline| on {len(probe)} rows: {diff:.1e}")
    assert diff < 1e-4, "the two contenders do not compute the same model"
    pipeline_proba(pipe, probe[:4], None, max_length, names)

    batched = f"pipeline, batch_size={args.batch_size}"
    contenders = {
        "longtail": lambda: clf.predict_proba(texts, batch_size=args.batch_size),
        batched: lambda: pipeline_proba(pipe, texts, args.batch_size, max_length, names),
        "pipeline, default batch_size (1)": lambda: pipeline_proba(
            pipe, texts, None, max_length, names
        ),
    }
    speeds: dict[str, list[float]] = {label: [] for label in contenders}
    for repeat in range(args.repeats):
        for label, fn in contenders.items():
            speeds[label].append(timed(fn, len(texts)))
            print(f"  repeat {repeat + 1}: {label:<34} {speeds[label][-1]:8.1f} rows/s")
    print(
        f"  median rows/s (min-max); longtail: Classifier.predict_proba, batch_size={args.batch_size}"
    )
    for label, values in speeds.items():
        print(f"    {label:<34} {statistics.median(values):8.1f} ({min(values):.1f}-{max(values):.1f})")  # fmt: skip
    ours = speeds["longtail"]
    print("  " + ratio_line(f"longtail / pipeline batch_size={args.batch_size}", ours, speeds[batched]))  # fmt: skip
    print("  " + ratio_line("longtail / pipeline batch_size=1 (reference)", ours, speeds["pipeline, default batch_size (1)"]))  # fmt: skip
    return speeds


def token_budgets(workloads: dict[str, tuple[list[str], int]], args) -> None:
    """longtail's rows/s under each ``--max-batch-tokens`` budget, interleaved, per workload."""
    budgets = args.max_batch_tokens
    for name, (texts, max_length) in workloads.items():
        with tempfile.TemporaryDirectory() as directory:
            write_model_dir(directory, args.model, max_length)
            clf = Classifier.load(directory, device="cpu")
        clf.predict_proba(texts[:16], batch_size=args.batch_size)  # warm-up
        print(
            f"\n[{name}] {len(texts)} rows, max_length {max_length}, batch_size {args.batch_size}"
        )
        speeds: dict[int, list[float]] = {budget: [] for budget in budgets}
        for _ in range(args.repeats):
            for budget in budgets:
                clf.max_batch_tokens = budget
                started = time.perf_counter()
                clf.predict_proba(texts, batch_size=args.batch_size)
                speeds[budget].append(len(texts) / (time.perf_counter() - started))
        for budget, values in speeds.items():
            print(f"    max_batch_tokens {budget:>6}: {statistics.median(values):8.1f} rows/s "
                  f"({min(values):.1f}-{max(values):.1f})")  # fmt: skip
        for budget in budgets[1:]:
            print("  " + ratio_line(f"{budget} / {budgets[0]} [{name}]", speeds[budget], speeds[budgets[0]]))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="encoder (default: offline all-MiniLM-L6-v2)")
    parser.add_argument("--short-rows", type=int, default=300, help="SMS messages (of 4837)")
    parser.add_argument("--long-rows", type=int, default=60, help="rows of joined messages")
    parser.add_argument("--batch-size", type=int, default=128, help="longtail predict's default")
    parser.add_argument("--short-max-length", type=int, default=128)
    parser.add_argument("--long-max-length", type=int, default=256)
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of each contender, interleaved"
    )
    parser.add_argument(
        "--max-batch-tokens",
        type=int,
        nargs="+",
        help="measure longtail alone under these CPU token budgets (ratios against the first)",
    )
    args = parser.parse_args(argv)
    args.model = resolve_model_name(args.model)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    import transformers

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch "
          f"threads; torch {torch.__version__}, transformers {transformers.__version__}, "
          f"cuda={torch.cuda.is_available()}")  # fmt: skip
    messages = load_sms_spam().texts
    order = np.random.default_rng(0).permutation(len(messages))[: args.short_rows]
    if args.max_batch_tokens:
        rng = np.random.default_rng(0)
        token_budgets(
            {
                "short": ([messages[i] for i in order], args.short_max_length),
                "long": (long_texts(messages, args.long_rows), args.long_max_length),
                "512": (
                    [" ".join(rng.choice(messages, size=40)) for _ in range(args.long_rows)],
                    512,
                ),
            },
            args,
        )
        return 0
    run_workload("short: SMS messages", [messages[i] for i in order], args.short_max_length, args)
    long_rows = long_texts(messages, args.long_rows)
    run_workload("long: 1-12 joined messages", long_rows, args.long_max_length, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
