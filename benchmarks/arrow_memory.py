"""Peak RSS and throughput of the in-memory vs the Arrow (``--arrow``) data path, 100k vs 1M rows.

Rows are synthetic in length only: texts are drawn from the words of the real SMS Spam corpus
with lengths from a log-normal (median ~30 words, long tail), labels 90/9/1 %. Each configuration
trains in a fresh child process (the offline MiniLM tokenizer, its encoder cut to 1 layer so the
benchmark measures the data path, not the model), for a fixed number of steps; the child reports
its own peak RSS (``ru_maxrss``), the data preparation time and the total time. At the end
the two paths stand side by side per row count, and the growth of peak RSS from the smallest to
the largest row count is given in MB for each (one run per configuration: peak RSS does not depend
on the load of the machine; the seconds do).

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

    name = resolve_model_name(args.model)
    original = run.load_encoder
    run.load_encoder = lambda n, **kw: original(
        n, config=AutoConfig.from_pretrained(n, num_hidden_layers=args.layers), **kw
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
            # the data path alone: the TF-IDF anchor (a sample of at most 100k rows, fitted after
            # training, on both paths) would add the same bounded cost to both peaks
            "anchor": "none",
            "lexical": "off",
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


def side_by_side(results: list[dict]) -> list[str]:
    """Per row count, the in-memory and the Arrow measurements next to each other; then, given two
    or more row counts, the growth of each path's peak RSS from the smallest to the largest."""
    by = {(r["rows"], r["arrow"]): r for r in results}
    counts = sorted({r["rows"] for r in results})
    lines = [
        f"{'rows':>9}  {'peak RSS in memory':>18}  {'peak RSS --arrow':>16}  "
        f"{'prepare in memory':>17}  {'prepare --arrow':>15}"
    ]
    for rows in counts:
        memory, arrow = by[(rows, False)], by[(rows, True)]
        lines.append(
            f"{rows:>9,}  {memory['peak_rss_mb']:>15,.0f} MB  {arrow['peak_rss_mb']:>13,.0f} MB  "
            f"{memory['prepare_s']:>15.1f} s  {arrow['prepare_s']:>13.1f} s"
        )
    if len(counts) < 2:
        return lines
    small, large = counts[0], counts[-1]
    growth = {  # whole MB: no "-0 MB" for a change below one
        arrow: round(by[(large, arrow)]["peak_rss_mb"] - by[(small, arrow)]["peak_rss_mb"])
        for arrow in (False, True)
    }
    lines.append(
        f"peak RSS growth from {small:,} to {large:,} rows: in memory {growth[False]:+,.0f} MB, "
        f"--arrow {growth[True]:+,.0f} MB"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--model", default=None, help="encoder (default: offline all-MiniLM-L6-v2)")
    parser.add_argument("--layers", type=int, default=1, help="encoder layers kept (the data path is measured, not the model)")  # fmt: skip
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--arrow", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            data = Path(tmp) / f"rows-{rows}.csv"
            write_rows(data, rows)
            size_mb = data.stat().st_size / 2**20
            for arrow in (False, True):
                command = [sys.executable, __file__, "--child", "--data", str(data), "--steps", str(args.steps),
                           "--cache", str(Path(tmp) / "cache"), "--output", str(Path(tmp) / f"run-{rows}-{arrow}"),
                           "--layers", str(args.layers)]  # fmt: skip
                if args.model:
                    command += ["--model", args.model]
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
    print()
    print("\n".join(side_by_side(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
