"""Epoch checkpoints for ``--resume``, written without pickle.

Model and optimizer tensors go to safetensors; everything else (optimizer hyper-parameters,
scheduler counters, the training history) to JSON. A checkpoint directory is staged next to its
final place and swapped in with a rename, and ``state.json`` (written last) marks it complete, so a
kill at any moment leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from longtail.errors import LongtailError
from longtail.io_utils import atomic_write_json, make_staging_directory, replace_directory

STATE_FILE = "state.json"


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
) -> None:
    directory = Path(directory)
    staging = make_staging_directory(directory)  # umask modes; a killed save's staging removed
    save_file(_cpu_state(model), str(staging / "model.safetensors"))
    if best_weights is not None:
        save_file(best_weights, str(staging / "best.safetensors"))
    tensors, extra = _flatten_optimizer(optimizer.state_dict())
    save_file(tensors, str(staging / "optimizer.safetensors"))
    atomic_write_json(staging / "optimizer.json", extra)
    atomic_write_json(staging / "scheduler.json", scheduler.state_dict())
    atomic_write_json(staging / STATE_FILE, state)
    replace_directory(staging, directory)


def has_checkpoint(directory: str | Path) -> bool:
    return (Path(directory) / STATE_FILE).is_file()


def load_checkpoint(
    directory: str | Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
) -> tuple[dict[str, Any], dict[str, torch.Tensor] | None]:
    """Restore model/optimizer/scheduler in place; returns ``(state, best_weights)``."""
    directory = Path(directory)
    try:
        state = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
        model.load_state_dict(load_file(str(directory / "model.safetensors")))
        extra = json.loads((directory / "optimizer.json").read_text(encoding="utf-8"))
        optimizer.load_state_dict(
            _unflatten_optimizer(load_file(str(directory / "optimizer.safetensors")), extra)
        )
        scheduler.load_state_dict(
            json.loads((directory / "scheduler.json").read_text(encoding="utf-8"))
        )
        best_path = directory / "best.safetensors"
        best = load_file(str(best_path)) if best_path.is_file() else None
    except Exception as exc:  # safetensors, JSON and shape errors alike mean: unusable
        raise LongtailError(
            f"checkpoint {directory} cannot be resumed ({' '.join(str(exc).split())[:200]}); "
            "delete it to start over"
        ) from None
    return state, best
