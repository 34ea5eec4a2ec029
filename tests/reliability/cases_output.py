"""Reliability cases: the output location: data loss, same-file outputs, locks, inputs checked before training.

The cases that must not destroy anything carry a ``check``: the finished model they were pointed
at is byte for byte what it was, and a failed run leaves no directory, partial run or lock behind.
"""

from __future__ import annotations

import fcntl
import hashlib
from pathlib import Path

from cases import Case, Env, _evaluate, _predict


def _digest(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _kept_model(e: Env) -> Path:
    """A finished run the case points ``--output`` at; its digest is checked afterwards."""
    model = e.model()
    e.memo["model"], e.memo["digest"] = model, _digest(model)
    return model


def _model_untouched(e: Env) -> str | None:
    model = e.memo["model"]
    if _digest(model) != e.memo["digest"]:
        return f"the finished run in {model.name} was changed"
    return _no_leftovers(e)


def _no_leftovers(e: Env) -> str | None:
    left = [p.name for p in e.tmp.iterdir() if p.name in ("run", ".run.partial", ".run.lock")]
    left += [p.name for p in e.tmp.iterdir() if p.name.endswith((".partial", ".lock"))]
    return f"a failed run left {sorted(set(left))}" if left else None


def _overwrite(e: Env, data: Path, *extra: str) -> list[str]:
    return [*e.train(data, *extra), "--output", str(_kept_model(e)), "--overwrite"]


def _hold(e: Env, path: Path, pid: str, *, shared: bool = False) -> Path:
    """Hold ``path`` as another process would (the descriptor lives as long as the case)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("w")
    fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
    handle.write(f"{pid}\n")
    handle.flush()
    e.memo.setdefault("held", []).append(handle)
    return path


def _interrupted(e: Env) -> list[str]:
    (e.path(".run.partial") / "checkpoint" / "vanilla").mkdir(parents=True)
    return e.train(e.good_csv())


def _data_in_run(e: Env) -> list[str]:
    model = _kept_model(e)
    data = model / "train.csv"
    data.write_text(e.good_csv().read_text(encoding="utf-8"), encoding="utf-8")
    e.memo["digest"] = _digest(model)
    return [*e.train(data), "--output", str(model), "--overwrite"]


def _symlinked_output(e: Env) -> list[str]:
    data = e.good_csv("data.csv")
    e.path("preds.csv").symlink_to(data)
    return _predict(e, e.model(), output="preds.csv", data=data)


def _foreign(e: Env) -> list[str]:
    e.write("thesis/chapter1.tex", "\\section{Intro}")
    return [*e.train(e.good_csv()), "--output", str(e.path("thesis"))]


def _same_file(command: str, *flags: str):
    def build(e: Env) -> list[str]:
        data = str(e.good_csv("data.csv"))
        return [command, "--data", data, *flags, "--output", data]

    return build


def _evaluate_into_model(e: Env) -> list[str]:
    model = _kept_model(e)
    return [
        "evaluate", "--model", str(model), "--data", str(e.good_csv()), "--output", str(model),
    ]  # fmt: skip


def _unknown_test_label(e: Env) -> Path:
    return e.csv("test.csv", [("free cash now", "phishing"), ("hi", "ham")])


CASES: list[Case] = [
    # --- a finished run is never destroyed ---
    Case("train-overwrite-missing-data", "--overwrite with a typo in --data keeps the old model",
         lambda e: _overwrite(e, e.path("trian.csv")), "trian.csv: no such file",
         check=_model_untouched),
    Case("train-overwrite-empty-data", "--overwrite with an empty data file keeps the old model",
         lambda e: _overwrite(e, e.write("empty.csv", "")), "empty.csv is empty",
         check=_model_untouched),
    Case("train-overwrite-bad-test-labels", "--overwrite whose --test-data has an unseen label",
         lambda e: _overwrite(e, e.good_csv(), "--test-data", str(_unknown_test_label(e))),
         "test.csv row 2: unknown label 'phishing'", check=_model_untouched),
    Case("train-overwrite-data-inside-run", "--data lies inside the run that --overwrite replaces",
         _data_in_run, "lies inside --output", check=_model_untouched),
    Case("train-overwrite-succeeds", "--overwrite of a finished run, swapped in whole (success)",
         lambda e: _overwrite(e, e.good_csv(), "--seed", "3"), "model and report written",
         code=0, check=lambda e: _no_leftovers(e) or (
             None if _digest(e.memo["model"]) != e.memo["digest"] else "the old run is still there")),
    # --- every input is read and checked before the first step ---
    Case("train-test-data-missing", "--test-data names no file (before the model loads)",
         lambda e: e.train(e.good_csv(), "--test-data", str(e.path("tset.csv"))),
         "tset.csv: no such file or directory; check the path (--test-data)", check=_no_leftovers),
    Case("train-test-data-unknown-label", "--test-data with a label training lacks (before training)",
         lambda e: e.train(e.good_csv(), "--test-data", str(_unknown_test_label(e))),
         "test.csv row 2: unknown label 'phishing'", check=_no_leftovers),
    Case("train-test-data-latin1", "--test-data in Latin-1 (before training)",
         lambda e: e.train(e.good_csv(), "--test-data",
                           str(e.write("t.csv", "text,label\ncafé,ham\n".encode("latin-1")))),
         "not valid UTF-8 at line 2", check=_no_leftovers),
    Case("train-validation-data-missing", "--validation-data names no file",
         lambda e: e.train(e.good_csv(), "--validation-data", str(e.path("vla.csv"))),
         "vla.csv: no such file or directory; check the path (--validation-data)",
         check=_no_leftovers),
    # --- the output location ---
    Case("train-output-is-a-file", "--output names an existing file",
         lambda e: [*e.train(e.good_csv()), "--output", str(e.good_csv("out.csv"))],
         "is a file, not a directory"),
    Case("train-output-under-a-file", "--output below a file",
         lambda e: [*e.train(e.good_csv()), "--output", str(e.good_csv("out.csv") / "run")],
         "out.csv is a file, not a folder"),
    Case("train-output-foreign-directory", "--output is a folder of the user's own files",
         _foreign, "already exists and is not a longtail run (1 entries: chapter1.tex)"),
    Case("train-cache-inside-output", "--cache-dir inside --output (the swap would delete it)",
         lambda e: e.train(e.good_csv(), "--cache-dir", str(e.path("run/cache"))),
         "--cache-dir run/cache lies inside --output run"),
    Case("train-output-in-use", "another run holds --output (its pid is named)",
         lambda e: [*e.train(e.good_csv()), *(_hold(e, e.path(".run.lock"), "4242") and [])],
         "run is in use by another longtail run (pid 4242)"),
    Case("train-interrupted-run-waiting", "an interrupted run waits: no --resume, no --overwrite",
         _interrupted, "an interrupted run of run is waiting in .run.partial; pass --resume"),
    # --- never write over an input ---
    Case("predict-output-is-input", "predict --output is the --data file",
         lambda e: _predict(e, e.model(), output="new.csv", data=e.good_csv("new.csv")),
         "--output new.csv is the same file as --data new.csv"),
    Case("predict-output-is-input-by-link", "predict --output is a symbolic link to --data",
         _symlinked_output, "is the same file as --data data.csv"),
    Case("make-imbalanced-output-is-input", "make-imbalanced --output is the --data file",
         _same_file("make-imbalanced", "--kind", "step", "--ratio", "0.5"),
         "--output data.csv is the same file as --data"),
    Case("augment-output-is-input", "augment --output is the --data file",
         _same_file("augment", "--method", "eda", "--target-ratio", "0.5"),
         "--output data.csv is the same file as --data"),
    Case("evaluate-output-is-model", "evaluate --output is the model directory (its report)",
         _evaluate_into_model, "is the same file as --model", check=_model_untouched),
    Case("evaluate-output-is-data", "evaluate --output is the --data file",
         lambda e: _evaluate(e, e.good_csv("data.csv"))[:-1] + [str(e.path("data.csv"))],
         "--output data.csv is the same file as --data"),
    Case("cache-clear-while-writing", "cache clear while a run fills the cache (its pid is named)",
         lambda e: ["cache", "clear", "--dir",
                    str(_hold(e, e.path("cache/.lock"), "4242", shared=True).parent)],
         "being written by a longtail run (pid 4242)"),
]  # fmt: skip


# --- Ctrl-C: what was left, and how to go on (the interrupt is raised inside the command) ------


def _interrupt_at(e: Env, owner: object, name: str) -> None:
    """Make ``owner.name`` raise KeyboardInterrupt, as Ctrl-C would there; the check undoes it."""
    e.memo["patched"] = (owner, name, getattr(owner, name))

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    setattr(owner, name, interrupted)


def _undo_interrupt(e: Env) -> str | None:
    owner, name, original = e.memo.pop("patched")
    setattr(owner, name, original)
    kept = e.memo.get("kept")
    if kept is not None and kept.read_text(encoding="utf-8") != '{"row": 1}\n':
        return f"the interrupted command changed {kept.name}"
    return None


def _interrupted_train(e: Env) -> list[str]:
    import longtail.training.loop as loop

    _interrupt_at(e, loop, "save_checkpoint")
    return e.train(e.good_csv())


def _interrupted_predict(e: Env) -> list[str]:
    from longtail.predictor import Classifier

    model = e.model()
    e.memo["kept"] = e.write("preds.jsonl", '{"row": 1}\n')
    _interrupt_at(e, Classifier, "predict_proba")
    return _predict(e, model)


CASES += [
    Case("train-ctrl-c", "Ctrl-C during training: --resume continues from the last epoch",
         _interrupted_train, "rerun the same command with --resume", code=130,
         check=_undo_interrupt),
    Case("predict-ctrl-c", "Ctrl-C during predict: the old predictions file is kept as it was",
         _interrupted_predict, "preds.jsonl was left as it was", code=130, check=_undo_interrupt),
]  # fmt: skip
