"""Experiment tracking through accelerate's trackers: TensorBoard and MLflow.

``longtail train --track tensorboard --track mlflow`` logs the run's parameters (the flattened
config), every epoch's training loss and validation score (one global step per epoch across the
strategy's phases), the final headline metrics, and the report files as artifacts (MLflow) or as
text (TensorBoard). Everything goes under ``<output>/tracking/`` unless ``track_dir`` says
otherwise; MLflow honours ``$MLFLOW_TRACKING_URI`` and otherwise keeps a SQLite store there.
Only the main process logs.
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

    def epoch(self, entry: Mapping[str, Any]) -> None:
        """One training epoch: ``train_loss``, ``val_score`` (and the phase, as its index)."""
        self.step += 1
        values = {
            f"epoch/{k}": float(v) for k, v in entry.items() if k in ("train_loss", "val_score")
        }
        for tracker in self.trackers:
            tracker.log(values, step=self.step)

    def final(self, metrics: Mapping[str, Any], files: Sequence[Path], split: str) -> None:
        values = {
            f"{split}/{k}": float(v)
            for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v
        }
        for tracker in self.trackers:
            tracker.log(values, step=self.step)
            if hasattr(tracker, "log_artifact"):
                for path in files:
                    tracker.log_artifact(str(path))
            elif getattr(tracker, "writer", None) is not None:
                for path in files:
                    if path.suffix == ".md":
                        tracker.writer.add_text(
                            path.name, path.read_text(encoding="utf-8"), self.step
                        )

    def finish(self) -> None:
        for tracker in self.trackers:
            tracker.finish()
        self.trackers = []
