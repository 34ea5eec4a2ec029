"""An interrupted run resumed with --resume ends exactly where an uninterrupted one does."""

from __future__ import annotations

import json
import shutil

import pytest
from cli_helpers import fast_train_args

import longtail.training.loop as loop
from longtail.cli import main
from longtail.config import build_config


def test_resume_after_interruption_matches_uninterrupted(
    spam_files, tiny_model_dir, tmp_path, monkeypatch, capsys
):
    args = [
        "train",
        "--data",
        str(spam_files["train"]),
        "--test-data",
        str(spam_files["test"]),
        "--patience",
        "5",
    ]
    assert main([*args, *fast_train_args(tiny_model_dir, tmp_path / "full")]) == 0

    real_save = loop.save_checkpoint
    saves = {"n": 0}

    def save_then_die(*a, **kw):
        real_save(*a, **kw)
        saves["n"] += 1
        if saves["n"] == 2:
            raise KeyboardInterrupt  # killed right after epoch 2's checkpoint

    monkeypatch.setattr(loop, "save_checkpoint", save_then_die)
    assert main([*args, *fast_train_args(tiny_model_dir, tmp_path / "cut")]) == 130
    assert "--resume" in capsys.readouterr().err
    assert not (tmp_path / "cut" / "longtail.json").exists(), (
        "an interrupted run must not look finished"
    )
    monkeypatch.setattr(loop, "save_checkpoint", real_save)

    assert main([*args, *fast_train_args(tiny_model_dir, tmp_path / "cut"), "--resume"]) == 0
    assert "resuming after epoch 2" in capsys.readouterr().out
    full = json.loads((tmp_path / "full" / "longtail.json").read_text())
    resumed = json.loads((tmp_path / "cut" / "longtail.json").read_text())
    assert resumed["thresholds"] == pytest.approx(full["thresholds"], abs=1e-6)
    assert resumed["temperature"] == pytest.approx(full["temperature"], rel=1e-5)
    assert [h["train_loss"] for h in resumed["training"]["history"]] == pytest.approx(
        [h["train_loss"] for h in full["training"]["history"]], rel=1e-5
    )
    full_report = json.loads((tmp_path / "full" / "report.json").read_text())["metrics"]
    cut_report = json.loads((tmp_path / "cut" / "report.json").read_text())["metrics"]
    assert cut_report["f1_macro"] == pytest.approx(full_report["f1_macro"], abs=1e-9)


def test_a_run_killed_inside_an_epoch_resumes_there_with_save_steps(
    spam_files, tiny_model_dir, tmp_path, monkeypatch, capsys
):
    """The tiny encoder has dropout: the resumed half-epoch must draw the same masks."""
    args = ["train", "--data", str(spam_files["train"]), "--test-data", str(spam_files["test"])]
    assert main([*args, *fast_train_args(tiny_model_dir, tmp_path / "full")]) == 0

    real_save, states = loop.save_checkpoint, []

    def save_then_die(*a, **kw):
        real_save(*a, **kw)
        states.append(kw["state"])
        if kw["state"]["epoch"] == 1 and kw["state"]["epoch_batches"]:
            raise KeyboardInterrupt  # killed inside epoch 2, after a step checkpoint

    monkeypatch.setattr(loop, "save_checkpoint", save_then_die)
    cut = [*args, *fast_train_args(tiny_model_dir, tmp_path / "cut"), "--save-steps", "2"]
    assert main(cut) == 130
    monkeypatch.setattr(loop, "save_checkpoint", real_save)
    batches = states[-1]["epoch_batches"]
    assert batches > 0 and [s["epoch_batches"] for s in states].count(0) == 1  # epoch 1's end

    capsys.readouterr()
    assert main([*cut, "--resume"]) == 0
    assert f"resuming in epoch 2 after batch {batches}" in capsys.readouterr().out
    full = json.loads((tmp_path / "full" / "longtail.json").read_text())
    resumed = json.loads((tmp_path / "cut" / "longtail.json").read_text())
    assert [h["train_loss"] for h in resumed["training"]["history"]] == pytest.approx(
        [h["train_loss"] for h in full["training"]["history"]], rel=1e-6
    )
    assert resumed["thresholds"] == pytest.approx(full["thresholds"], abs=1e-6)


def test_resume_refuses_a_checkpoint_from_other_settings(
    spam_files, tiny_model_dir, tmp_path, monkeypatch, capsys
):
    args = [
        "train",
        "--data",
        str(spam_files["train"]),
        *fast_train_args(tiny_model_dir, tmp_path / "r"),
    ]
    _interrupted_run(args, monkeypatch)
    capsys.readouterr()
    assert main([*args, "--resume", "--seed", "7"]) == 2
    assert "other data or settings" in capsys.readouterr().err


def _interrupted_run(args, monkeypatch):
    """Train until the first checkpoint is written, then stop as a kill would."""
    real_save = loop.save_checkpoint

    def die(*a, **kw):
        real_save(*a, **kw)
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_checkpoint", die)
    assert main(args) == 130
    monkeypatch.setattr(loop, "save_checkpoint", real_save)


def test_resume_follows_the_training_data_by_content_not_by_path(
    spam_files, tiny_model_dir, tmp_path, monkeypatch, capsys
):
    train = shutil.copy(spam_files["train"], tmp_path / "edited.csv")
    args = ["train", "--data", str(train), *fast_train_args(tiny_model_dir, tmp_path / "r")]
    _interrupted_run(args, monkeypatch)
    lines = train.read_text(encoding="utf-8").splitlines()
    text, label = lines[1].rsplit(",", 1)
    lines[1] = f"{text} thanks,{label}"  # one row edited: same rows, same labels, other text
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main([*args, "--resume"]) == 2
    assert "other data or settings" in capsys.readouterr().err

    moved = shutil.copy(spam_files["train"], tmp_path / "moved.csv")
    args = ["train", "--data", str(moved), *fast_train_args(tiny_model_dir, tmp_path / "m")]
    _interrupted_run(args, monkeypatch)
    shutil.copytree(tmp_path / ".m.partial", tmp_path / ".m2.partial")  # where it waits
    elsewhere = shutil.copy(moved, tmp_path / "elsewhere.csv")
    capsys.readouterr()
    resumed = ["train", "--data", str(elsewhere), *fast_train_args(tiny_model_dir, tmp_path / "m2")]
    assert main([*resumed, "--resume"]) == 0
    assert "resuming after epoch 1" in capsys.readouterr().out


def test_resume_may_change_the_decision_made_after_training_unless_it_scored_the_epochs(
    spam_files, tiny_model_dir, tmp_path, monkeypatch, capsys
):
    run = tmp_path / "run"
    untuned = "decision.tune_thresholds=false"
    args = ["train", "--data", str(spam_files["train"]), *fast_train_args(tiny_model_dir, run)]
    _interrupted_run([*args, untuned], monkeypatch)
    capsys.readouterr()
    # epochs scored by argmax: the calibration is fitted after training and may change
    assert main([*args, "--resume", untuned, "decision.calibrate=none"]) == 0
    assert "resuming after epoch 1" in capsys.readouterr().out
    assert json.loads((run / "longtail.json").read_text())["config"]["decision"]["calibrate"] == (
        "none"
    )
    # tuned thresholds scored the epochs: another objective would have kept another epoch
    tuned = tmp_path / "tuned"
    args = ["train", "--data", str(spam_files["train"]), *fast_train_args(tiny_model_dir, tuned)]
    _interrupted_run(args, monkeypatch)
    capsys.readouterr()
    assert main([*args, "--resume", "decision.objective=recall_floor", "decision.floor=0.9"]) == 2
    assert "other data or settings" in capsys.readouterr().err


def test_a_run_interrupted_before_an_upgrade_that_added_an_option_resumes_after_it(
    spam_files, tiny_model_dir, tmp_path, monkeypatch, capsys
):
    """The upgrade is played by fingerprinting the interrupted run without ``train.max_grad_norm``,
    as a longtail that lacked the option would have; after it the option is registered with
    the value that kept the former behaviour (``longtail.fingerprint.ADDED_OPTIONS``)."""
    import longtail.fingerprint as fingerprint
    import longtail.training.run as run_module

    key = "train.max_grad_norm"
    real = run_module.result_settings

    def before_the_option(*a, **kw):
        return {k: v for k, v in real(*a, **kw).items() if k != key}

    args = [
        "train",
        "--data",
        str(spam_files["train"]),
        *fast_train_args(tiny_model_dir, tmp_path / "r"),
    ]
    monkeypatch.setattr(run_module, "result_settings", before_the_option)
    _interrupted_run(args, monkeypatch)
    monkeypatch.setattr(run_module, "result_settings", real)
    capsys.readouterr()
    assert main([*args, "--resume"]) == 2, "unregistered, the added option looks like a change"
    assert "other data or settings" in capsys.readouterr().err

    default = real(build_config({"data": {"train": "x"}}))[key]
    monkeypatch.setitem(fingerprint.ADDED_OPTIONS, key, default)
    assert main([*args, "--resume", f"{key}={default * 2}"]) == 2, "another value is a change"
    capsys.readouterr()
    assert main([*args, "--resume"]) == 0
    assert "resuming after epoch 1" in capsys.readouterr().out
