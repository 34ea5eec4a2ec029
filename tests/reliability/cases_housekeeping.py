"""Reliability cases: housekeeping and safety: permissions, temporary files, escaping."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import stat
import subprocess
import sys
import warnings
from pathlib import Path

from cases import Case, Env

DEAD_SUFFIX = "0badc0de.tmp"


def _quiet_train(env: Env, data: Path, output: str = "labelled-run") -> Path:
    """Train the tiny model on ``data`` before the case runs (output hidden)."""
    from longtail.cli import main

    argv = ["train", "--data", str(data), *env.fast(output)]
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(argv) == 0, "training the case's model failed"
    return env.path(output)


def _labelled(env: Env, negative: str, positive: str, name: str = "labelled.csv") -> Path:
    """The usual 40 rows with ham → ``negative`` and spam → ``positive``."""
    relabel = {"ham": negative, "spam": positive}
    return env.csv(name, [(text, relabel[label]) for text, label in env.rows()])


def _train_with_labels(negative: str, positive: str):
    return lambda e: e.train(_labelled(e, negative, positive))


def _predict_with_labels(negative: str, positive: str, output: str = "preds.csv"):
    def build(env: Env) -> list[str]:
        model = _quiet_train(env, _labelled(env, negative, positive))
        return ["predict", "--model", str(model), "--data", str(env.good_csv("new.csv")),
                "--output", str(env.path(output)), "--no-progress"]  # fmt: skip

    return build


def _predict(env: Env, output: str = "preds.csv") -> list[str]:
    return ["predict", "--model", str(env.model()), "--data", str(env.good_csv("new.csv")),
            "--output", str(env.path(output)), "--no-progress"]  # fmt: skip


def _report(env: Env) -> str:
    return (env.path("run") / "report.md").read_text(encoding="utf-8")


def _tables_keep_their_columns(env: Env) -> str | None:
    """Every row of every table in report.md has as many cells as the table's header."""
    expected = None
    for line in _report(env).splitlines():
        if not line.startswith("|"):
            expected = None
            continue
        cells = len(re.split(r"(?<!\\)\|", line)) - 2
        expected = expected or cells
        if cells != expected:
            return f"report.md row with {cells} cells under a header of {expected}: {line}"
    return None


def _no_markup(*forbidden: str):
    def check(env: Env) -> str | None:
        report = _report(env)
        found = [f for f in forbidden if re.search(f, report)]
        return f"report.md holds markup from user data: {found}" if found else None

    return check


def _prediction_cells(env: Env, name: str = "preds.csv") -> list[str]:
    with env.path(name).open(encoding="utf-8", newline="") as handle:
        return [row[1] for row in list(csv.reader(handle))[1:]]


def _cells_quoted(env: Env) -> str | None:
    bad = [c for c in _prediction_cells(env) if not c.startswith("'")]
    return f"formula cells without a leading ': {sorted(set(bad))}" if bad else None


def _cells_exact(*labels: str):
    def check(env: Env) -> str | None:
        bad = sorted(set(_prediction_cells(env)) - set(labels))
        return f"prediction cells changed: {bad}" if bad else None

    return check


def _jsonl_exact(env: Env) -> str | None:
    text = env.path("preds.jsonl").read_text(encoding="utf-8")
    return None if '"prediction": "=1+1"' in text else "the JSON Lines label is not '=1+1'"


_FORMULA_TEXTS = ["=1+1 free cash", "+44 20 7946 0000 call now", "-5 stars, awful", "@team lunch"]


def _formula_data(env: Env) -> list[str]:
    rows = [(text, label) for text, label in env.rows()]
    rows += [(t, "ham") for t in _FORMULA_TEXTS] + [('=HYPERLINK("http://x") win', "spam")]
    data = env.csv("formula.csv", rows)
    return ["make-imbalanced", "--data", str(data), "--kind", "step", "--ratio", "1",
            "--output", str(env.path("out.csv"))]  # fmt: skip


def _data_kept_exactly(env: Env) -> str | None:
    with env.path("out.csv").open(encoding="utf-8", newline="") as handle:
        texts = {row["text"] for row in csv.DictReader(handle)}
    missing = [t for t in [*_FORMULA_TEXTS, '=HYPERLINK("http://x") win'] if t not in texts]
    return f"texts changed in the data file: {missing}" if missing else None


# --- permissions: the umask is process-wide, so a case sets it and its check restores it ------


def _with_umask(mask: int, build):
    def wrapped(env: Env) -> list[str]:
        argv = build(env)
        env.memo["umask"] = os.umask(mask)
        return argv

    return wrapped


def _mode_is(expected: int, name: str = "preds.csv"):
    def check(env: Env) -> str | None:
        if "umask" in env.memo:
            os.umask(env.memo.pop("umask"))
        mode = stat.S_IMODE(env.path(name).stat().st_mode)
        return None if mode == expected else f"{name} has mode {mode:o}, expected {expected:o}"

    return check


def _existing_predictions(env: Env) -> list[str]:
    previous = env.write("preds.csv", "row,prediction\n")
    previous.chmod(0o644)
    return _predict(env)


# --- temporaries of killed writers -------------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=60)
    return child.pid


def _with_stale_temporary(target: str, build):
    """A temporary of ``target`` left by a killed writer, and one of this (live) process."""

    def wrapped(env: Env) -> list[str]:
        argv = build(env)
        folder, name = Path(target).parent, Path(target).name
        stale = env.write(str(folder / f".{name}.{_dead_pid()}.{DEAD_SUFFIX}"), "half written")
        live = env.write(str(folder / f".{name}.{os.getpid()}.{DEAD_SUFFIX}"), "being written")
        env.memo["temporaries"] = (stale, live)
        return argv

    return wrapped


def _stale_removed_live_kept(env: Env) -> str | None:
    stale, live = env.memo["temporaries"]
    if stale.exists():
        return f"the killed writer's {stale.name} is still there"
    if not live.exists():
        return f"the live writer's {live.name} was removed"
    live.unlink()  # this process never finishes that write
    return None


def _evaluate(env: Env) -> list[str]:
    return ["evaluate", "--model", str(env.model()), "--data", str(env.good_csv("test.csv")),
            "--output", str(env.path("eval"))]  # fmt: skip


CASES: list[Case] = [
    # --- report.md: labels and names are user data ---
    Case("report-md-label-with-pipe", "a label containing | is escaped in report.md; its tables keep their columns (success)",
         _train_with_labels("ham", "spam|ads"), "spam\\|ads", code=0,
         check=_tables_keep_their_columns),
    Case("report-md-label-with-html", "a label <script>…</script> appears as text in report.md, not as HTML (success)",
         _train_with_labels("ham", "<script>alert(1)</script>"),
         "&lt;script>alert(1)&lt;/script>", code=0, check=_no_markup("<script")),
    Case("report-md-label-with-link", "a label [win](javascript:…) does not become a link in report.md (success)",
         _train_with_labels("ham", "[win](javascript:alert(1))"),
         "[win\\](javascript:alert(1))", code=0, check=_no_markup(r"(?<!\\)\]\(")),
    Case("report-md-file-name-with-markup", "a training file named **bold**.csv is not bold in report.md (success)",
         lambda e: e.train(e.csv("**bold**.csv", e.rows())), "\\*\\*bold\\*\\*.csv", code=0,
         check=_no_markup(r"(?<!\\)\*\*bold")),
    Case("report-md-plain-labels-unchanged", "ordinary labels (not_spam, sci.space) read as they are in report.md (success)",
         _train_with_labels("not_spam", "sci.space"), "| not_spam ", code=0,
         check=_no_markup(r"not\\_spam", r"sci\\\.space")),
    # --- the predictions CSV is opened in spreadsheets ---
    Case("predict-csv-formula-labels", "predicted labels starting with = or + get a leading ' in the predictions CSV (success)",
         _predict_with_labels("=1+1", "+cmd|' /C calc'!A0"), "wrote 40 predictions", code=0,
         check=_cells_quoted),
    Case("predict-csv-at-and-minus-labels", "predicted labels starting with @ or - (not a number) get a leading ' (success)",
         _predict_with_labels("@SUM(A1:A9)", "-2+3"), "wrote 40 predictions", code=0,
         check=_cells_quoted),
    Case("predict-csv-negative-number-labels", "labels -1 and 1 are numbers, written unchanged in the predictions CSV (success)",
         _predict_with_labels("-1", "1"), "wrote 40 predictions", code=0,
         check=_cells_exact("-1", "1")),
    Case("predict-jsonl-keeps-formula-label", "JSON Lines predictions keep the label =1+1 exactly (success)",
         _predict_with_labels("=1+1", "ham", output="preds.jsonl"), "wrote 40 predictions",
         code=0, check=_jsonl_exact),
    Case("make-imbalanced-keeps-formula-text", "data files keep texts starting with = + - @ exactly: they are read back for training (success)",
         _formula_data, "out.csv (manifest", code=0, check=_data_kept_exactly),
    # --- permissions ---
    Case("predict-umask-022", "under umask 022 the predictions file is created 0644 (success)",
         _with_umask(0o022, _predict), "wrote 40 predictions", code=0, check=_mode_is(0o644)),
    Case("predict-umask-077", "under umask 077 the predictions file is created 0600 (success)",
         _with_umask(0o077, _predict), "wrote 40 predictions", code=0, check=_mode_is(0o600)),
    Case("predict-replaced-file-keeps-mode", "a 0644 predictions file replaced under umask 077 stays 0644 (success)",
         _with_umask(0o077, _existing_predictions), "wrote 40 predictions", code=0,
         check=_mode_is(0o644)),
    # --- temporaries of killed writers ---
    Case("predict-removes-stale-temporary", "a .tmp left by a killed predict is removed by the next predict; a live writer's is kept (success)",
         _with_stale_temporary("preds.csv", _predict), "wrote 40 predictions", code=0,
         check=_stale_removed_live_kept),
    Case("evaluate-removes-stale-temporary", "a report.md .tmp left by a killed evaluate is removed by the next evaluate (success)",
         _with_stale_temporary("eval/report.md", _evaluate), "macro-F1", code=0,
         check=_stale_removed_live_kept),
]  # fmt: skip
