"""The contract of every tracker in :data:`longtail.training.tracking.TRACKERS`.

Parameter lists come from the registry. A tracker whose optional packages are installed must
start, log and finish inside the directory it is given (and nowhere else); with those packages
missing (really, or hidden from the import system here) it must fail with one line naming the
``pip install`` command, and that command's extra must really list the packages. A newly
registered tracker needs an entry in ``CONTRACT`` (its packages and how to read a run back);
``test_every_tracker_has_a_contract_entry`` says so.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from longtail.cli import build_parser
from longtail.config import build_config
from longtail.errors import LongtailError
from longtail.training.tracking import TRACKERS, RunTracking

NAMES = TRACKERS.names()
CONFIG = {"train": {"lr": 0.001, "epochs": 2}, "loss": None, "track": ["x"]}
EPOCHS = [
    {"train_loss": 0.9, "val_score": 0.4, "phase": "a", "step": 5, "global_step": 5},
    {"train_loss": 0.5, "val_score": 0.6, "phase": "b", "step": 5, "global_step": 10},
]
STEPS = [{"train_loss": 1.5, "lr": 1e-3, "step": 3, "global_step": 3}, EPOCHS[0] | {"lr": 5e-4}]
FINAL = {"f1_macro": 0.75, "accuracy": 0.8, "flag": True, "missing": float("nan")}


def _read_tensorboard(directory: Path, run_name: str) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(directory / run_name))
    events.Reload()
    return {
        tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]
    }


def _read_mlflow(directory: Path, run_name: str) -> dict[str, list[tuple[int, float]]]:
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{(directory / 'mlflow.db').resolve()}")
    experiment = client.get_experiment_by_name("longtail")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == run_name
    assert run.data.params["train.lr"] == "0.001" and run.data.params["loss"] == "None"
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"report.md"}
    return {
        key: [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, key)]
        for key in run.data.metrics
    }


def _wandb_records(directory: Path) -> list:
    """The records of the one offline W&B run under ``directory``: W&B's run file is a
    LevelDB-style log (32 KiB blocks of CRC-framed chunks) of protobuf ``Record`` messages."""
    import struct

    from wandb.proto import wandb_internal_pb2

    (path,) = directory.glob("wandb/offline-run-*/run-*.wandb")
    data, position, block, pieces, records = path.read_bytes(), 7, 32768, b"", []
    while position + 7 <= len(data):
        if block - position % block < 7:  # a block's tail too short for a header is padding
            position += block - position % block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[position : position + 7])
        pieces += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # a whole record, or the last chunk of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pieces)
            records.append(record)
            pieces = b""
    return records


def _read_wandb(directory: Path, run_name: str) -> dict[str, list[tuple[int, float]]]:
    import json
    import time

    # W&B's service process writes the file; under a loaded machine its last records may land
    # after finish() returns (seen once in CI on 2 busy cores): read until the exit record is there
    deadline = time.monotonic() + 60
    while True:
        records = _wandb_records(directory)
        kinds = {r.WhichOneof("record_type") for r in records}
        if "exit" in kinds or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert run.display_name == run_name and run.project == "longtail"
    config = {
        item.key: json.loads(item.value_json)
        for r in records
        if r.WhichOneof("record_type") == "config"
        for item in r.config.update
    }
    assert config["train.lr"] == 0.001 and config["loss"] == "None"
    saved = {
        f.path for r in records if r.WhichOneof("record_type") == "files" for f in r.files.files
    }
    assert "report.md" in saved
    scalars: dict[str, list[tuple[int, float]]] = {}
    for record in records:
        if record.WhichOneof("record_type") != "history":
            continue
        items = {
            "/".join(item.nested_key) or item.key: json.loads(item.value_json)
            for item in record.history.item
        }
        step = items.pop("_step")
        for key, value in items.items():
            if not key.startswith("_"):
                scalars.setdefault(key, []).append((step, value))
    return scalars


@dataclass(frozen=True)
class Contract:
    needs: tuple[tuple[str, ...], ...]  # import names: every group needs one of its members
    installs: tuple[tuple[str, ...], ...]  # distributions: the pip extra lists one per group
    hide: tuple[str, ...]  # modules to hide to simulate the packages being absent
    read: Callable[[Path, str], dict[str, list[tuple[int, float]]]]  # logged scalars by name


CONTRACT = {
    "tensorboard": Contract(
        needs=(("tensorboard", "tensorboardX"),),
        installs=(("tensorboard", "tensorboardx"),),
        hide=("tensorboard", "tensorboardX", "torch.utils.tensorboard"),
        read=_read_tensorboard,
    ),
    "mlflow": Contract(
        needs=(("mlflow",), ("sqlalchemy",), ("alembic",)),
        installs=(("mlflow", "mlflow-skinny"), ("sqlalchemy",), ("alembic",)),
        hide=("mlflow",),
        read=_read_mlflow,
    ),
    "wandb": Contract(
        needs=(("wandb",),), installs=(("wandb",),), hide=("wandb",), read=_read_wandb
    ),
}


def _installed(name: str) -> bool:
    return all(
        any(importlib.util.find_spec(m) is not None for m in group)
        for group in CONTRACT[name].needs
    )


def _hide(monkeypatch: pytest.MonkeyPatch, modules: tuple[str, ...]) -> None:
    """Make ``import m`` (and of its submodules) fail as if the package were not installed."""
    for module in modules:
        for loaded in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
            monkeypatch.delitem(sys.modules, loaded)
        monkeypatch.setitem(sys.modules, module, None)  # import → ModuleNotFoundError
        parent, _, child = module.rpartition(".")
        if parent and parent in sys.modules:  # `from torch.utils import tensorboard`
            monkeypatch.delattr(sys.modules[parent], child, raising=False)


def _assert_install_error(exc: pytest.ExceptionInfo[LongtailError], name: str) -> None:
    message = str(exc.value)
    assert "\n" not in message and f"--track {name}" in message, message
    command = re.search(r"pip install '([\w-]+)\[([\w-]+)\]'", message)
    assert command, f"no pip install command in: {message}"
    metadata = importlib.metadata.metadata("longtail")  # what pip installs, from pyproject
    assert command.group(1) == metadata["Name"]
    marker = re.compile(r"""extra\s*==\s*["']""" + re.escape(command.group(2)) + r"""["']""")
    listed = {
        re.split(r"[<>=!~\[ ;]", requirement)[0].lower()
        for requirement in metadata.get_all("Requires-Dist") or []
        if marker.search(requirement)
    }
    assert listed, f"longtail has no extra {command.group(2)!r}"
    for group in CONTRACT[name].installs:  # the named extra installs what the tracker needs
        assert listed & set(group), (group, listed)


def test_every_tracker_has_a_contract_entry():
    assert sorted(CONTRACT) == NAMES


def test_cli_and_config_accept_exactly_the_registered_trackers():
    train = next(a for a in build_parser()._actions if a.dest == "command").choices["train"]
    (track,) = [a for a in train._actions if "--track" in a.option_strings]
    assert sorted(track.choices) == NAMES
    assert build_config({"track": NAMES}).track == NAMES
    with pytest.raises(LongtailError):
        build_config({"track": ["no-such-tracker"]})


def test_unknown_tracker_is_one_line_naming_every_registered_one(tmp_path):
    with pytest.raises(LongtailError) as exc:
        RunTracking(["no-such-tracker"], directory=tmp_path, run_name="run", is_main=True)
    message = str(exc.value)
    assert "\n" not in message and all(name in message for name in NAMES), message


@pytest.mark.parametrize("name", NAMES)
def test_off_the_main_process_nothing_starts(name, tmp_path):
    tracking = RunTracking([name], directory=tmp_path / "tracking", run_name="run", is_main=False)
    assert not tracking
    tracking.parameters(CONFIG)
    tracking.epoch(EPOCHS[0])
    tracking.finish()
    assert not (tmp_path / "tracking").exists()


@pytest.mark.parametrize("name", NAMES)
def test_start_log_finish_inside_the_directory(name, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")  # no account, no network: the run stays on disk
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    if name == "wandb" and _installed(name):  # W&B reads its environment once per process
        import wandb

        wandb.teardown()
    workdir, directory, report = tmp_path / "cwd", tmp_path / "tracking", tmp_path / "report.md"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    report.write_text("# report\n", encoding="utf-8")
    if not _installed(name):  # the optional packages really are absent
        with pytest.raises(LongtailError) as exc:
            RunTracking([name], directory=directory, run_name="run", is_main=True)
        _assert_install_error(exc, name)
        return

    tracking = RunTracking([name, name], directory=directory, run_name="run", is_main=True)
    assert tracking and len(tracking.trackers) == 1  # a repeated name starts one tracker
    tracking.parameters(CONFIG)
    tracking.train_step(STEPS[0])
    tracking.train_step(STEPS[1])
    for entry in EPOCHS:
        tracking.epoch(entry)
    tracking.final(FINAL, [report], "validation")
    tracking.finish()
    assert not tracking and tracking.trackers == []

    assert list(workdir.iterdir()) == [], "the tracker wrote outside its directory"
    assert any(p.is_file() for p in directory.rglob("*"))
    scalars = CONTRACT[name].read(directory, "run")
    assert scalars["train/loss"] == [(3, pytest.approx(1.5)), (5, pytest.approx(0.9))]
    assert scalars["train/lr"] == [(3, pytest.approx(1e-3)), (5, pytest.approx(5e-4))]
    assert scalars["epoch/train_loss"] == [(5, pytest.approx(0.9)), (10, pytest.approx(0.5))]
    assert scalars["epoch/val_score"] == [(5, pytest.approx(0.4)), (10, pytest.approx(0.6))]
    assert scalars["validation/f1_macro"] == [(10, pytest.approx(0.75))]
    assert "validation/flag" not in scalars and "validation/missing" not in scalars


@pytest.mark.parametrize("name", NAMES)
def test_missing_package_is_one_line_naming_the_pip_command(name, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    _hide(monkeypatch, CONTRACT[name].hide)
    with pytest.raises(LongtailError) as exc:
        RunTracking([name], directory=tmp_path / "tracking", run_name="run", is_main=True)
    _assert_install_error(exc, name)
