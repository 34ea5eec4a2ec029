"""Peak RSS and throughput of the in-memory vs the Arrow (``--arrow``) data path, 100k vs 1M rows.

Rows are synthetic in length only: texts are drawn from the words of the real SMS Spam corpus
with lengths from a log-normal (median ~30 words, long tail), labels 90/9/1 %. Each configuration
trains in a fresh child process (the offline MiniLM tokenizer, its encoder cut to 1 layer so the
benchmark measures the data path, not the model), for a fixed number of steps; the child reports
its own peak RSS (``ru_maxrss``), the data preparation time and the training steps/s.

    python benchmarks/arrow_memory.py                     # 100k and 1M rows, both paths
    python benchmarks/arrow_memory.py --rows 20000 50000  # quicker
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_rows(path: Path, rows: int, seed: int = 0) -> None:
    from longtail.datasets import load_sms_spam

    words = np.array(sorted({w for text in load_sms_spam().texts for w in text.split()}))
    rng = np.random.default_rng(seed)
    labels = rng.choice(["common", "uncommon", "rare"], size=rows, p=[0.90, 0.09, 0.01])
    lengths = np.clip(rng.lognormal(mean=3.4, sigma=0.6, size=rows).astype(int), 3, 400)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for start in range(0, rows, 10_000):
            block = range(start, min(rows, start + 10_000))
            writer.writerows(
                (" ".join(rng.choice(words, size=lengths[i])), labels[i]) for i in block
            )


def child(args: argparse.Namespace) -> None:
    from transformers import AutoConfig

    import longtail.training.run as run
    from longtail.config import build_config
    from longtail.models import resolve_model_name

    name = resolve_model_name(None)
    original = run.load_encoder
    run.load_encoder = lambda n, **kw: original(
        n, config=AutoConfig.from_pretrained(n, num_hidden_layers=1), **kw
    )
    marks: dict[str, float] = {}
    original_prepare = run.prepare_data

    def timed_prepare(*a, **kw):
        started = time.perf_counter()
        data = original_prepare(*a, **kw)
        marks["prepare"] = time.perf_counter() - started
        marks["train_rows"] = len(data.train.y)
        return data

    run.prepare_data = timed_prepare
    config = build_config(
        {
            "data": {
                "train": args.data,
                "arrow": args.arrow,
                "arrow_cache_dir": args.cache,
                "val_fraction": 0.01,
            },
            "model": {"name": name, "max_length": 128},
            "train": {
                "max_steps": args.steps,
                "batch_size": 32,
                "eval_batch_size": 256,
                "patience": None,
            },
            "output": args.output,
        }
    )
    started = time.perf_counter()
    run.run_training(config, overwrite=True, log=lambda _m: None)
    total = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "peak_rss_mb": peak_mb,
                "prepare_s": marks["prepare"],
                "total_s": total,
                "train_rows": marks["train_rows"],
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--arrow", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            data = Path(tmp) / f"rows-{rows}.csv"
            write_rows(data, rows)
            size_mb = data.stat().st_size / 2**20
            for arrow in (False, True):
                command = [sys.executable, __file__, "--child", "--data", str(data), "--steps", str(args.steps),
                           "--cache", str(Path(tmp) / "cache"), "--output", str(Path(tmp) / f"run-{rows}-{arrow}")]  # fmt: skip
                if arrow:
                    command.append("--arrow")
                done = subprocess.run(command, capture_output=True, text=True, env=env)
                if done.returncode != 0:
                    print(done.stderr[-2000:])
                    raise SystemExit(f"child failed for {rows} rows, arrow={arrow}")
                measured = json.loads(done.stdout.strip().splitlines()[-1])
                measured.update(rows=rows, arrow=arrow, file_mb=size_mb)
                results.append(measured)
                print(f"{rows:>9,} rows ({size_mb:6.1f} MB csv)  {'arrow ' if arrow else 'memory'}  "
                      f"peak RSS {measured['peak_rss_mb']:7.0f} MB  prepare {measured['prepare_s']:6.1f} s "
                      f"({rows / measured['prepare_s']:8,.0f} rows/s)  total {measured['total_s']:6.1f} s", flush=True)  # fmt: skip
    by = {(r["rows"], r["arrow"]): r for r in results}
    small, large = min(args.rows), max(args.rows)
    for arrow in (False, True):
        growth = by[(large, arrow)]["peak_rss_mb"] - by[(small, arrow)]["peak_rss_mb"]
        print(f"{'arrow ' if arrow else 'memory'}: peak RSS grows {growth:+.0f} MB from {small:,} to {large:,} rows "
              f"({by[(large, arrow)]['peak_rss_mb'] / by[(small, arrow)]['peak_rss_mb']:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
