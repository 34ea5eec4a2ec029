"""``--arrow`` data preparation at 1M rows: longtail's against the standard ``datasets`` recipe.

What is timed is the preparation alone, from a CSV file to token ids in a memory-mapped Arrow
table, each contender in a fresh child process with an empty ``datasets`` cache:

- ``longtail``: :func:`longtail.data.prepare.prepare_arrow`, the whole path ``longtail train
  --arrow`` runs before its first step (read the CSV into Arrow, check for empty texts, fit and
  check the labels, tokenise, split off validation), under ``TOKENIZERS_PARALLELISM=false`` as
  the ``longtail`` command sets it;
- ``datasets_map``: what a user writes by hand and what longtail did before (2026-12-06):
  ``load_dataset("csv")`` then ``Dataset.map(lambda b: tokenizer(b["text"], truncation=True,
  max_length=128), batched=True)``, under the same setting (it checks no label, no empty text:
  less work than longtail's path);
- ``datasets_map_threads`` (reference): the same with the tokenizer's own Rust threads on
  (``TOKENIZERS_PARALLELISM=true``).

Rows are synthetic in length only (the real SMS Spam vocabulary, log-normal lengths, labels
90/9/1 %; :func:`arrow_memory.write_rows`). Each child reports its seconds and peak RSS: its own
``ru_maxrss`` and, where it started worker processes, the largest worker's. Contenders run
``--repeats`` times, interleaved; the ratio is the median of the per-repeat ratios, with min-max.

    python benchmarks/arrow_prepare.py                      # 1M rows, 3 repeats
    python benchmarks/arrow_prepare.py --rows 100000 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ratio_line  # noqa: E402
from arrow_memory import write_rows  # noqa: E402

CONTENDERS = {
    "longtail": "false",
    "datasets_map": "false",
    "datasets_map_threads": "true",
}


def child(args: argparse.Namespace) -> None:
    import datasets

    from longtail.config import build_config
    from longtail.data.prepare import prepare_arrow
    from longtail.models import load_tokenizer, resolve_model_name

    tokenizer = load_tokenizer(resolve_model_name(args.model))
    started = time.perf_counter()  # imports done: each contender pays only its own work
    if args.contender == "longtail":
        config = build_config(
            {"data": {"train": args.data, "arrow": True, "arrow_cache_dir": args.cache}}
        )
        data = prepare_arrow(config.data, config.long_documents, tokenizer, 128, seed=0)
        rows = len(data.train.y) + len(data.validation.y)
    else:
        datasets.disable_progress_bars()
        table = datasets.load_dataset(
            "csv", data_files=args.data, split="train", cache_dir=args.cache
        )
        table = table.map(
            lambda batch: tokenizer(batch["text"], truncation=True, max_length=128),
            batched=True,
        )
        rows = len(table)
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rows": rows, "rss_mb": own, "worker_rss_mb": workers}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default=None, help="tokenizer (default: the offline MiniLM's)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    from longtail.data.arrow import usable_cores

    print(f"machine: {platform.machine()}, {usable_cores()} cores; rows {args.rows:,}")
    results: dict[str, list[dict]] = {name: [] for name in CONTENDERS}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "rows.csv"
        write_rows(data, args.rows)
        print(f"csv: {data.stat().st_size / 2**20:.0f} MB")
        for repeat in range(args.repeats):
            for name, threads in CONTENDERS.items():
                cache = Path(tmp) / f"cache-{name}-{repeat}"
                command = [sys.executable, __file__, "--child", "--contender", name,
                           "--data", str(data), "--cache", str(cache)]  # fmt: skip
                if args.model:
                    command += ["--model", args.model]
                env = {**os.environ, "TOKENIZERS_PARALLELISM": threads}
                done = subprocess.run(command, capture_output=True, text=True, env=env)
                if done.returncode != 0:
                    print(done.stderr[-2000:])
                    raise SystemExit(f"{name} failed")
                measured = json.loads(done.stdout.strip().splitlines()[-1])
                results[name].append(measured)
                print(f"  repeat {repeat + 1}: {name:<22} {measured['seconds']:7.1f} s "
                      f"({measured['rows'] / measured['seconds']:8,.0f} rows/s)  peak RSS "
                      f"{measured['rss_mb']:6,.0f} MB (largest worker "
                      f"{measured['worker_rss_mb']:5,.0f} MB)", flush=True)  # fmt: skip
    print("\nmedian seconds (min-max)")
    for name, runs in results.items():
        seconds = [run["seconds"] for run in runs]
        print(
            f"  {name:<22} {statistics.median(seconds):7.1f} ({min(seconds):.1f}-{max(seconds):.1f})"
        )
    speed = {name: [run["rows"] / run["seconds"] for run in runs] for name, runs in results.items()}
    print(ratio_line("longtail / datasets.map (same settings)", speed["longtail"], speed["datasets_map"]))  # fmt: skip
    print(ratio_line("longtail / datasets.map with tokenizer threads (reference)", speed["longtail"], speed["datasets_map_threads"]))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
