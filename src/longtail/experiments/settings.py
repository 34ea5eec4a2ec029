"""What a grid cell was trained with, so a finished cell is reused only while that still holds.

A cell's *settings* are its variant's validated config (with the cell's seed), flattened to dotted
keys, plus the grid's fold layout. The data files enter by the SHA-256 of their content, not by
their path: moving the data keeps the cells, editing one row retrains them. Keys that only say
where files go or how memory is spent (:data:`NOT_AFFECTING_RESULTS`) are left out, so switching
on gradient checkpointing or a tracker does not retrain a grid.

Decision: a cell whose saved settings differ from the experiment file's is *retrained*, and the
comparison log names the changed keys — as ``make`` rebuilds a target whose inputs changed. Reusing
it would mix results of two experiments under one name; refusing would make every edit a manual
clean-up. A model given as a local directory enters by its path only; retrain by hand (delete
``cells/<variant>/``) after changing the weights in place.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from longtail.config import dotted_items, dump_config
from longtail.experiments.spec import Cell, ExperimentSpec
from longtail.io_utils import file_sha256

#: Dotted keys that change where outputs go or how memory is used, never what is learned.
NOT_AFFECTING_RESULTS = frozenset(
    {
        "output",
        "track",
        "track_dir",
        "data.arrow",
        "data.arrow_cache_dir",
        "model.gradient_checkpointing",
        "long_documents.cache_dir",
        "long_documents.checkpoint",
        "long_documents.chunk_batch_size",
        "augment.cache_dir",
        "augment.quality_plot",
        "train.eval_batch_size",
    }
)
DATA_FILES = ("data.train", "data.validation", "data.test")


def cell_settings(spec: ExperimentSpec, cell: Cell) -> dict[str, Any]:
    """The flat, JSON-normal settings that decide what ``cell`` learns and is tested on."""
    config = spec.variant_config(cell.variant, **{"train.seed": cell.seed})
    flat = dotted_items(dump_config(config))
    settings = {k: v for k, v in flat.items() if k not in NOT_AFFECTING_RESULTS}
    for key in DATA_FILES:
        if settings.get(key) is not None:
            settings[key] = data_fingerprint(settings[key])
    settings["grid.folds"], settings["grid.fold_seed"] = spec.folds, spec.fold_seed
    return json.loads(json.dumps(settings, sort_keys=True, default=str))


def changed_settings(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Dotted keys whose value differs (or that one side lacks), sorted."""
    return sorted(k for k in saved.keys() | current.keys() if saved.get(k) != current.get(k))


def data_fingerprint(location: str) -> str:
    """``sha256:<16 hex>`` of a local file or directory's content; anything else as written.

    A name that is not on disk is a hub dataset id: it enters as itself (its revision is the hub's
    to pin).
    """
    path = Path(location)
    if path.is_file():
        return "sha256:" + file_digest(path)
    if path.is_dir():
        digest = hashlib.sha256()
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(child.relative_to(path).as_posix().encode() + b"\0")
            digest.update(file_digest(child).encode())
        return "sha256:" + digest.hexdigest()[:16]
    return location


def file_digest(path: str | Path) -> str:
    """The first 16 hex digits of a file's SHA-256, read once per process while it is unchanged."""
    stat = Path(path).stat()
    return _file_sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@cache
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    """``size`` and ``mtime_ns`` are the cache key only: a rewritten file is hashed again."""
    return file_sha256(path)[:16]
