"""One GPU, under 5 minutes: longtail's speed and memory beside Hugging Face's, in one run.

Three measurements, each longtail against what a Hugging Face user runs, on the same model, data
and settings, interleaved repeat by repeat; every ratio is the median of the per-repeat ratios
with its min-max (``--repeats``, default 3):

1. **Training** (examples/s): ``train_model`` (longtail's loop, ``run_longtail`` of
   ``train_throughput.py``) against the ``Trainer`` with ``group_by_length`` (``run_trainer``),
   one epoch each, bf16 autocast on both, for all-MiniLM-L6-v2 and (when carried)
   all-mpnet-base-v2: mean pooling + linear head, effective-number weighted cross-entropy, AdamW,
   the same initial weights, ``--rows`` rows of the carried setup's training split (default
   R52: Reuters articles, ~109 tokens on average at max length 256, so batches differ in width),
   batch 32. Both clocks start with the weights on the device; on a GPU after one untimed
   warm-up run each (CUDA context, cuBLAS and kernel selection are first-call costs, not
   throughput). Each clock also holds its contender's set-up (optimizer, accelerate or the
   Trainer's own) and, for longtail, the loop's 8-row validation pass. Where the
   device's python3 has no ``datasets`` package, the Trainer reads its rows from a list of dicts
   (``trainer_dataset``), which is faster to index than an Arrow table: it favours the Trainer.
   **Model FLOP utilisation (MFU)**: the encoder's model FLOPs of the epoch divided by its
   seconds, over the card's dense bf16 peak (:data:`PEAK_BF16`; an unknown card, or a CPU,
   prints "n/a"). Model FLOPs count only the useful work, so padding costs MFU:

       FLOPs = 6 * N * sum_i s_i + 12 * L * d * sum_i s_i**2

   with ``s_i`` the non-padding tokens of row ``i`` (after truncation), ``N`` the encoder's
   non-embedding parameters (embeddings and the unused pooler excluded), ``L`` layers and ``d``
   the hidden size. ``6 N`` per token is the forward and backward matrix work of the weights
   (Kaplan et al. 2020, "Scaling Laws for Neural Language Models", arXiv 2001.08361, section
   2.1); ``12 L d s**2`` per sequence is self-attention's ``QK^T`` and ``AV`` (PaLM's
   ``12 L H Q T`` per token times ``T`` tokens), and MFU is defined as in Chowdhery et al. 2022,
   "PaLM", arXiv 2204.02311, appendix B. The head and the loss are left out (negligible).
2. **Prediction** (rows/s): ``Classifier.predict_proba`` against ``transformers.pipeline`` given
   the same ``batch_size`` (128), both under bf16 autocast (longtail's default on a GPU; the
   pipeline is called inside the same ``torch.autocast``), MiniLM only (``pipeline_for`` of
   ``predict_throughput.py`` builds a BERT). Both tokenise inside the clock; the two must give
   the same probabilities first (within 5e-2 under bf16, 1e-4 in fp32).
3. **Long documents**: ``torch.cuda.max_memory_allocated`` of one training step (and one
   inference pass) of the hierarchical model (MiniLM, attention aggregator, 512-token chunks,
   micro-batches of 8, the model's default ``activation_memory_mb`` unless
   ``--activation-memory-mb``) on one document of 5k, 20k, 50k and 100k tokens made of the setup's
   training texts: ``child`` of ``long_document_memory.py``, in this process, with
   ``reset_peak_memory_stats`` before each length and what was still allocated then subtracted.
   It prints the largest over the smallest peak over every length (wherever they fall) and the
   growth in MB. On a CPU the peak is the process's ``ru_maxrss``, which cannot be reset.

Prepare here, on CPU, the folder ``benchmarks/gpu_suite.py`` carries (data, MiniLM in fp16,
wheels; its docstring): ``python benchmarks/gpu_suite.py --prepare runs/gpu_suite``. Then one
device ``run`` with ``carry: ["runs/gpu_suite"]``, ``timeout_s: 360`` and this command (one line)::

    set -o pipefail; export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false;
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade
    --target /tmp/site runs/gpu_suite/wheels/*.whl && export PYTHONPATH=/tmp/site:src || exit;
    nvidia-smi -L; python3 benchmarks/gpu_throughput.py --data-dir runs/gpu_suite --out $OUT
    2>&1 | tee $OUT/gpu_throughput.log

It writes ``gpu_throughput.md`` and ``gpu_throughput.json`` to ``--out`` after every item, so a
command killed at its limit keeps what finished; ``--budget-seconds`` (280) starts no item whose
estimate (:data:`RATES`, assumptions until a device run's JSON gives measured seconds) no longer
fits, and lists it. mpnet (219 MB in fp16) does not fit one call's 64 MiB: it is measured only
when its parts were carried first (``gpu_suite.py`` says how); otherwise it is listed as not
run. Back here, put the run's table into docs/benchmarks.md between its two markers::

    python benchmarks/gpu_throughput.py --from-json FILES_AT/gpu_throughput.json --write-docs docs/benchmarks.md

Dry run on CPU (a test runs it): ``--dry-run`` = 32 rows, batch 8, max length 64, one repeat,
documents of 600 and 1,200 tokens in 128-token chunks, no mixed precision, MiniLM cut to 1 layer
unless ``--model PATH``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import gc
import importlib.util
import inspect
import io
import json
import shlex
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
#: ``load_models`` (the carried encoders, fp32) and ``data`` (the carried folder's loaders).
import gpu_suite as suite  # noqa: E402
import long_document_memory as memory_bench  # noqa: E402
import predict_throughput as predict_bench  # noqa: E402
import train_throughput as train_bench  # noqa: E402

data = suite.data

BEGIN, END = "<!-- gpu_throughput:begin -->", "<!-- gpu_throughput:end -->"
TRAINER = "trainer_group_by_length"
#: Dense (no sparsity) bf16 tensor-core peaks in FLOP/s, from NVIDIA's data sheets. A card is
#: matched when every word of a key is in ``torch.cuda.get_device_name`` (lower case), first key
#: first; the SXM H100 names itself "NVIDIA H100 80GB HBM3". Anything else (H100 NVL too): n/a.
PEAK_BF16: tuple[tuple[tuple[str, ...], float], ...] = (
    (("h100", "pcie"), 756e12),
    (("h100", "sxm"), 989.4e12),
    (("h100", "hbm3"), 989.4e12),
    (("h200",), 989.4e12),
    (("a100",), 312e12),
)
#: Assumed H100 rates at max length 256, bf16: training examples/s, prediction rows/s, seconds to
#: load a model. Not measured yet: replace them with the seconds a device run's JSON shows.
RATES = {
    "minilm": {"train": 3000.0, "predict": 9000.0, "load": 3.0},
    "mpnet": {"train": 600.0, "predict": 1800.0, "load": 5.0},
}
RUN_SECONDS = 2.0  # set-up of one training run (accelerator or Trainer, optimizer, loader)
MEMORY_SECONDS, MEMORY_TOKENS_PER_S = 5.0, 10_000.0  # per length: loading; the four passes


# --- what is counted ------------------------------------------------------------------------


def peak_bf16(device_name: str) -> float | None:
    """The card's dense bf16 peak in FLOP/s (:data:`PEAK_BF16`), ``None`` when unknown."""
    name = device_name.lower()
    return next((peak for words, peak in PEAK_BF16 if all(w in name for w in words)), None)


def non_embedding_parameters(encoder: Any) -> int:
    """``N`` of the FLOP count: every encoder weight but the embeddings and the pooler."""
    return sum(
        p.numel()
        for name, p in encoder.named_parameters()
        if "embeddings" not in name and not name.startswith("pooler")
    )


def training_flops(lengths: list[int], parameters: int, layers: int, hidden: int) -> float:
    """Model FLOPs of one training pass: ``6 N sum(s) + 12 L d sum(s**2)`` (module docstring)."""
    tokens = sum(lengths)
    squares = sum(s * s for s in lengths)
    return 6.0 * parameters * tokens + 12.0 * layers * hidden * squares


# --- the three measurements -----------------------------------------------------------------


def _rows(count: int, total: int) -> list[int]:
    import numpy as np

    return np.random.default_rng(0).permutation(total)[:count].tolist()


def measure_training(model_dir: str, table: Any, args: argparse.Namespace, device: Any) -> dict:
    """longtail's loop and the Trainer (``group_by_length``), interleaved; examples/s, FLOPs."""
    import torch

    from longtail.data import LabelSpace
    from longtail.losses import build_loss
    from longtail.models import TextClassifier, load_encoder, load_tokenizer
    from longtail.text.batching import tokenize

    rows = _rows(args.rows, len(table.texts))
    labels = [table.labels[i] for i in rows]
    space = LabelSpace.fit(labels)
    y = space.encode(labels)
    tokenizer = load_tokenizer(model_dir)
    ids = tokenize(tokenizer, [table.texts[i] for i in rows], args.max_length)
    torch.manual_seed(0)
    base = TextClassifier(load_encoder(model_dir), space.num_classes)
    loss_fn = build_loss({"name": "ce", "weights": "effective_number"}, task=space.task,
                         class_counts=space.counts(y), num_docs=len(y))  # fmt: skip
    pad_id = tokenizer.pad_token_id or 0
    bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    settings = argparse.Namespace(batch_size=args.batch_size, lr=args.lr)

    def once(label: str, n: int) -> float:
        gc.collect()  # the last run's copies (the Trainer's are in reference cycles) go first
        model = copy.deepcopy(base).to(device)  # both clocks start with the weights on the device
        if label == "longtail":
            (speed,) = train_bench.run_longtail(model, copy.deepcopy(loss_fn), ids[:n], y[:n],
                                                settings, pad_id, mixed_precision="bf16" if bf16 else "no")  # fmt: skip
            return speed
        return train_bench.run_trainer(model, copy.deepcopy(loss_fn), ids[:n], y[:n], settings,
                                       tokenizer, True, bf16=bf16)  # fmt: skip

    for label in ("longtail", TRAINER) if device.type == "cuda" else ():
        once(label, min(len(ids), 4 * args.batch_size))  # CUDA's first-call costs: not throughput
    speeds: dict[str, list[float]] = {"longtail": [], TRAINER: []}
    for repeat in range(args.repeats):
        for label, values in speeds.items():
            values.append(once(label, len(ids)))
            print(f"  repeat {repeat + 1}: {label:<24} {values[-1]:9.1f} examples/s", flush=True)
    lengths = [len(r) for r in ids]
    config = base.encoder.config
    parameters = non_embedding_parameters(base.encoder)
    return {"rows": len(ids), "tokens": sum(lengths), "classes": space.num_classes,
            "non_embedding_parameters": parameters, "layers": config.num_hidden_layers,
            "hidden": config.hidden_size,
            "flops_per_epoch": training_flops(lengths, parameters, config.num_hidden_layers, config.hidden_size),
            "trainer_dataset": "datasets.Dataset" if importlib.util.find_spec("datasets") else "list of dicts",
            **speeds}  # fmt: skip


def measure_prediction(model_dir: str, table: Any, args: argparse.Namespace, device: Any) -> dict:
    """``Classifier.predict_proba`` and the batched pipeline, interleaved; rows/s."""
    import numpy as np

    from longtail.models.inference import inference_autocast
    from longtail.predictor import Classifier

    texts = [table.texts[i] for i in _rows(args.predict_rows, len(table.texts))]
    batch = args.predict_batch_size
    with tempfile.TemporaryDirectory() as directory:
        predict_bench.write_model_dir(directory, model_dir, args.max_length)
        clf = Classifier.load(directory, device=device)
    pipe = predict_bench.pipeline_for(clf, device)

    def pipeline_rows(rows: list[str]) -> np.ndarray:
        with inference_autocast(device):  # the precision longtail predicts in on this device
            return predict_bench.pipeline_proba(pipe, rows, batch, args.max_length, clf.label_names)

    probe = texts[:16]  # the same model gives the same answers; also the warm-up of both
    diff = float(np.abs(clf.predict_proba(probe, batch_size=batch) - pipeline_rows(probe)).max())
    if diff > (1e-4 if device.type == "cpu" else 5e-2):
        raise RuntimeError(f"the two contenders disagree: max |P_longtail - P_pipeline| {diff:.1e}")
    contenders = {
        "longtail": lambda: clf.predict_proba(texts, batch_size=batch),
        "pipeline": lambda: pipeline_rows(texts),
    }
    speeds: dict[str, list[float]] = {label: [] for label in contenders}
    for repeat in range(args.repeats):
        for label, fn in contenders.items():
            speeds[label].append(predict_bench.timed(fn, len(texts)))
            print(f"  repeat {repeat + 1}: {label:<24} {speeds[label][-1]:9.1f} rows/s", flush=True)
    lengths = [len(r) for r in clf.tokenizer(texts, truncation=True, max_length=args.max_length)["input_ids"]]  # fmt: skip
    return {"rows": len(texts), "batch_size": batch, "mean_tokens": statistics.mean(lengths),
            "max_abs_diff": diff, **speeds}  # fmt: skip


def measure_memory(model_dir: str, tokens: int, texts: list[str], args: argparse.Namespace) -> dict:
    """One length through ``long_document_memory.child`` in this process, its peak reset first."""
    import torch

    gc.collect()  # what earlier items left behind must not count
    baseline = 0.0
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        baseline = torch.cuda.memory_allocated() / 2**20
    child_args = argparse.Namespace(model=model_dir, layers=None, tokens=tokens, repeats=1,
                                    chunk_length=args.chunk_length, chunk_batch_size=args.chunk_batch_size,
                                    activation_memory_mb=args.activation_memory_mb)  # fmt: skip
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        memory_bench.child(child_args, texts)
    result = json.loads(printed.getvalue().strip().splitlines()[-1])
    seconds = {key: _median_seconds(result[key]) for key in ("train_s", "raw_train_s")}
    return result | seconds | {"peak_mb": result["peak_mb"] - baseline, "baseline_mb": baseline}


def default_activation_budget() -> float:
    """The hierarchical model's default ``activation_memory_mb``: what ``longtail train`` keeps."""
    from longtail.models.hierarchical import HierarchicalClassifier

    return inspect.signature(HierarchicalClassifier).parameters["activation_memory_mb"].default


def _median_seconds(value: float | list[float]) -> float:
    """A child's seconds: one number, or one per timed repeat."""
    return statistics.median(value) if isinstance(value, list) else value


# --- plan, budget, tables -------------------------------------------------------------------


def plan(models: dict[str, str], args: argparse.Namespace, notes: list[str]) -> list[dict]:
    """Training of every encoder, then prediction with the first BERT (``pipeline_for`` builds
    one) and the document lengths with the first encoder (MiniLM when there)."""
    names = sorted(models, key=lambda name: name != "minilm")
    items: list[dict[str, Any]] = [{"kind": "train", "model": m} for m in models]
    berts = [m for m in names if _model_type(models[m]) == "bert"]
    if berts:
        items.append({"kind": "predict", "model": berts[0]})
    elif models:
        notes.append("predict: no BERT encoder to measure (pipeline_for builds a BERT)")
    items += [{"kind": "memory", "model": names[0], "tokens": n} for n in args.lengths if names]
    for item in items:
        item["estimate"] = estimate(item, args)
    return items


def _model_type(model_dir: str) -> str:
    return json.loads((Path(model_dir) / "config.json").read_text("utf-8")).get("model_type", "")


def estimate(item: dict[str, Any], args: argparse.Namespace) -> float:
    """Seconds on an H100 from the assumed :data:`RATES`: the warm-ups and repeats of both
    contenders, or one document length."""
    rate = RATES.get(item["model"], RATES["minilm"])
    runs = 2 * args.repeats
    if item["kind"] == "train":
        return runs * (args.rows / rate["train"] + RUN_SECONDS) + 2 * RUN_SECONDS + rate["load"]
    if item["kind"] == "predict":
        return runs * args.predict_rows / rate["predict"] + rate["load"] + 2.0
    return MEMORY_SECONDS + item["tokens"] / MEMORY_TOKENS_PER_S


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):,.1f} ({min(values):,.1f}-{max(values):,.1f})"


def _ratio(ours: list[float], theirs: list[float]) -> str:
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    return f"**{statistics.median(ratios):.2f}x** ({min(ratios):.2f}-{max(ratios):.2f}x)"


def _flops_cell(run: dict[str, Any], speeds: list[float], peak: float | None) -> str:
    """Achieved model TFLOP/s at the median speed, and the MFU it gives."""
    achieved = run["flops_per_epoch"] * statistics.median(speeds) / run["rows"]
    return f"{achieved / 1e12:.3g} ({'n/a' if peak is None else f'{achieved / peak:.1%}'})"


def _failed(entry: dict[str, Any] | None, width: int, label: str) -> str | None:
    if entry is None or "error" in entry:
        why = "not run" if entry is None else f"failed: {entry['error'][:100]}"
        return f"| {label} | {why} |" + " |" * (width - 2)
    return None


def _training_table(results: dict[str, Any]) -> list[str]:
    peak, device = results["peak_bf16"], results["device"]
    mfu = (f"MFU over {peak / 1e12:.1f} TFLOP/s, the dense bf16 peak of {device}" if peak
           else "MFU n/a on a CPU" if device == "CPU"
           else f"MFU n/a: no dense bf16 peak known for {device}")  # fmt: skip
    lines = ["### Training: longtail's loop vs the Trainer with `group_by_length`", "",
             f"Examples/s, median (min-max) of {results['repeats']} interleaved repeats; one epoch, "
             f"{results['settings']}. Model TFLOP/s at the median speed ({mfu}).", "",
             "| encoder | rows (tokens) | longtail | Trainer, group_by_length | longtail / Trainer "
             "| longtail TFLOP/s (MFU) | Trainer TFLOP/s (MFU) |", "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for model in results["models"]:
        run = results["training"].get(model)
        lines.append(_failed(run, 7, model) or (
            f"| {model} | {run['rows']:,} ({run['tokens']:,}) | {_spread(run['longtail'])} | "
            f"{_spread(run[TRAINER])} | {_ratio(run['longtail'], run[TRAINER])} | "
            f"{_flops_cell(run, run['longtail'], peak)} | {_flops_cell(run, run[TRAINER], peak)} |"))  # fmt: skip
    return lines


def _prediction_table(results: dict[str, Any]) -> list[str]:
    lines = ["### Prediction: `Classifier.predict_proba` vs the batched `pipeline`", "",
             "Rows/s, median (min-max); the same model and `batch_size` for both, bf16 autocast on a "
             "GPU; max |ΔP| is the largest difference of their probabilities on 16 rows.", "",
             "| encoder | rows | longtail | pipeline | longtail / pipeline | max abs ΔP |",
             "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for model, run in results["prediction"].items():
        lines.append(_failed(run, 6, model) or (
            f"| {model} | {run['rows']:,} (batch {run['batch_size']}) | {_spread(run['longtail'])} | "
            f"{_spread(run['pipeline'])} | {_ratio(run['longtail'], run['pipeline'])} | {run['max_abs_diff']:.1e} |"))  # fmt: skip
    return lines


def _memory_table(memory: dict[str, Any]) -> list[str]:
    lines = [f"### Long documents: peak memory of one training step ({memory['model']})", "",
             f"Peak: {memory['measure']}. Hierarchical model, {memory['settings']}.", "",
             "| tokens | chunks | peak MB | train tok/s |", "|---:|---:|---:|---:|"]  # fmt: skip
    for r in memory["results"]:
        lines.append(_failed(r, 4, f"{r['tokens']:,}") or (
            f"| {r['tokens']:,} | {r['chunks']} | {r['peak_mb']:,.0f} | {r['tokens'] / r['train_s']:,.0f} |"))  # fmt: skip
    done = [r for r in memory["results"] if "error" not in r]
    return lines + (["", memory_bench.memory_line(done)] if done else [])


def tables(results: dict[str, Any]) -> str:
    """The Markdown of the three measurements (### headings: it sits under a ## in the docs)."""
    lines = [*_training_table(results), "", *_prediction_table(results), "",
             *_memory_table(results["memory"])]  # fmt: skip
    if results["skipped"]:
        lines += ["", "Not run:", "", *[f"- {item}" for item in results["skipped"]]]
    lines += ["", f"Wall time {results['wall_seconds']:.0f} s; estimated {results['estimate_seconds']:.0f} s."]  # fmt: skip
    return "\n".join(lines) + "\n"


def dated_line(results: dict[str, Any]) -> str:
    return (f"Measured {results['date']} on {results['device']}, torch {results['torch']}, "
            f"transformers {results['transformers']}: `{results['command']}`")  # fmt: skip


def write_out(results: dict[str, Any], out: Path, started: float) -> str:
    """Both files, rewritten after every item: a run killed at its limit keeps the rest."""
    results["wall_seconds"] = round(time.perf_counter() - started, 1)
    markdown = (
        f"# GPU throughput on {results['device']}\n\n{dated_line(results)}\n\n{tables(results)}"
    )
    (out / "gpu_throughput.json").write_text(json.dumps(results, indent=1), "utf-8")
    (out / "gpu_throughput.md").write_text(markdown, "utf-8")
    return markdown


def write_docs(path: Path, results: dict[str, Any]) -> None:
    """Replace what lies between :data:`BEGIN` and :data:`END` in ``path``, nothing else."""
    text = path.read_text("utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"{path}: the markers {BEGIN} ... {END} are not there, in that order")
    block = f"{dated_line(results)}\n\n{tables(results)}"
    path.write_text(f"{text[: start + len(BEGIN)]}\n{block}{text[end:]}", "utf-8")


# --- the run --------------------------------------------------------------------------------


def _run_item(item: dict[str, Any], models: dict[str, str], table: Any, args, device, results) -> str:  # fmt: skip
    model = models[item["model"]]
    if item["kind"] == "train":
        run = results["training"][item["model"]] = measure_training(model, table, args, device)
        return f"longtail {statistics.median(run['longtail']):.1f}, Trainer {statistics.median(run[TRAINER]):.1f} examples/s"  # fmt: skip
    if item["kind"] == "predict":
        run = results["prediction"][item["model"]] = measure_prediction(model, table, args, device)
        return f"longtail {statistics.median(run['longtail']):.1f}, pipeline {statistics.median(run['pipeline']):.1f} rows/s"  # fmt: skip
    run = measure_memory(model, item["tokens"], table.texts, args)
    results["memory"]["results"].append(run)
    return f"peak {run['peak_mb']:.0f} MB, {run['chunks']} chunks"


#: What the long-document peak is, per device.
PEAK_MEASURE = {
    "cuda": "torch.cuda.max_memory_allocated after reset_peak_memory_stats, less what was "
    "allocated at the reset",
    "cpu": "the process's peak RSS (ru_maxrss); it cannot be reset, so on a CPU it only grows "
    "from one length to the next",
}


def start_results(args: argparse.Namespace, argv: list[str], models: dict[str, str],
                  items: list[dict], notes: list[str]) -> dict[str, Any]:  # fmt: skip
    """What the run is, before anything is measured: card, versions, command, settings."""
    import torch
    import transformers

    cuda = torch.cuda.is_available()
    name = torch.cuda.get_device_name(0) if cuda else "CPU"
    memory_model = next((i["model"] for i in items if i["kind"] == "memory"), "none")
    return {
        "device": name, "peak_bf16": peak_bf16(name) if cuda else None,
        "torch": torch.__version__, "transformers": transformers.__version__,
        "date": datetime.date.today().isoformat(),
        "command": shlex.join([Path(sys.executable).name, "benchmarks/gpu_throughput.py", *argv]),
        "settings": f"{args.setup} training split, batch {args.batch_size}, max length "
        f"{args.max_length}, {'bf16 autocast' if cuda else 'fp32 (CPU)'}",
        "repeats": args.repeats, "models": list(models), "training": {},
        "prediction": {i["model"]: None for i in items if i["kind"] == "predict"},
        "memory": {"model": memory_model, "results": [],
                   "measure": PEAK_MEASURE["cuda" if cuda else "cpu"],
                   "settings": f"attention aggregator, {args.chunk_length}-token chunks, "
                   f"micro-batches of {args.chunk_batch_size}, activation_memory_mb {args.activation_memory_mb:g}, "
                   "one step and one inference pass"},
        "skipped": list(notes), "estimate_seconds": round(sum(i["estimate"] for i in items)),
        "rates_assumed": RATES,
    }  # fmt: skip


def _record_error(results: dict[str, Any], item: dict[str, Any], exc: Exception) -> str:
    error = f"{type(exc).__name__}: {exc}"
    if item["kind"] == "memory":
        results["memory"]["results"].append({"tokens": item["tokens"], "error": error})
    else:
        section = "training" if item["kind"] == "train" else "prediction"
        results[section][item["model"]] = {"error": error}
    return error


def run(args: argparse.Namespace, argv: list[str], work: Path) -> int:
    import torch

    started = time.perf_counter()
    deadline = started + args.budget_seconds
    args.out.mkdir(parents=True, exist_ok=True)
    folder = args.data_dir / "data" / args.setup
    if not (folder / "setup.json").is_file():
        raise SystemExit(f"{folder}: not prepared; run gpu_suite.py --prepare {args.data_dir}")
    table = data.load_setup(folder, 0, work)["tables"]["train"]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    notes: list[str] = []
    models = suite.load_models(args, work, notes)
    items = plan(models, args, notes)
    results = start_results(args, argv, models, items, notes)
    print(f"{results['device']}: {results['settings']}; encoders: {', '.join(models) or 'none'}")
    if notes:
        print(*notes, sep="\n")
    print(f"estimate: {results['estimate_seconds']} s for {len(items)} items, budget "
          f"{args.budget_seconds:.0f} s", flush=True)  # fmt: skip
    for item in items:
        label = f"{item['kind']} {item['model']}" + (f" {item['tokens']:,} tokens" if "tokens" in item else "")  # fmt: skip
        if time.perf_counter() + item["estimate"] > deadline:
            results["skipped"].append(f"{label}: estimated {item['estimate']:.0f} s, out of budget")
            print(f"skipped {label}: its estimate does not fit the budget", flush=True)
            continue
        print(label, flush=True)
        begun = time.perf_counter()
        try:
            done = _run_item(item, models, table, args, device, results)
        except Exception as exc:  # one failed item must not lose the others
            traceback.print_exc()
            done = _record_error(results, item, exc)
        item["seconds"] = round(time.perf_counter() - begun, 1)
        print(f"{label}: {done} ({item['seconds']:.0f} s)", flush=True)
        results["items"] = [i for i in items if "seconds" in i]
        write_out(results, args.out, started)
    print(write_out(results, args.out, started))
    if args.write_docs:
        write_docs(args.write_docs, results)
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("runs/gpu_suite"))
    parser.add_argument("--setup", choices=["r52", "20ng_long_tailed"], default="r52")
    parser.add_argument("--out", type=Path, default=Path("runs/gpu_throughput_out"))
    parser.add_argument("--workdir", type=Path, help="keep the fp32 models here (default: temp)")
    parser.add_argument("--models", nargs="+", choices=["minilm", "mpnet"], default=["minilm", "mpnet"])  # fmt: skip
    parser.add_argument(
        "--mpnet", help="mpnet's model directory or parts (default: DATA_DIR_mpnet)"
    )
    parser.add_argument("--model", help="measure this encoder instead (a local directory)")
    for flag, kind in [("--rows", int), ("--predict-rows", int), ("--batch-size", int),
                       ("--predict-batch-size", int), ("--max-length", int), ("--repeats", int),
                       ("--chunk-length", int), ("--chunk-batch-size", int)]:  # fmt: skip
        parser.add_argument(flag, type=kind)
    parser.add_argument("--lengths", type=int, nargs="+", help="document tokens")
    parser.add_argument("--activation-memory-mb", type=float,
                        help="the long-document model's budget (default: the model's default)")  # fmt: skip
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--budget-seconds", type=float, default=280.0)
    parser.add_argument("--dry-run", action="store_true", help="CPU check of the whole script, tiny sizes")  # fmt: skip
    parser.add_argument("--write-docs", type=Path, metavar="PATH", help="replace the text between the markers")  # fmt: skip
    parser.add_argument("--from-json", type=Path, metavar="FILE", help="measure nothing: a finished run's JSON")  # fmt: skip
    args = parser.parse_args(argv)
    defaults: dict[str, Any] = {"rows": 4096, "predict_rows": 4096, "batch_size": 32,
                                "predict_batch_size": 128, "max_length": 256, "repeats": 3,
                                "chunk_length": 512, "chunk_batch_size": 8,
                                "lengths": [5_000, 20_000, 50_000, 100_000]}  # fmt: skip
    if args.dry_run:
        defaults |= {"rows": 32, "predict_rows": 32, "batch_size": 8, "predict_batch_size": 8,
                     "max_length": 64, "repeats": 1, "chunk_length": 128, "chunk_batch_size": 4,
                     "lengths": [600, 1200]}  # fmt: skip
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.activation_memory_mb is None and not args.from_json:
        args.activation_memory_mb = default_activation_budget()
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.from_json:
        results = json.loads(args.from_json.read_text("utf-8"))
        if args.write_docs:
            write_docs(args.write_docs, results)
        print(f"{dated_line(results)}\n\n{tables(results)}")
        return 0
    with tempfile.TemporaryDirectory(prefix="gpu-throughput-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        return run(args, argv, work)


if __name__ == "__main__":
    sys.exit(main())
