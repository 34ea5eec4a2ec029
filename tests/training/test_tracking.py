"""``--track tensorboard|mlflow``: parameters, per-epoch values, final metrics and the report."""

from __future__ import annotations

import builtins
import csv
from pathlib import Path

import numpy as np
import pytest

from longtail.cli import main
from longtail.errors import LongtailError
from longtail.training.tracking import RunTracking, flatten

WORDS = {
    "spam": "free win prize cash call now claim".split(),
    "ham": "hi ok see you later home love".split(),
}


def _data(path: Path) -> Path:
    rng = np.random.default_rng(0)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(60):
            label = "spam" if i % 5 == 0 else "ham"
            writer.writerow([" ".join(rng.choice(WORDS[label], size=6)), label])
    return path


def test_flatten_makes_dotted_scalar_parameters():
    flat = flatten({"train": {"lr": 1e-3, "seed": 0}, "loss": None, "track": ["mlflow"]})
    assert flat == {"train.lr": 1e-3, "train.seed": 0, "loss": "None", "track": "['mlflow']"}


def test_tensorboard_and_mlflow_receive_the_run(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = tmp_path / "run"
    args = [
        "train", "--data", str(_data(tmp_path / "train.csv")), "--model", str(tiny_model_dir),
        "--output", str(out), "--epochs", "2", "--batch-size", "16", "--max-length", "16",
        "--strategy", "lp_ft", "--track", "tensorboard", "--track", "mlflow",
        "--logging-steps", "2",
    ]  # fmt: skip
    assert main(args) == 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out / "tracking" / "run"))
    events.Reload()
    steps = [e.step for e in events.Scalars("epoch/train_loss")]
    # 54 training rows, 4 steps an epoch: one linear-probe epoch, then two fine-tuning epochs,
    # on one axis of optimizer steps across the phases
    assert steps == [4, 8, 12]
    assert [e.step for e in events.Scalars("train/loss")] == [2, 4, 6, 8, 10, 12]
    assert "validation/f1_macro" in events.Tags()["scalars"]

    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{(out / 'tracking' / 'mlflow.db').resolve()}")
    client = mlflow.MlflowClient()
    run = client.search_runs([mlflow.get_experiment_by_name("longtail").experiment_id])[0]
    assert run.data.params["strategy"] == "lp_ft" and run.data.params["train.epochs"] == "2"
    assert "validation/f1_macro" in run.data.metrics
    history = client.get_metric_history(run.info.run_id, "epoch/val_score")
    assert [m.step for m in history] == [4, 8, 12]
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {
        "report.json",
        "report.md",
        "report.html",
    }


def test_missing_tracker_package_is_a_clear_error(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_mlflow(name, *args, **kwargs):
        if name == "mlflow" or name.startswith("mlflow."):
            raise ImportError("No module named 'mlflow'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mlflow)
    with pytest.raises(
        LongtailError, match=r"--track mlflow needs mlflow .*pip install 'longtail\[track\]'"
    ):
        RunTracking(["mlflow"], directory=tmp_path, run_name="x", is_main=True)


def test_unknown_tracker_is_refused_by_the_cli(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--data", "x.csv", "--track", "neptune"])
    assert "invalid choice: 'neptune'" in capsys.readouterr().err


def test_wandb_without_a_login_is_one_line_saying_how_to_log_in(tmp_path, monkeypatch):
    for name in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc, no W&B settings of this user
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "config"))
    import wandb

    wandb.teardown()  # a fresh process: W&B keeps its settings (an earlier offline run's) per process
    with pytest.raises(LongtailError) as exc:
        RunTracking(["wandb"], directory=tmp_path / "tracking", run_name="x", is_main=True)
    message = str(exc.value)
    assert "\n" not in message and "--track wandb could not start a run" in message
    assert "wandb login" in message and "WANDB_MODE=offline" in message
