"""Run an experiment grid cell by cell, resumably, and summarise it.

Layout of the output directory::

    folds/fold0/{train,test}.jsonl   the stratified folds (written once; same for every cell)
    folds/manifest.json              which file and label counts the folds were cut from
    cells/<variant>/<key>.json       one finished cell: its metrics and per-class F1 (atomic)
    cells/<variant>/<key>/           the cell's run directory (reports; the model only with
                                     keep_models: true; the logits when a variant differing
                                     only in decision.* is decided from them, see .redecide)
    augment-cache/                   generated texts shared by every cell
    comparison.{json,md,html}        the summary

A cell counts as done when its JSON exists and records the settings the experiment file still
gives it (:mod:`.settings`); rerunning the command skips done cells, retrains cells whose settings
changed, and resumes an interrupted cell from its last epoch checkpoint, so a killed grid loses at
most one epoch.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from longtail.data import stratified_kfold
from longtail.errors import LongtailError
from longtail.evaluation.anchor import anchor_scores
from longtail.evaluation.convergence import still_improving
from longtail.experiments.redecide import (
    DECISION_INPUTS,
    decide_from,
    keeps_decision_inputs,
    trained_twin,
)
from longtail.experiments.settings import (
    cell_settings,
    changed_settings,
    for_task,
    saved_settings,
)
from longtail.experiments.spec import Cell, ExperimentSpec
from longtail.experiments.summary import summarize, write_summary
from longtail.fingerprint import file_digest
from longtail.io_utils import atomic_write_bytes, atomic_write_json
from longtail.logs import info

REPORT_FILES = ("report.json", "report.md", "report.html")
SETTINGS_FILE = "cell-settings.json"  # beside a cell's run directory while it trains


def _write_jsonl(
    path: Path, table: Any, rows: np.ndarray, text_column: str, label_column: str, extra: list[str]
) -> None:
    lines = []
    for i in rows:
        record: dict[str, Any] = {text_column: table.texts[i], label_column: table.labels[i]}
        for j, name in enumerate(extra):
            record[name] = float(table.extra[i, j])
        lines.append(json.dumps(record, ensure_ascii=False, default=str))
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))


def prepare_folds(
    spec: ExperimentSpec, log: Callable[[str], None]
) -> tuple[list[str], dict[str, int], list[dict[str, str]] | None]:
    """``(label names, training class counts, fold files or None)``; folds cut once, reused."""
    from longtail.data.prepare import fit_labels, read_labelled

    config = spec.variant_config(spec.baseline)
    if spec.folds is not None:
        data_keys = {
            name: (
                c.data.train,
                c.data.text_column,
                c.data.label_column,
                c.data.label_delimiter,
                c.data.task,
            )
            for name in spec.variants
            for c in [spec.variant_config(name)]
        }
        if len(set(data_keys.values())) > 1:
            raise LongtailError(
                f"{spec.source}: with folds every variant must read the same data.train and columns; "
                "compare models on other data in another experiment"
            )
    data = config.data
    table = read_labelled(data.train, data)
    space, y = fit_labels(table, data)
    counts = dict(zip(space.names, space.counts(y).astype(int).tolist(), strict=True))
    if spec.folds is None:
        return space.names, counts, None
    folds_dir = spec.output / "folds"
    manifest_path = folds_dir / "manifest.json"
    manifest = {
        "source": str(data.train), "digest": file_digest(data.train), "folds": spec.folds,
        "fold_seed": spec.fold_seed, "rows": len(table.texts), "class_counts": counts,
    }  # fmt: skip
    files = [
        {
            "train": str(folds_dir / f"fold{k}" / "train.jsonl"),
            "test": str(folds_dir / f"fold{k}" / "test.jsonl"),
        }
        for k in range(spec.folds)
    ]
    if manifest_path.is_file():
        previous = json.loads(manifest_path.read_text(encoding="utf-8"))
        if previous != manifest:
            raise LongtailError(
                f"{spec.output} holds folds cut from other data or settings ({previous.get('source')}); "
                "choose another output directory"
            )
        if all(Path(f["train"]).is_file() and Path(f["test"]).is_file() for f in files):
            return space.names, counts, files
    splits = stratified_kfold(
        y,
        space.task,
        n_splits=spec.folds,
        seed=spec.fold_seed,
        names=space.names,
        source=table.source,
    )
    for (train_rows, test_rows), paths in zip(splits, files, strict=True):
        for rows, key in ((train_rows, "train"), (test_rows, "test")):
            _write_jsonl(
                Path(paths[key]),
                table,
                rows,
                data.text_column,
                data.label_column,
                list(data.extra_features),
            )
    atomic_write_json(manifest_path, manifest)
    log(f"{spec.folds} stratified folds of {len(table.texts)} rows written to {folds_dir}")
    return space.names, counts, files


def cell_settings_path(run_dir: Path) -> Path:
    """Where an unfinished cell's settings wait, beside its run directory (which is replaced)."""
    return run_dir.with_name(f"{run_dir.name}.{SETTINGS_FILE}")


def _cell_paths(spec: ExperimentSpec, cell: Cell) -> tuple[Path, Path]:
    base = spec.output / "cells" / cell.variant
    return base / f"{cell.key}.json", base / cell.key


def cell_run_dir(spec: ExperimentSpec, cell: Cell) -> Path:
    """The directory holding a cell's run (report, and for a trained twin its logits)."""
    return _cell_paths(spec, cell)[1]


def _cell_config(
    spec: ExperimentSpec, cell: Cell, folds: list[dict[str, str]] | None, run_dir: Path
):
    updates: dict[str, Any] = {"train.seed": cell.seed, "output": str(run_dir)}
    if folds is not None:
        updates |= {
            "data.train": folds[cell.fold]["train"],
            "data.test": folds[cell.fold]["test"],
            "data.validation": None,
        }
    config = spec.variant_config(cell.variant, **updates)
    if config.augment.cache_dir is None:  # one generation cache for the whole grid
        config.augment.cache_dir = str(spec.output / "augment-cache")  # validated on assignment
    return config


def run_cell(
    spec: ExperimentSpec, cell: Cell, folds: list[dict[str, str]] | None, log: Callable[[str], None]
) -> dict[str, Any]:
    from longtail.decision.fit import save_decision_inputs
    from longtail.training.output import resumable_directory
    from longtail.training.run import run_training

    result_path, run_dir = _cell_paths(spec, cell)
    config = _cell_config(spec, cell, folds, run_dir)
    settings = cell_settings(spec, cell)
    started = time.perf_counter()
    resume = resumable_directory(run_dir) is not None
    settings_path = cell_settings_path(run_dir)
    if resume and settings_path.is_file():
        interrupted = saved_settings(json.loads(settings_path.read_text(encoding="utf-8")))
        if changed := changed_settings(interrupted, settings):
            log(
                f"settings changed since this cell was interrupted ({', '.join(changed[:4])}); starting over"
            )
            resume = False  # run_training(overwrite=True) drops the old checkpoint
    atomic_write_json(settings_path, settings)
    result = run_training(config, resume=resume, overwrite=True, log=log)
    record = _record(spec, cell, result.report, settings, time.perf_counter() - started)
    kept = REPORT_FILES
    if result.decision_inputs is not None and keeps_decision_inputs(
        spec, cell, result.decision_inputs
    ):
        save_decision_inputs(result.decision_inputs, run_dir / DECISION_INPUTS)
        kept += (DECISION_INPUTS,)
    if not spec.keep_models:
        for child in run_dir.iterdir():
            if child.name not in kept:
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    atomic_write_json(result_path, record)
    settings_path.unlink(missing_ok=True)  # the record holds the settings now
    return record


def decide_cell(spec: ExperimentSpec, cell: Cell, twin: Cell) -> dict[str, Any]:
    """Finish ``cell`` from ``twin``'s saved logits (:mod:`.redecide`) instead of training it."""
    started = time.perf_counter()
    result_path, run_dir = _cell_paths(spec, cell)
    report = decide_from(spec, cell, twin, _cell_paths(spec, twin)[1], run_dir)
    record = _record(spec, cell, report, cell_settings(spec, cell), time.perf_counter() - started)
    record["decided_from"] = twin.variant
    atomic_write_json(result_path, record)
    return record


def _record(
    spec: ExperimentSpec,
    cell: Cell,
    report: dict[str, Any],
    settings: dict[str, Any],
    seconds: float,
) -> dict[str, Any]:
    """What a finished cell saves: its metrics, per-class F1 and support, and its settings."""
    metrics = report["metrics"]
    record = {
        "variant": cell.variant, "seed": cell.seed, "fold": cell.fold, "key": cell.key,
        "task": report.get("task"), "split": report.get("split"),
        "metrics": {m: metrics.get(m) for m in spec.metrics},
        "per_class_f1": {row["label"]: row.get("f1") for row in metrics.get("per_class", [])},
        "per_class_support": _per_class_support(report),
        "best_epoch": report["training"].get("best_epoch"),
        "still_improving": _still_improving(report),
        "seconds": round(seconds, 1),
        "settings": settings,
        "anchor": anchor_scores(report),  # the cell's training rows, another model
    }  # fmt: skip
    missing = [m for m, v in record["metrics"].items() if not isinstance(v, (int, float))]
    if missing:
        raise LongtailError(
            f"{spec.source}: metric {missing[0]!r} is not in the report of {cell.name}; "
            "use names from report.json's metrics, e.g. f1_macro, pr_auc_macro, mcc"
        )
    return record


def _saved_report(run_dir: Path) -> dict[str, Any]:
    """A finished cell's ``report.json`` (``{}`` when missing or unreadable), for what records
    saved by older versions lack: the task, the per-class support."""
    try:
        report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return report if isinstance(report, dict) else {}


def _still_improving(report: dict[str, Any]) -> dict[str, Any] | None:
    """Whether the cell's model was still learning when training stopped, from its history (so
    reports written before the training section recorded it answer too)."""
    training = report.get("training") or {}
    return still_improving(
        training.get("history") or [], str(training.get("early_stopping_metric") or "score")
    )


def _per_class_support(report: dict[str, Any]) -> dict[str, int]:
    """Test examples per class in one cell's report (how far its per-class F1 can be trusted)."""
    rows = report.get("metrics", {}).get("per_class", [])
    return {row["label"]: int(row["support"]) for row in rows if row.get("support") is not None}


@dataclass
class GridState:
    """The finished cells on disk, checked against the experiment file."""

    done: dict[Cell, dict[str, Any]] = field(default_factory=dict)
    #: finished cells trained with other settings -> the dotted keys that changed; they rerun
    stale: dict[Cell, list[str]] = field(default_factory=dict)
    #: finished cells saved before cells recorded their settings: reused, but unchecked
    unchecked: set[Cell] = field(default_factory=set)


def load_done(spec: ExperimentSpec) -> dict[Cell, dict[str, Any]]:
    """The finished cells that still match the experiment file (see :func:`scan_cells`)."""
    return scan_cells(spec).done


def scan_cells(spec: ExperimentSpec) -> GridState:
    state = GridState()
    for cell in spec.cells():
        path, run_dir = _cell_paths(spec, cell)
        if not path.is_file():
            continue
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            path.unlink()  # a torn file cannot exist (atomic writes), but never trust one
            continue
        report = None  # older records lack the task or the support: read at most once, lazily
        if "settings" not in record:
            state.unchecked.add(cell)
        elif changed := changed_settings(
            saved_settings(record["settings"]), cell_settings(spec, cell)
        ):
            task = record.get("task")
            if task is None and any("@" in key for key in changed):
                report = _saved_report(run_dir)
                task = record["task"] = report.get("task")  # for twin matching too
            if changed := for_task(changed, task):
                state.stale[cell] = changed
                continue
        if "per_class_support" not in record and (run_dir / "report.json").is_file():
            # a cell saved before the support was recorded: its report still has it
            report = _saved_report(run_dir) if report is None else report
            record["per_class_support"] = _per_class_support(report)
        if "still_improving" not in record and (run_dir / "report.json").is_file():
            report = _saved_report(run_dir) if report is None else report
            record["still_improving"] = _still_improving(report)
        state.done[cell] = record
    return state


def describe_state(state: GridState, cells: list[Cell], output: Path) -> list[str]:
    """Log lines about the finished cells of ``cells`` that are retrained or reused unchecked."""
    lines = []
    stale = [c for c in cells if c in state.stale]
    if stale:
        keys = sorted({k for c in stale for k in state.stale[c]})
        shown = ", ".join(keys[:6]) + (f" and {len(keys) - 6} more" if len(keys) > 6 else "")
        lines.append(
            f"{len(stale)} finished cell(s) were trained with other settings and run again "
            f"(changed: {shown}; first: {stale[0].name})"
        )
    unchecked = [c for c in cells if c in state.unchecked]
    if unchecked:
        lines.append(
            f"{len(unchecked)} finished cell(s) were saved without their settings (before longtail "
            f"recorded them) and are reused unchecked; delete {output}/cells/<variant>/ to retrain them"
        )
    return lines


def shard_cells(cells: list[Cell], shard: tuple[int, int] | None) -> list[Cell]:
    """The cells of shard ``(i, n)``: every n-th cell starting at i (all cells when ``None``).

    Cells are in seed-major grid order, so each shard gets a mix of variants and seeds.
    """
    if shard is None:
        return list(cells)
    index, count = shard
    if count < 1 or not 0 <= index < count:
        raise LongtailError(f"shard {index}/{count} is not valid; use I/N with 0 <= I < N")
    return list(cells[index::count])


def run_comparison(
    spec: ExperimentSpec,
    *,
    verbose: bool = False,
    log: Callable[[str], None] = info,
    shard: tuple[int, int] | None = None,
    train: bool = True,
) -> dict[str, Any]:
    """Train every missing cell, then write ``comparison.{json,md,html}``; returns the summary.

    ``train=False`` trains nothing: the comparison of the cells finished so far (a grid still
    running in other processes, or one stopped halfway), marked as not complete.

    ``shard=(i, n)`` trains only the cells of that shard, so n processes (one per GPU, or one per
    machine on a shared disk) can split a grid: each cell's result is its own atomically written
    file, and every process summarises all the cells on disk when it finishes, so the last one to
    finish writes the complete comparison.
    """
    spec.output.mkdir(parents=True, exist_ok=True)
    labels, class_counts, folds = prepare_folds(spec, log)
    cells = spec.cells()
    mine = shard_cells(cells, shard)
    state = scan_cells(spec)
    done = state.done
    pending = [c for c in mine if c not in done]
    todo = pending if train else []
    part = f" (shard {shard[0]}/{shard[1]}: {len(mine)} cells)" if shard else ""
    log(
        f"{len(cells)} cells: {len(spec.variants)} variants × {len(spec.seeds)} seeds × "
        f"{spec.folds or 1} {'folds' if spec.folds else 'fixed split'}{part}; "
        f"{len(done)} done, {len(pending)} " + ("to run" if train else "not run (summary only)")
    )
    for line in describe_state(state, mine, spec.output):
        log(line)
    started = time.perf_counter()
    bar = tqdm(
        total=len(mine), initial=len(mine) - len(todo), desc="compare", unit="cell", disable=None
    )
    for cell in todo:
        bar.set_postfix_str(cell.name)
        cell_log = (
            (lambda m, c=cell: bar.write(f"  [{c.name}] {m}")) if verbose else (lambda _m: None)
        )
        twin = trained_twin(spec, cell, done, partial(cell_run_dir, spec))
        record = decide_cell(spec, cell, twin) if twin else run_cell(spec, cell, folds, cell_log)
        done[cell] = record
        bar.update(1)
        headline = ", ".join(f"{m} {record['metrics'][m]:.4f}" for m in spec.metrics[:3])
        how = f"decided from {twin.variant}'s training" if twin else f"{record['seconds']:.0f}s"
        bar.write(f"{cell.name}: {headline} ({how})")
    bar.close()
    if shard:  # other shards may have finished cells meanwhile
        done = load_done(spec)
    summary = summarize(spec, list(done.values()), labels, class_counts)
    summary["wall_seconds"] = round(sum(r.get("seconds", 0.0) for r in done.values()), 1)
    summary["this_session_seconds"] = round(time.perf_counter() - started, 1)
    write_summary(summary, spec.output)
    return summary
