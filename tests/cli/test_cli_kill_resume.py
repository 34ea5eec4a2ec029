"""kill -9 in the middle of training, then the same command with --resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from cli_helpers import fast_train_args, make_rows, write_csv

from longtail.cli import main


def _metrics(run):
    meta = json.loads((run / "longtail.json").read_text())
    report = json.loads((run / "report.json").read_text())["metrics"]
    return meta, report


def test_sigkill_then_resume_matches_an_uninterrupted_run(tiny_model_dir, tmp_path):
    # enough rows that an epoch takes a while: the kill lands inside epoch 2 or 3, not after the end
    train = write_csv(tmp_path / "train.csv", make_rows(1200, 0.15, seed=11))
    test = write_csv(tmp_path / "test.csv", make_rows(200, 0.15, seed=12))
    args = [
        "train",
        "--data",
        str(train),
        "--test-data",
        str(test),
        "--patience",
        "9",
        "--epochs",
        "3",
    ]

    killed = tmp_path / "killed"
    command = [
        sys.executable,
        "-m",
        "longtail",
        *args,
        *fast_train_args(tiny_model_dir, killed),
        "--epochs",
        "3",
    ]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    # stderr to a file, not a pipe: a pipe nobody reads can fill and stall the child, and an
    # unclosed one warns later in whichever test the garbage collector runs in
    errors = tmp_path / "killed.stderr"
    with errors.open("wb") as sink:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=sink, env=env)
    state = tmp_path / ".killed.partial" / "checkpoint" / "state.json"  # beside the output
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if state.exists() and json.loads(state.read_text())["epoch"] >= 1:
            break
        time.sleep(0.02)
    assert process.poll() is None, (
        "the run ended before it could be killed: " + errors.read_text(errors="replace")[-2000:]
    )
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert not (killed / "longtail.json").exists(), "a killed run must not leave a loadable model"
    epoch_at_kill = json.loads(state.read_text())["epoch"]
    assert 1 <= epoch_at_kill < 3

    assert main([*args, *fast_train_args(tiny_model_dir, killed), "--epochs", "3", "--resume"]) == 0
    full = tmp_path / "full"
    assert main([*args, *fast_train_args(tiny_model_dir, full), "--epochs", "3"]) == 0

    meta_killed, report_killed = _metrics(killed)
    meta_full, report_full = _metrics(full)
    assert meta_killed["thresholds"] == pytest.approx(meta_full["thresholds"], abs=1e-9)
    assert meta_killed["temperature"] == pytest.approx(meta_full["temperature"], rel=1e-9)
    assert [h["train_loss"] for h in meta_killed["training"]["history"]] == pytest.approx(
        [h["train_loss"] for h in meta_full["training"]["history"]], rel=1e-9
    )
    for key in ("f1_macro", "pr_auc_macro", "mcc", "ece"):
        assert report_killed[key] == pytest.approx(report_full[key], abs=1e-12), key
