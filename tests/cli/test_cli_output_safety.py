"""No run destroys a finished model: bad input, kill -9 and a second run on the same --output.

The kills and the concurrent run are real processes (``python -m longtail``), as a user's are.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import fast_train_args, make_rows, write_csv

import longtail.training.loop as loop
from longtail.cli import main
from longtail.predictor import Classifier


def _digest(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def finished_run(spam_files, tiny_model_dir, tmp_path) -> Path:
    run = tmp_path / "run"
    args = ["train", "--data", str(spam_files["train"]), *fast_train_args(tiny_model_dir, run)]
    assert main([*args, "--epochs", "1"]) == 0
    return run


@pytest.mark.parametrize("bad", ["missing", "empty", "test-missing", "test-unknown-label"])
def test_overwrite_with_bad_input_leaves_the_finished_model_untouched(
    bad, finished_run, spam_files, tiny_model_dir, tmp_path, capsys, monkeypatch
):
    before = _digest(finished_run)
    data, extra = spam_files["train"], []
    if bad == "missing":
        data = tmp_path / "trian.csv"
    elif bad == "empty":
        data = tmp_path / "empty.csv"
        data.write_text("")
    elif bad == "test-missing":
        extra = ["--test-data", str(tmp_path / "tset.csv")]
    else:
        test = write_csv(tmp_path / "t.csv", [("free cash now", "phishing"), ("hi", "ham")])
        extra = ["--test-data", str(test)]
    saved = []
    monkeypatch.setattr(loop, "save_checkpoint", lambda *a, **kw: saved.append(1))
    capsys.readouterr()
    args = ["train", "--data", str(data), *fast_train_args(tiny_model_dir, finished_run), *extra]
    assert main([*args, "--overwrite"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert saved == [], "the bad input was found only after training"
    assert _digest(finished_run) == before
    assert Classifier.load(finished_run).predict(["free cash"])
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def _popen_train(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, "-m", "longtail", *args]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def _wait_for(path: Path, process: subprocess.Popen, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, (
            "the run ended early: " + process.stderr.read().decode()[-2000:]
        )
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_kill_9_during_an_overwrite_run_keeps_the_old_model(finished_run, tiny_model_dir, tmp_path):
    before = _digest(finished_run)
    train = write_csv(tmp_path / "big.csv", make_rows(1200, 0.15, seed=11))
    args = ["train", "--data", str(train), *fast_train_args(tiny_model_dir, finished_run)]
    process = _popen_train([*args, "--overwrite"])
    state = tmp_path / ".run.partial" / "checkpoint"
    try:
        _wait_for(state, process)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert _digest(finished_run) == before, "a killed --overwrite run changed the old model"
    assert Classifier.load(finished_run).predict(["free cash"])
    assert main([*args, "--overwrite", "--epochs", "1"]) == 0  # the interrupted one is dropped
    after = json.loads((finished_run / "longtail.json").read_text())
    assert after["config"]["data"]["train"] == str(train)
    assert not (tmp_path / ".run.partial").exists()


def test_a_second_run_on_the_same_output_fails_at_once_naming_the_first(
    spam_files, tiny_model_dir, tmp_path, capsys
):
    run = tmp_path / "run"
    train = write_csv(tmp_path / "big.csv", make_rows(1200, 0.15, seed=11))
    first = _popen_train(["train", "--data", str(train), *fast_train_args(tiny_model_dir, run)])
    try:
        _wait_for(tmp_path / ".run.partial", first)
        capsys.readouterr()
        started = time.monotonic()
        args = ["train", "--data", str(spam_files["train"]), *fast_train_args(tiny_model_dir, run)]
        assert main([*args, "--overwrite"]) == 2
        assert time.monotonic() - started < 30, "the second run did work before refusing"
        err = capsys.readouterr().err
        assert f"is in use by another longtail run (pid {first.pid})" in err
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
