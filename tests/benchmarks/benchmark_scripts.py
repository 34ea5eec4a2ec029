"""Load a script of ``benchmarks/`` as a module, for the tests that call its functions; write a
data home's gzipped JSONL tables for the scripts that read one."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_script(name: str) -> ModuleType:
    """``benchmarks/<name>.py``, freshly executed, as module ``benchmark_<name>``."""
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_table(home: Path, name: str, split: str, rows: list[dict]) -> None:
    """``<home>/<name>/<split>.jsonl.gz``, as ``longtail.datasets`` reads a data home."""
    (home / name).mkdir(parents=True, exist_ok=True)
    with gzip.open(home / name / f"{split}.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)
