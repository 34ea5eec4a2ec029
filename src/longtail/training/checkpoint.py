"""Epoch checkpoints for ``--resume``, written without pickle.

Model and optimizer tensors go to safetensors; everything else (optimizer hyper-parameters,
scheduler counters, the training history) to JSON. A checkpoint taken inside an epoch
(``train.save_steps``) also records how many of the epoch's batches are done, the epoch's loss so
far and the random generators' states (``random.safetensors``), so the rest of the epoch draws the
same dropout masks and chunk subsets as a run that never stopped. A checkpoint directory is staged next to its
final place and swapped in with a rename, and ``state.json`` (written last) marks it complete, so a
kill at any moment leaves the previous checkpoint intact.

On ``--resume`` each file is checked before it is applied (``state.json`` against
:class:`LoopState`, the optimizer's and scheduler's JSON against their shape), so a damaged or
hand-edited checkpoint fails with one line naming the file and saying to delete the checkpoint,
never with a ``KeyError`` or a PyTorch message half-way through restoring.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from safetensors.torch import load_file, save_file

from longtail.config import TrainConfig
from longtail.errors import LongtailError
from longtail.fingerprint import NOT_AFFECTING_RESULTS, describe_changes
from longtail.io_utils import atomic_write_json, make_staging_directory, replace_directory

STATE_FILE = "state.json"
RANDOM_FILE = "random.safetensors"


def _flatten_optimizer(
    state_dict: dict[str, Any],
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in state_dict["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = tensor
    for index, values in extra["scalars"].items():
        state.setdefault(int(index), {}).update(values)
    return {"state": state, "param_groups": extra["param_groups"]}


def _cpu_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}


def save_checkpoint(
    directory: str | Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: dict[str, Any],
    best_weights: dict[str, torch.Tensor] | None,
    random_state: dict[str, torch.Tensor] | None = None,
) -> None:
    """Write a checkpoint; ``random_state`` (generator states) for one taken inside an epoch."""
    directory = Path(directory)
    staging = make_staging_directory(directory)  # umask modes; a killed save's staging removed
    save_file(_cpu_state(model), str(staging / "model.safetensors"))
    if best_weights is not None:
        save_file(best_weights, str(staging / "best.safetensors"))
    if random_state:
        save_file(random_state, str(staging / RANDOM_FILE))
    tensors, extra = _flatten_optimizer(optimizer.state_dict())
    save_file(tensors, str(staging / "optimizer.safetensors"))
    atomic_write_json(staging / "optimizer.json", extra)
    atomic_write_json(staging / "scheduler.json", scheduler.state_dict())
    atomic_write_json(staging / STATE_FILE, state)
    replace_directory(staging, directory)


def has_checkpoint(directory: str | Path) -> bool:
    return (Path(directory) / STATE_FILE).is_file()


class _Loose(BaseModel):
    # strict: a string where a number belongs is an error; extra keys are kept (a newer longtail
    # may record more, and older ones still resume from it)
    model_config = ConfigDict(strict=True, extra="allow")


class HistoryEntry(_Loose):
    epoch: int = Field(ge=1)
    step: int = Field(ge=0)
    train_loss: float
    val_score: float


class LoopState(_Loose):
    """``state.json`` as :func:`~longtail.training.loop.train_model` writes it after each epoch."""

    epoch: int = Field(ge=0)
    step: int = Field(ge=0)
    best_score: float  # -inf until an epoch scores
    best_epoch: int = Field(ge=0)
    bad_epochs: int = Field(ge=0)
    stopped_early: bool = False
    fingerprint: str
    history: list[HistoryEntry] = Field(default_factory=list)
    #: the phase's train.* settings, to name what changed when the fingerprint differs
    train_config: dict[str, Any] | None = None
    #: inside epoch ``epoch + 1`` (train.save_steps): its batches done, its loss summed over
    #: rows and the rows seen, over every process (0 at an epoch's end)
    epoch_batches: int = Field(0, ge=0)
    epoch_loss: float = 0.0
    epoch_rows: int = Field(0, ge=0)


class _ParamGroup(_Loose):
    params: list[int]
    lr: float


class _OptimizerFile(_Loose):
    param_groups: list[_ParamGroup]
    scalars: dict[str, dict[str, Any]]


class _SchedulerFile(_Loose):
    base_lrs: list[float]
    last_epoch: int = Field(ge=-1)


def _unusable(path: Path, directory: Path, reason: str) -> LongtailError:
    reason = " ".join(reason.split())[:200]
    return LongtailError(
        f"{path} is damaged ({reason}), so checkpoint {directory} cannot be resumed; "
        f"delete {directory} to start over"
    )


def _read_json_object(path: Path, directory: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _unusable(path, directory, "the file is missing") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise _unusable(path, directory, str(exc) or type(exc).__name__) from None
    if not isinstance(data, dict):
        raise _unusable(path, directory, f"expected a JSON object, got {type(data).__name__}")
    return data


def _validated(schema: type[BaseModel], data: dict[str, Any], path: Path, directory: Path) -> Any:
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise _unusable(path, directory, f"field {field!r}: {first['msg']}") from None


def read_state(directory: str | Path) -> dict[str, Any]:
    """``state.json`` of a checkpoint as a dict (a JSON object, otherwise unchecked)."""
    directory = Path(directory)
    return _read_json_object(directory / STATE_FILE, directory)


def read_loop_state(directory: str | Path) -> LoopState:
    """``state.json`` checked against :class:`LoopState` (one line naming the file otherwise)."""
    directory = Path(directory)
    path = directory / STATE_FILE
    return _validated(LoopState, _read_json_object(path, directory), path, directory)


@contextlib.contextmanager
def _restoring(path: Path, directory: Path) -> Iterator[None]:
    """safetensors, shape and key errors while restoring from ``path``: one line naming it."""
    try:
        yield
    except LongtailError:
        raise
    except Exception as exc:
        raise _unusable(path, directory, str(exc) or type(exc).__name__) from None


def restore_checkpoint(
    directory: str | Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
) -> dict[str, torch.Tensor] | None:
    """Restore model, optimizer and scheduler in place from ``directory``; returns the best
    weights (``None`` when no epoch improved). Every file is checked before it is applied."""
    directory = Path(directory)
    path = directory / "model.safetensors"
    with _restoring(path, directory):
        model.load_state_dict(load_file(str(path)))
    path = directory / "optimizer.json"
    extra = _read_json_object(path, directory)
    _validated(_OptimizerFile, extra, path, directory)
    path = directory / "optimizer.safetensors"
    with _restoring(path, directory):
        optimizer.load_state_dict(_unflatten_optimizer(load_file(str(path)), extra))
    path = directory / "scheduler.json"
    schedule = _read_json_object(path, directory)
    checked = _validated(_SchedulerFile, schedule, path, directory)
    if len(checked.base_lrs) != len(optimizer.param_groups):
        raise _unusable(
            path, directory, f"{len(checked.base_lrs)} learning rates for "
            f"{len(optimizer.param_groups)} parameter groups",
        )  # fmt: skip
    with _restoring(path, directory):
        scheduler.load_state_dict(schedule)
    path = directory / "best.safetensors"
    if not path.is_file():
        return None
    with _restoring(path, directory):
        return load_file(str(path))


def read_random_state(directory: str | Path) -> dict[str, torch.Tensor]:
    """The generator states of a checkpoint taken inside an epoch (one line if missing)."""
    directory = Path(directory)
    path = directory / RANDOM_FILE
    if not path.is_file():
        raise _unusable(path, directory, "the file is missing")
    with _restoring(path, directory):
        return load_file(str(path))


def train_settings(config: TrainConfig) -> dict[str, Any]:
    """The ``train.*`` settings a checkpoint records, to name what changed on ``--resume``."""
    values = config.model_dump(mode="json")
    return {f"train.{k}": v for k, v in values.items() if f"train.{k}" not in NOT_AFFECTING_RESULTS}


def resume_checkpoint(
    directory: str | Path,
    *,
    fingerprint: str,
    settings: dict[str, Any],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
) -> tuple[LoopState, dict[str, torch.Tensor] | None]:
    """``(state, best_weights)`` of a checkpoint written for ``fingerprint``, restored in place.

    The fingerprint is compared before anything is restored: a checkpoint of other settings may
    not even fit this optimizer (another lr or layer_decay regroups its parameters, which
    PyTorch reports as "a different number of parameter groups"). ``settings``
    (:func:`train_settings`) name what differs when the checkpoint recorded its own.
    """
    saved = read_loop_state(directory)
    if saved.fingerprint != fingerprint:
        changed = describe_changes(saved.train_config, settings)
        if saved.train_config is not None and not changed:
            changed = "train.* is the same: the data or another section differs"
        raise LongtailError(
            f"checkpoint {directory} was written for other data or settings"
            f"{f' ({changed})' if changed else ''}; resume with the same settings, or drop "
            "--resume (with --overwrite) or choose another --output"
        )
    best = restore_checkpoint(directory, model=model, optimizer=optimizer, scheduler=scheduler)
    return saved, best


def load_checkpoint(
    directory: str | Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
) -> tuple[dict[str, Any], dict[str, torch.Tensor] | None]:
    """Restore model/optimizer/scheduler in place; returns ``(state, best_weights)``.

    ``state`` is ``state.json`` unchecked; :func:`read_loop_state` checks it for the loop.
    """
    state = read_state(directory)
    return state, restore_checkpoint(
        directory, model=model, optimizer=optimizer, scheduler=scheduler
    )
