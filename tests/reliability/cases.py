"""Bad-input cases for the command line, defined once.

``test_reliability_cases.py`` runs every case through :func:`longtail.cli.main` and checks what the
user sees; ``make_table.py`` runs the same cases and writes ``docs/reliability.md``. So the table in
the docs is true by construction.

A case builds its files in a temporary directory (:class:`Env`) and returns the CLI arguments. It
states the exit code, a substring the ``error: `` line must contain, and whether ``warning: ``
lines may come before it. Training cases fail before training starts, and the few that succeed
train the tiny test model for two steps, so the whole set runs in seconds.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import shutil
import sys
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "cli"))

from cli_helpers import make_rows, write_csv  # noqa: E402

# Files a finished (or half-finished) run, evaluation or prediction leaves behind.
OUTPUT_NAMES = {"longtail.json", "report.json", "report.md", "head.safetensors"}


@dataclass
class Env:
    """A fresh temporary directory, the tiny test model and a trained run to copy."""

    tmp: Path
    tiny_model: Path
    trained_run: Path
    memo: dict[str, object] = field(default_factory=dict)  # what a build leaves for its check

    def path(self, name: str) -> Path:
        return self.tmp / name

    def csv(self, name: str, rows: list[tuple[str, ...]], header=("text", "label")) -> Path:
        return write_csv(self.tmp / name, rows, header=header)

    def rows(self, n: int = 40, seed: int = 0) -> list[tuple[str, str]]:
        return make_rows(n, 0.25, seed=seed)

    def good_csv(self, name: str = "train.csv") -> Path:
        return self.csv(name, self.rows())

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return path

    def jsonl(self, name: str, records: list[object]) -> Path:
        return self.write(name, "".join(json.dumps(r) + "\n" for r in records))

    def fast(self, output: str = "run") -> list[str]:
        """Flags that make training with the tiny model take a second."""
        return [
            "--model", str(self.tiny_model), "--output", str(self.tmp / output),
            "--epochs", "1", "--max-steps", "2", "--batch-size", "16", "--max-length", "32",
        ]  # fmt: skip

    def train(self, data: Path, *extra: str) -> list[str]:
        return ["train", "--data", str(data), *self.fast(), *extra]

    def model(self) -> Path:
        """A fresh copy of the trained run (cases may damage it)."""
        target = self.tmp / "model"
        shutil.copytree(self.trained_run, target)
        return target


@dataclass(frozen=True)
class Case:
    """One bad input and what the user must see."""

    id: str
    description: str
    build: Callable[[Env], list[str]]
    expect: str  # a substring of the error line (for a success: of stdout or a warning line)
    code: int = 2
    warnings: bool = False  # ``warning: `` lines allowed before the outcome
    check: Callable[[Env], str | None] | None = None  # after the run: a problem, or None


@dataclass
class Outcome:
    argv: list[str]
    code: int | None
    stdout: str
    stderr: str
    new_files: list[str] = field(default_factory=list)
    crash: str | None = None  # a traceback: an exception escaped main()


def train_reference_run(tiny_model: Path, directory: Path) -> Path:
    """Train the small run that the model-directory cases copy and damage."""
    from longtail.cli import main

    directory.mkdir(parents=True, exist_ok=True)
    data = write_csv(directory / "ref-train.csv", make_rows(60, 0.25, seed=1))
    run = directory / "ref-run"
    args = ["train", "--data", str(data), "--model", str(tiny_model), "--output", str(run),
            "--epochs", "1", "--batch-size", "16", "--max-length", "32"]  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(args) == 0, "training the reference run failed"
    return run


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def run_case(case: Case, env: Env) -> Outcome:
    """Build the case's files, run ``main(argv)`` and capture what a user would see."""
    from longtail.cli import main

    argv = case.build(env)
    before = _files(env.tmp)
    out, err = io.StringIO(), io.StringIO()
    code: int | None = None
    crash = None
    root_handlers = logging.root.handlers[:]
    logging.root.handlers = []  # as in a terminal: no pytest log capture, Python's last resort
    try:
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            warnings.catch_warnings(),
        ):
            # Python's default filters, printed on stderr (not recorded by pytest)
            warnings.resetwarnings()
            warnings.simplefilter("default")
            for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning):
                warnings.simplefilter("ignore", category)
            warnings.showwarning = _show_on_stderr
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse
                code = exc.code if isinstance(exc.code, int) else 2
            except Exception:
                crash = traceback.format_exc()
    finally:
        logging.root.handlers = root_handlers
    new = sorted(_files(env.tmp) - before)
    return Outcome(argv, code, out.getvalue(), err.getvalue(), new, crash)


def _show_on_stderr(message, category, filename, lineno, file=None, line=None) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def problems(case: Case, outcome: Outcome, env: Env) -> list[str]:
    """Everything wrong with what the user saw (empty when the case behaves as documented)."""
    found = []
    problem = case.check(env) if case.check is not None else None  # also undoes a build's patch
    if outcome.crash:
        return [f"exception escaped main():\n{outcome.crash}"]
    if problem:
        found.append(problem)
    if outcome.code != case.code:
        found.append(f"exit code {outcome.code}, expected {case.code}")
    lines = outcome.stderr.splitlines()
    if "Traceback" in outcome.stderr:
        found.append("traceback on stderr")
    warning_lines = [line for line in lines if line.startswith("warning: ")]
    other = [line for line in lines if not line.startswith("warning: ")]
    if warning_lines and not case.warnings:
        found.append(f"unexpected warning lines: {warning_lines}")
    if case.code == 0:
        if other:
            found.append(f"stderr lines that are not warnings: {other}")
        if case.expect not in outcome.stdout + outcome.stderr:
            found.append(f"neither stdout nor a warning line contains {case.expect!r}")
        return found
    first = "interrupted; " if case.code == 130 else "error: "  # Ctrl-C, or an error
    if len(other) != 1 or not other[0].startswith(first):
        found.append(f"expected exactly one {first!r} line, got {other}")
    elif case.expect not in shorten(other[0], env):
        found.append(f"error line lacks {case.expect!r}: {other[0]}")
    left = [f for f in outcome.new_files if Path(f).name in OUTPUT_NAMES or "pred" in f]
    if left:
        found.append(f"left files behind: {left}")
    return found


def shorten(text: str, env: Env) -> str:
    """Temporary paths → file names, so the table reads the same on every machine."""
    text = text.replace(str(env.tiny_model), "tiny-bert")
    text = text.replace(str(env.trained_run.parent) + os.sep, "")  # the reference run's data
    text = text.replace(str(env.tmp) + os.sep, "").replace(str(env.tmp), ".")
    return re.sub(r"\s+", " ", text).strip()


# --- the cases ---------------------------------------------------------------------------------


def _three_classes(env: Env) -> Path:
    rows = env.rows(30) + [("money bank fraud alert", "fraud")] * 5
    return env.csv("three.csv", rows)


def _parquet_with_nan_label(env: Env) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = env.rows(20)
    labels = [1.0 if label == "spam" else 0.0 for _, label in rows]
    labels[2] = float("nan")
    path = env.path("nan.parquet")
    pq.write_table(pa.table({"text": [t for t, _ in rows], "label": labels}), path)
    return path


def _tamper(env: Env) -> Path:
    model = env.model()
    head = model / "head.safetensors"
    data = bytearray(head.read_bytes())
    data[-1] ^= 0xFF
    head.write_bytes(bytes(data))
    return model


def _without(env: Env, name: str) -> Path:
    model = env.model()
    (model / name).unlink()
    return model


def _predict(env: Env, model: Path, output: str = "preds.jsonl", data: Path | None = None):
    data = data or env.good_csv("new.csv")
    return ["predict", "--model", str(model), "--data", str(data),
            "--output", str(env.path(output)), "--no-progress"]  # fmt: skip


def _evaluate(env: Env, data: Path, *extra: str) -> list[str]:
    return ["evaluate", "--model", str(env.model()), "--data", str(data),
            "--output", str(env.path("eval")), *extra]  # fmt: skip


def _config(env: Env, text: str) -> list[str]:
    path = env.write("exp.yaml", text)
    return ["train", "--config", str(path), *env.fast()]


CASES: list[Case] = [
    # --- files ---
    Case("train-missing-file", "training file does not exist",
         lambda e: e.train(e.path("nope.csv")), "nope.csv: no such file"),
    Case("train-directory", "a directory that is not a saved dataset",
         lambda e: e.train(e.write("folder/readme.md", "x").parent), "is a directory but not"),
    Case("train-unknown-format", "a .txt file",
         lambda e: e.train(e.write("train.txt", "text,label\n")), "unknown file format '.txt'"),
    Case("train-bad-gzip", ".gz that is not gzip",
         lambda e: e.train(e.write("train.csv.gz", "text,label\n")), "not a valid .gz file"),
    Case("train-gzip-without-extension", "gzip data named .csv",
         lambda e: e.train(e.write("train.csv", __import__("gzip").compress(b"text,label\n"))),
         "gzip-compressed"),
    Case("train-empty-file", "a 0-byte CSV",
         lambda e: e.train(e.write("empty.csv", "")), "empty.csv is empty"),
    Case("train-header-only", "a CSV with a header and no rows",
         lambda e: e.train(e.write("header.csv", "text,label\n")), "has no data rows"),
    Case("train-latin1", "a Latin-1 file",
         lambda e: e.train(e.write("latin.csv", "text,label\ncafé,ham\n".encode("latin-1"))),
         "not valid UTF-8 at line 2"),
    Case("train-utf16", "a UTF-16 file (Excel 'Unicode text')",
         lambda e: e.train(e.write("utf16.csv", "text,label\nhi,ham\n".encode("utf-16"))),
         "UTF-16"),
    Case("train-utf8-bom", "UTF-8 with a byte-order mark is accepted (success)",
         lambda e: e.train(e.write("bom.csv", e.good_csv().read_text("utf-8").encode("utf-8-sig")),
                           "--seed", "1"), "task: binary", code=0),
    Case("train-unknown-text-column", "--text-column names no column (columns listed)",
         lambda e: e.train(e.good_csv(), "--text-column", "body"),
         "available columns: 'text', 'label'"),
    Case("train-unknown-label-column", "--label-column names no column",
         lambda e: e.train(e.good_csv(), "--label-column", "category"), "no label column"),
    Case("train-duplicate-columns", "two columns called text",
         lambda e: e.train(e.csv("dup.csv", [("a", "b", "ham")], header=("text", "text", "label"))),
         "duplicate column name(s) 'text'"),
    Case("train-ragged-row", "a CSV row with an unquoted comma",
         lambda e: e.train(e.write("ragged.csv", "text,label\nhi,ham\nfree, cash,spam\n")),
         "line 3: 3 field(s) but the header has 2"),
    Case("train-bad-quoting", "an unterminated quote swallows the rest of the file",
         lambda e: e.train(e.write("quote.csv", 'text,label\n"hi,ham\nfree cash,spam\n')),
         "quote.csv line 2: unterminated quote"),
    Case("train-malformed-jsonl", "a broken JSON line (line number)",
         lambda e: e.train(e.write("bad.jsonl", '{"text": "hi", "label": "ham"}\n{"text": "a",\n')),
         "bad.jsonl line 2: not valid JSON"),
    Case("train-jsonl-not-object", "a JSON Lines line that is a list",
         lambda e: e.train(e.write("list.jsonl", '{"text": "hi", "label": "ham"}\n["a", "b"]\n')),
         "line 2: expected a JSON object"),
    Case("train-jsonl-duplicate-key", "a JSON object with the key text twice",
         lambda e: e.train(e.write("dupkey.jsonl", '{"text": "a", "text": "b", "label": "x"}\n')),
         "duplicate key(s) 'text'"),
    Case("train-jsonl-text-is-list", "the text field holds a list",
         lambda e: e.train(e.jsonl("tl.jsonl", [{"text": ["a", "b"], "label": "x"}])),
         "row 1: text column 'text' holds a list"),
    Case("train-json-too-deep", "a label nested 5,000 lists deep",
         lambda e: e.train(e.write("deep.jsonl",
                                   '{"text": "a", "label": ' + "[" * 5000 + "]" * 5000 + "}\n")),
         "nested too deeply"),
    # --- texts ---
    Case("train-all-texts-empty", "every text is blank",
         lambda e: e.train(e.csv("blank.csv", [(" ", lab) for _, lab in e.rows()])),
         "every row"),
    Case("train-some-texts-empty", "two blank texts are dropped with a warning (success)",
         lambda e: e.train(e.csv("some.csv", [*e.rows(), ("", "ham"), ("  ", "spam")])),
         "2 row(s) have empty text", code=0, warnings=True),
    Case("train-strict-empty-texts", "--strict turns blank texts into an error",
         lambda e: e.train(e.csv("some.csv", [*e.rows(), ("", "ham")]), "--strict"),
         "fill in the text"),
    # --- labels ---
    Case("train-missing-label", "a row without a label",
         lambda e: e.train(e.csv("nolabel.csv", [*e.rows(), ("free cash", "")])),
         "have no value in label column 'label' (rows 42)"),
    Case("train-nan-label-parquet", "a NaN label in Parquet",
         lambda e: e.train(_parquet_with_nan_label(e)), "(rows 3)"),
    Case("train-label-is-object", "a JSON object as a label",
         lambda e: e.train(e.jsonl("obj.jsonl", [{"text": "a", "label": {"k": 1}}] * 2)),
         "the label is an object"),
    Case("train-single-class", "every row has the same label",
         lambda e: e.train(e.csv("one.csv", [(t, "ham") for t, _ in e.rows()])),
         "only one class 'ham'"),
    Case("train-class-with-one-example", "a class with one row is kept in training, with a warning (success)",
         lambda e: e.train(e.csv("rare.csv", [*e.rows(), ("bank fraud alert", "fraud")])),
         "class 'fraud' has only one example: kept in training", code=0, warnings=True),
    Case("train-binary-with-3-classes", "--task binary on three classes",
         lambda e: e.train(_three_classes(e), "--task", "binary"),
         "task 'binary' needs exactly 2 classes"),
    Case("train-positive-label-absent", "--positive-label that is not a class",
         lambda e: e.train(e.good_csv(), "--positive-label", "fraud"),
         "positive_label 'fraud' is not a class"),
    Case("train-positive-label-multiclass", "--positive-label on a multiclass task",
         lambda e: e.train(_three_classes(e), "--positive-label", "spam"),
         "only applies to binary tasks"),
    Case("train-delimiter-with-binary", "--label-delimiter with --task binary",
         lambda e: e.train(e.good_csv(), "--label-delimiter", "|", "--task", "binary"),
         "label_delimiter='|'"),
    Case("train-json-list-labels-in-csv", "CSV cells holding JSON lists are multilabel",
         lambda e: e.train(e.csv("ml.csv", [("free cash", '["spam", "money"]'), ("hi", '["ham"]')]),
                           "--task", "multiclass"),
         "some labels are lists"),
    Case("train-validation-unknown-label", "--validation-data has a label training lacks",
         lambda e: e.train(e.good_csv(), "--validation-data",
                           str(e.csv("val.csv", [("hi", "ham"), ("bank alert", "fraud")]))),
         "val.csv row 3: unknown label 'fraud'"),
    # --- config ---
    Case("config-missing-file", "--config file does not exist",
         lambda e: ["train", "--config", str(e.path("nope.yaml"))], "nope.yaml does not exist"),
    Case("config-yaml-syntax-error", "a YAML syntax error",
         lambda e: _config(e, "train:\n  epochs: [1\n"), "not valid YAML"),
    Case("config-yaml-top-level-list", "a YAML list instead of sections",
         lambda e: _config(e, "- train\n- epochs\n"), "the top level must be a mapping"),
    Case("config-unknown-key", "a misspelt key (valid keys listed)",
         lambda e: e.train(e.good_csv(), "train.lrr=1e-3"), "unknown key 'train.lrr'; valid keys"),
    Case("config-unknown-section-key-in-file", "an unknown key in the YAML file",
         lambda e: _config(e, f"data:\n  train: {e.good_csv()}\n  txt_column: body\n"),
         "unknown key 'data.txt_column'"),
    Case("config-bad-type", "a word where a number belongs",
         lambda e: e.train(e.good_csv(), "train.epochs=three"), "train.epochs"),
    Case("config-negative-lr", "--lr -1",
         lambda e: e.train(e.good_csv(), "--lr", "-1"), "train.lr: Input should be greater than 0"),
    Case("config-val-fraction-out-of-range", "--val-fraction 1.5",
         lambda e: e.train(e.good_csv(), "--val-fraction", "1.5"), "data.val_fraction"),
    Case("config-malformed-override", "an override without '='",
         lambda e: e.train(e.good_csv(), "train.epochs2"), "must look like section.key=value"),
    Case("config-override-not-a-section", "an override below a plain value",
         lambda e: e.train(e.good_csv(), "output.dir=x"), "'output' is not a section"),
    Case("config-parameters-without-name", "loss.pos_weight=sqrt_ratio with no loss named",
         lambda e: e.train(e.good_csv(), "loss.pos_weight=sqrt_ratio"),
         "loss sets loss.pos_weight but no loss.name"),
    Case("config-unknown-threshold-objective", "decision.objective=auc",
         lambda e: e.train(e.good_csv(), "decision.objective=auc"), "decision.objective"),
    Case("config-floor-out-of-range", "--threshold-floor 1.5",
         lambda e: e.train(e.good_csv(), "--threshold-floor", "1.5"), "decision.floor"),
    Case("config-no-data", "no --data and no data.train",
         lambda e: ["train", *e.fast()], "no training data"),
    Case("loss-unknown", "--loss nosuchloss (valid names listed)",
         lambda e: e.train(e.good_csv(), "--loss", "nosuchloss"), "unknown loss 'nosuchloss'"),
    Case("loss-wrong-task", "--loss asymmetric on a binary task",
         lambda e: e.train(e.good_csv(), "--loss", "asymmetric"),
         "loss 'asymmetric' does not support task 'binary'"),
    Case("loss-bad-parameter", "loss.gama=2 (a misspelt parameter)",
         lambda e: e.train(e.good_csv(), "--loss", "focal", "loss.gama=2"), "gama"),
    Case("sampler-unknown", "--sampler nosuch (valid names listed)",
         lambda e: e.train(e.good_csv(), "--sampler", "nosuch"), "class_balanced"),
    # --- runs and model directories ---
    Case("train-model-path-missing", "--model points to a directory that does not exist",
         lambda e: [*e.train(e.good_csv()), "--model", str(e.path("no-such-model"))],
         "model directory no-such-model does not exist"),
    Case("train-output-holds-run", "--output already holds a finished run",
         lambda e: [*e.train(e.good_csv()), "--output", str(e.model())], "--overwrite"),
    Case("train-resume-changed-settings", "--resume with another learning rate",
         lambda e: [*e.train(e.good_csv()), "--output", str(e.model()), "--resume", "--lr", "0.5"],
         "other data or settings"),
    Case("predict-model-missing", "--model does not exist",
         lambda e: _predict(e, e.path("nomodel")), "model directory nomodel does not exist"),
    Case("predict-missing-head", "the model directory lacks head.safetensors",
         lambda e: _predict(e, _without(e, "head.safetensors")), "is missing head.safetensors"),
    Case("predict-missing-meta", "the model directory lacks longtail.json",
         lambda e: _predict(e, _without(e, "longtail.json")), "longtail.json is missing"),
    Case("predict-tampered-weights", "head.safetensors changed after training",
         lambda e: _predict(e, _tamper(e)), "does not match the hash"),
    Case("predict-bad-output-extension", "--output preds.txt",
         lambda e: _predict(e, e.model(), output="preds.txt"), "use a .jsonl or .csv"),
    Case("predict-unknown-text-column", "the input has no text column",
         lambda e: _predict(e, e.model(), data=e.csv("body.csv", [("hi", "x")], ("body", "id"))),
         "has no column 'text'"),
    Case("evaluate-unknown-label", "a label the model was not trained on",
         lambda e: _evaluate(e, e.csv("new.csv", [("free cash", "phishing"), ("hi", "ham")])),
         "new.csv row 2: unknown label 'phishing'"),
    Case("evaluate-missing-label-column", "the file has no label column",
         lambda e: _evaluate(e, e.csv("texts.csv", [("hi",)], ("text",))), "no label column"),
    Case("train-unknown-strategy", "--strategy with a name that is not registered",
         lambda e: e.train(e.good_csv(), "--strategy", "warmup"),
         "unknown strategy 'warmup'; valid names: auto, crt, drw, linear_probe, lp_ft, lws, prefinetune_da, tau_norm, vanilla"),
    Case("train-negative-aux-weight", "an auxiliary loss with λ < 0",
         lambda e: e.train(e.good_csv(), "--aux-loss", "supcon", "--aux-weight", "-1"),
         "aux_loss.weight (λ) must be >= 0"),
    Case("train-augment-ratio-out-of-range", "--augment-ratio outside (0, 1]",
         lambda e: e.train(e.good_csv(), "--augment", "eda", "--augment-ratio", "1.5"),
         "augment.target_ratio"),
    Case("train-back-translation-without-models", "--augment back_translation without models",
         lambda e: e.train(e.good_csv(), "--augment", "back_translation"), "back_translation needs"),
    Case("train-sam-with-accumulation", "--sam with gradient accumulation",
         lambda e: e.train(e.good_csv(), "--sam", "sam", "--grad-accum", "2"),
         "sam needs train.grad_accum=1"),
    Case("compare-baseline-not-a-variant", "an experiment whose baseline is not one of its variants",
         lambda e: ["compare", str(e.write("exp.yaml", "base: {data: {train: t.csv}}\nvariants: {a: {}}\nbaseline: b\n"))],
         "baseline 'b' is not a variant; variants: a"),
    Case("compare-unknown-key", "an experiment file with a misspelt key",
         lambda e: ["compare", str(e.write("exp.yaml", "base: {data: {train: t.csv}}\nvarients: {a: {}}\n"))],
         "unknown key 'varients'"),
    Case("datasets-export-unknown", "datasets export of an unknown name",
         lambda e: ["datasets", "export", "nosuch", "--output", str(e.path("x.csv"))],
         "unknown dataset 'nosuch'"),
]  # fmt: skip
