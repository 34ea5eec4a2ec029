"""A cascade without leakage: a first-stage model's probabilities as features of a second model.

The screenplay case: first predict a nomination, then feed P(nominated) into the award-win model.
Scoring the training rows with a first stage that was trained on them leaks their labels (an
in-sample probability is near 0 or 1 where the test's is not), and the second model learns to
trust a feature that will not hold up. This is stacked generalisation's rule (Wolpert 1992,
"Stacked Generalization", Neural Networks 5(2)): a row's feature must come from a model that did
not see that row. So ``longtail train --extra-features-from FIRST`` builds:

- for the **training file**: out-of-fold probabilities. Its rows are cut into
  ``data.extra_features_folds`` folds, stratified by the *first stage's* labels; for each fold a
  first-stage model is trained with the first stage's own settings (``FIRST/longtail.json``) on
  the other folds and scores the held-out one. A validation split of the training file gets
  out-of-fold values too, so the second stage's early stopping and thresholds see honest ones.
- for a **validation file, the test file and ``predict``**: the saved first-stage model ``FIRST``.

The training file must hold the first stage's label column. Features are calibrated
probabilities, named ``<first label column>=<class>``: the positive class's alone for a binary
first stage, every class's otherwise. They join the document embedding before the head, as
``--extra-features`` columns do (long-document models). Each fold's scores are saved under the
run's partial directory as soon as they exist and the fold's model is removed, so an
interrupted run resumes without retraining finished folds; with a frozen encoder every fold
reads the one embedding cache, so the documents are encoded once.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from longtail.config import ExperimentConfig, build_config, dump_config
from longtail.data import LabelSpace, TextTable, drop_empty_texts, read_table, stratified_kfold
from longtail.datasets import write_table
from longtail.errors import LongtailError
from longtail.io_utils import atomic_write_json
from longtail.logs import info
from longtail.models.io import read_meta
from longtail.predictor import Classifier
from longtail.training.output import CASCADE_FOLDS

FOLDS_DIR = CASCADE_FOLDS[0]


def feature_columns(meta: dict[str, Any]) -> tuple[list[str], list[int]]:
    """``(names, probability columns)`` a first stage with ``longtail.json`` ``meta`` gives."""
    space = LabelSpace.from_dict(meta["labels"])
    column = meta.get("label_column") or "label"
    if space.task == "binary":
        return [f"{column}={space.names[1]}"], [1]
    return [f"{column}={name}" for name in space.names], list(range(len(space.names)))


def first_stage_meta(path: str | Path) -> dict[str, Any]:
    """``longtail.json`` of a first stage, refused in one line when it cannot be one."""
    directory = Path(path)
    if not (directory / "longtail.json").is_file():
        raise LongtailError(
            f"--extra-features-from {path}: not a model directory written by `longtail train` "
            "(no longtail.json); train the first stage first and pass its --output"
        )
    meta = read_meta(directory)
    if meta.get("extra_features") or (meta.get("config") or {}).get("data", {}).get(
        "extra_features_from"
    ):
        raise LongtailError(
            f"--extra-features-from {path}: that model itself reads extra features, and a cascade "
            "stage built on another cascade is not supported; use a first stage trained on text "
            "alone"
        )
    return meta


def cascade_meta(config: ExperimentConfig) -> dict[str, Any] | None:
    """What a second stage's ``longtail.json`` records about its first stage (``None``: none)."""
    source = config.data.extra_features_from
    if not source:
        return None
    names, columns = feature_columns(first_stage_meta(source))
    return {
        "model": str(Path(source).resolve()),
        "features": names,
        "columns": columns,
        "folds": config.data.extra_features_folds,
    }


class CascadeFeatures:
    """The first stage's probabilities for any labelled table the second stage reads.

    Called with a table (:data:`longtail.data.prepare.AddedFeatures`): rows of the training
    file get out-of-fold values, rows of any other file the saved first stage's.
    """

    def __init__(
        self, config: ExperimentConfig, work: Path, *, log: Callable[[str], None] = info
    ) -> None:
        assert config.data.extra_features_from and config.data.train
        self.config = config
        self.first = Path(config.data.extra_features_from)
        self.meta = first_stage_meta(self.first)
        self.names, self.columns = feature_columns(self.meta)
        self.folds_dir = work / FOLDS_DIR
        self.log = log
        self._saved: Classifier | None = None

    def __call__(self, table: TextTable) -> np.ndarray:
        if Path(table.source).resolve() == Path(str(self.config.data.train)).resolve():
            return self.out_of_fold(table)
        return self.saved_stage(table.texts)

    def saved_stage(self, texts: list[str]) -> np.ndarray:
        """The saved first stage's probabilities (validation and test files)."""
        if self._saved is None:
            self._saved = Classifier.load(self.first, log=lambda line: None)
            self._saved.use_embedding_cache(log=lambda line: None)
        return self._saved.predict_proba(texts)[:, self.columns]

    def _first_stage_rows(self, table: TextTable) -> tuple[TextTable, LabelSpace, np.ndarray]:
        """The training file's rows as the first stage reads them: its text and label columns."""
        data = self.meta["config"]["data"]
        first = read_table(
            self.config.data.train,
            text_column=self.config.data.text_column,
            label_column=data.get("label_column") or "label",
        )
        first = drop_empty_texts(first, strict=False)
        position = {row: i for i, row in enumerate(first.row_numbers)}
        missing = [row for row in table.row_numbers if row not in position]
        if missing:
            raise LongtailError(
                f"{table.source}: row {missing[0]} has no first-stage label; every training row "
                "needs one for the out-of-fold cascade features"
            )
        rows = first.subset([position[row] for row in table.row_numbers])
        space = LabelSpace.from_dict(self.meta["labels"])
        y = space.encode(rows.labels, source=rows.source, row_numbers=rows.row_numbers)
        return rows, space, y

    def out_of_fold(self, table: TextTable) -> np.ndarray:
        """Out-of-fold probabilities for every row of the training ``table``."""
        rows, space, y = self._first_stage_rows(table)
        k = self.config.data.extra_features_folds
        folds = stratified_kfold(
            y, space.task, n_splits=k, seed=self.config.train.seed, names=space.names,
            source=rows.source,
        )  # fmt: skip
        out = np.zeros((len(rows.texts), len(self.columns)), dtype=np.float32)
        self.log(
            f"cascade: out-of-fold features {', '.join(self.names)} for {len(rows.texts)} "
            f"training rows from {k} first-stage models ({self.first}'s settings)"
        )
        for fold, (train_idx, held_idx) in enumerate(folds):
            out[held_idx] = self._fold_scores(fold, k, rows, train_idx, held_idx)
        return out

    def _fold_scores(
        self, fold: int, k: int, rows: TextTable, train_idx: np.ndarray, held_idx: np.ndarray
    ) -> np.ndarray:
        done = self.folds_dir / f"fold-{fold + 1}.json"
        held_rows = [rows.row_numbers[i] for i in held_idx]
        if done.is_file():  # a resumed run: this fold was scored before the interruption
            saved = json.loads(done.read_text(encoding="utf-8"))
            if saved.get("rows") == held_rows and saved.get("features") == self.names:
                self.log(f"cascade: fold {fold + 1}/{k} read from {done}")
                return np.asarray(saved["scores"], dtype=np.float32).reshape(len(held_idx), -1)
        started = time.perf_counter()
        fold_dir = self.folds_dir / f"fold-{fold + 1}"
        shutil.rmtree(fold_dir, ignore_errors=True)
        fold_dir.mkdir(parents=True)
        train_file = write_table(rows.subset(train_idx), fold_dir / "train.jsonl")
        config = self._fold_config(train_file, fold_dir / "model")
        from longtail.training.run import run_training

        log = io.StringIO()
        with contextlib.redirect_stdout(log):
            run_training(config, overwrite=True, log=lambda line: print(line, file=log))
        (fold_dir / "train.log").write_text(log.getvalue(), encoding="utf-8")
        model = Classifier.load(fold_dir / "model", log=lambda line: None)
        model.use_embedding_cache(log=lambda line: None)
        scores = model.predict_proba([rows.texts[i] for i in held_idx])[:, self.columns]
        stopped = model.meta["training"]["stopped"]
        atomic_write_json(
            done, {"rows": held_rows, "features": self.names, "scores": scores.tolist()}
        )
        shutil.rmtree(fold_dir, ignore_errors=True)  # a model per fold is not kept: its scores are
        self.log(
            f"cascade: fold {fold + 1}/{k}: trained on {len(train_idx)} rows, scored "
            f"{len(held_idx)} held-out rows in {time.perf_counter() - started:.0f} s ({stopped})"
        )
        return scores

    def _fold_config(self, train_file: Path, output: Path) -> ExperimentConfig:
        """The first stage's settings, on one fold's training rows, with nothing else to read."""
        settings = dump_config(build_config(self.meta["config"], source=str(self.first)))
        settings["data"].update(
            train=str(train_file), validation=None, test=None, text_column="text",
            label_column="label", extra_features=[], extra_features_from=None,
        )  # fmt: skip
        settings.update(output=str(output), track=[], track_dir=None)
        return build_config(settings, source=f"{self.first} (cascade fold)")
