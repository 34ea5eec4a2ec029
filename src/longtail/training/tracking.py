"""Experiment tracking through accelerate's trackers: TensorBoard, MLflow and Weights & Biases.

``longtail train --track tensorboard --track mlflow --track wandb`` logs the run's parameters (the
flattened config); the training loss and learning rate every ``train.logging_steps`` optimizer
steps (``train/loss``, ``train/lr``); every epoch's training loss and validation score
(``epoch/train_loss``, ``epoch/val_score``); the final headline metrics; and the report files as
artifacts (MLflow), saved files (W&B) or text (TensorBoard). The x-axis is the optimizer step,
counted on across the strategy's phases. Everything goes under ``<output>/tracking/`` unless
``track_dir`` says otherwise; MLflow honours ``$MLFLOW_TRACKING_URI`` and otherwise keeps a
SQLite store there; W&B honours its own environment (``WANDB_PROJECT``, default ``longtail``;
``WANDB_MODE=offline`` keeps the run on disk for a later ``wandb sync``). Only the main process
logs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from longtail.config import dotted_items
from longtail.errors import LongtailError
from longtail.registry import Registry
from longtail.training.accelerator import distributed_state

TRACKERS: Registry[Any] = Registry("tracker")
_INSTALL = "pip install 'longtail[track]'"


def relocate_mlflow_store(directory: Path, old: Path, new: Path) -> None:
    """Point the SQLite MLflow store in ``directory`` at ``new`` after its run moved from ``old``.

    A run writes into its partial directory and is renamed into place when complete
    (:mod:`longtail.training.output`); MLflow records absolute artifact paths, which the rename
    would leave pointing at the partial directory. Only longtail's own store (``mlflow.db``, made
    when ``$MLFLOW_TRACKING_URI`` is unset) is rewritten, and only paths under ``old``.
    """
    import sqlite3

    database = directory / "mlflow.db"
    if not database.is_file():
        return
    before, after = f"{old.resolve()}{os.sep}", f"{new.resolve()}{os.sep}"
    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        for table, column in (("experiments", "artifact_location"), ("runs", "artifact_uri")):
            connection.execute(
                f"UPDATE {table} SET {column} = replace({column}, ?, ?) WHERE instr({column}, ?)",
                (before, after, before),
            )


def flatten(values: Mapping[str, Any]) -> dict[str, Any]:
    """``{"train": {"lr": 1e-3}}`` → ``{"train.lr": 1e-3}``; lists and ``None`` become text."""
    return {
        name: value if isinstance(value, (int, float, str, bool)) else str(value)
        for name, value in dotted_items(values).items()
    }


@TRACKERS.register("tensorboard")
def tensorboard(*, run_name: str, directory: Path) -> Any:
    from accelerate.tracking import TensorBoardTracker

    tracker = TensorBoardTracker(run_name, str(directory))
    try:
        tracker.start()
    except ImportError as exc:  # neither tensorboard nor tensorboardX
        raise LongtailError(f"--track tensorboard needs tensorboard ({exc}); {_INSTALL}") from None
    return tracker


@TRACKERS.register("mlflow")
def mlflow_tracker(*, run_name: str, directory: Path) -> Any:
    try:
        import mlflow
        from accelerate.tracking import MLflowTracker
    except ImportError as exc:
        raise LongtailError(f"--track mlflow needs mlflow ({exc}); {_INSTALL}") from None
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        directory.mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(f"sqlite:///{(directory / 'mlflow.db').resolve()}")
    tracker = MLflowTracker(
        experiment_name="longtail", logging_dir=str((directory / "mlflow-artifacts").resolve()),
        run_name=run_name,
    )  # fmt: skip
    try:
        tracker.start()
    except ImportError as exc:  # the SQLite store needs sqlalchemy and alembic
        raise LongtailError(
            f"--track mlflow needs its store's packages ({exc}); {_INSTALL}"
        ) from None
    return tracker


@TRACKERS.register("wandb")
def wandb_tracker(*, run_name: str, directory: Path) -> Any:
    try:
        import wandb
        from accelerate.tracking import WandBTracker
    except ImportError as exc:
        raise LongtailError(f"--track wandb needs wandb ({exc}); {_INSTALL}") from None
    distributed_state()  # accelerate's W&B tracker logs through accelerate's state-aware logger
    directory.mkdir(parents=True, exist_ok=True)
    # accelerate passes its first argument to wandb.init as the project
    project = os.environ.get("WANDB_PROJECT") or "longtail"
    tracker = WandBTracker(project, name=run_name, dir=str(directory.resolve()))
    try:
        tracker.start()
    except wandb.errors.Error as exc:  # no login, no network, a bad setting
        reason = " ".join(str(exc).split())[:200]
        raise LongtailError(
            f"--track wandb could not start a run ({reason}); log in with `wandb login` or set "
            f"WANDB_API_KEY, or set WANDB_MODE=offline to keep the run under {directory}"
        ) from None
    return tracker


def _save_files(tracker: Any, files: Sequence[Path], step: int) -> None:
    """The report files, each tracker its own way: artifacts, saved run files, or text."""
    if tracker.name == "mlflow":
        for path in files:
            tracker.log_artifact(str(path))
    elif tracker.name == "wandb":
        for path in files:
            tracker.run.save(
                str(path.resolve()), base_path=str(path.resolve().parent), policy="now"
            )
    elif getattr(tracker, "writer", None) is not None:  # TensorBoard: the Markdown as text
        for path in files:
            if path.suffix == ".md":
                tracker.writer.add_text(path.name, path.read_text(encoding="utf-8"), step)


class RunTracking:
    """The trackers of one run; a no-op when none are requested or off the main process."""

    def __init__(
        self, names: Sequence[str], *, directory: Path, run_name: str, is_main: bool
    ) -> None:
        self.trackers = []
        self.step = 0
        if not is_main:
            return
        for name in dict.fromkeys(names):
            self.trackers.append(TRACKERS.get(name)(run_name=run_name, directory=directory))

    def __bool__(self) -> bool:
        return bool(self.trackers)

    def parameters(self, config: Mapping[str, Any]) -> None:
        values = flatten(config)
        for tracker in self.trackers:
            tracker.store_init_configuration(values)

    def _log(self, values: Mapping[str, float], step: int) -> None:
        self.step = max(self.step, step)  # W&B drops values logged at an earlier step
        for tracker in self.trackers:
            tracker.log(dict(values), step=self.step)

    def train_step(self, entry: Mapping[str, Any]) -> None:
        """The loss since the last read and the learning rate, at ``global_step``."""
        self._log(
            {"train/loss": float(entry["train_loss"]), "train/lr": float(entry["lr"])},
            entry["global_step"],
        )

    def epoch(self, entry: Mapping[str, Any]) -> None:
        """One training epoch's ``train_loss`` and ``val_score``, at ``global_step``."""
        self._log(
            {f"epoch/{k}": float(entry[k]) for k in ("train_loss", "val_score")},
            entry["global_step"],
        )

    def final(self, metrics: Mapping[str, Any], files: Sequence[Path], split: str) -> None:
        values = {
            f"{split}/{k}": float(v)
            for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v
        }
        self._log(values, self.step)
        for tracker in self.trackers:
            _save_files(tracker, files, self.step)

    def finish(self) -> None:
        for tracker in self.trackers:
            tracker.finish()
        self.trackers = []
