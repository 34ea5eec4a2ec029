"""``longtail train --strategy / --augment / --sam / --aux-loss``: end to end, resume across
phases, and bad input as one-line errors."""

from __future__ import annotations

import json

import pytest
from cli_helpers import fast_train_args

import longtail.training.loop as loop
from longtail.cli import main


def _args(spam_files, *extra):
    return [
        "train",
        "--data",
        str(spam_files["train"]),
        "--test-data",
        str(spam_files["test"]),
        *extra,
    ]


def test_augment_on_train_grows_only_the_training_split(
    spam_files, tiny_model_dir, tmp_path, capsys
):
    out = tmp_path / "run"
    code = main(
        [*_args(spam_files, "--augment", "eda", "--augment-ratio", "0.6", "augment.quality_plot=pca"),
         *fast_train_args(tiny_model_dir, out)]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "augmentation of the training split: eda kept" in printed
    report = json.loads((out / "report.json").read_text())
    counts = report["data"]["train_class_counts"]
    assert counts["spam"] >= 0.6 * counts["ham"] - 1  # grown to the target ratio
    stats = report["augmentation"]["augment"]
    assert stats["generated"] == counts["spam"] + counts["ham"] - stats["rows"]
    assert report["data"]["validation_rows"] == 16  # validation untouched (10 % of 160)
    assert report["data"]["test_rows"] == 60
    assert (out / "augmentation_quality_augment.png").is_file()
    assert (out / "report.html").is_file()


def test_interrupted_in_phase_two_resumes_in_phase_two(
    spam_files, tiny_model_dir, tmp_path, monkeypatch, capsys
):
    args = _args(spam_files, "--strategy", "lp_ft", "--patience", "5")
    assert main([*args, *fast_train_args(tiny_model_dir, tmp_path / "full")]) == 0

    real_save = loop.save_checkpoint
    saves = {"n": 0}

    def save_then_die(*a, **kw):
        real_save(*a, **kw)
        saves["n"] += 1
        if saves["n"] == 2:  # phase 1 (one epoch) done, then epoch 1 of phase 2
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_checkpoint", save_then_die)
    assert main([*args, *fast_train_args(tiny_model_dir, tmp_path / "cut")]) == 130
    monkeypatch.setattr(loop, "save_checkpoint", real_save)
    capsys.readouterr()
    assert main([*args, *fast_train_args(tiny_model_dir, tmp_path / "cut"), "--resume"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("resuming after epoch 1") == 2  # phase 1 restored, phase 2 continued
    full = json.loads((tmp_path / "full" / "longtail.json").read_text())
    resumed = json.loads((tmp_path / "cut" / "longtail.json").read_text())
    assert resumed["thresholds"] == pytest.approx(full["thresholds"], abs=1e-6)
    assert [(h["phase"], h["epoch"]) for h in resumed["training"]["history"]] == [
        (h["phase"], h["epoch"]) for h in full["training"]["history"]
    ]
    assert [h["train_loss"] for h in resumed["training"]["history"]] == pytest.approx(
        [h["train_loss"] for h in full["training"]["history"]], rel=1e-5
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--strategy", "warmup"],
            "unknown strategy 'warmup'; valid names: auto, crt, drw, linear_probe, lp_ft, lws, "
            "prefinetune_da, tau_norm, vanilla",
        ),
        (
            ["--sam", "sharp"],
            "unknown optimizer wrapper 'sharp'; valid names: asymmetric_sam, none, sam",
        ),
        (
            ["--aux-loss", "triplet"],
            "unknown auxiliary loss 'triplet'; valid names: none, simcse, supcon",
        ),
        (["--aux-loss", "simcse", "--aux-weight", "-0.5"], "must be >= 0"),
        (["--aux-weight", "0.5"], "--aux-weight needs an auxiliary loss"),
        (["--augment", "eda", "--augment-ratio", "1.5"], "augment.target_ratio"),
        (["--augment", "eda", "--augment-ratio", "0"], "augment.target_ratio"),
        (["--augment", "paraphrase"], "unknown augmentation method 'paraphrase'"),
        (["--augment", "back_translation"], "back_translation needs"),
        (
            [
                "--augment",
                "back_translation",
                "augment.method.forward_model=/no/such/model",
                "augment.method.backward_model=/no/such/model2",
            ],
            "back_translation forward_model '/no/such/model': no such model directory",
        ),  # fmt: skip
        (["--strategy", "drw", "--epochs", "1"], "drw needs train.epochs > reweight_epochs"),
        (["--sam", "sam", "--grad-accum", "2"], "sam needs train.grad_accum=1"),
        (
            ["--strategy", "linear_probe", "--sampler", "class_balanced"],
            "phase 'linear_probe' (linear probe, solver lbfgs): it fits the whole training set "
            "at once, so sampler class_balanced has nothing to draw",
        ),
        (
            ["--strategy", "auto", "--head", "mlp"],
            "(linear probe, solver lbfgs): an MLP head is not one linear layer; use --head linear",
        ),
        (
            ["--strategy", "linear_probe", "--sam", "sam"],
            "SAM and auxiliary losses act on minibatches",
        ),
    ],
)
def test_bad_remedy_options_are_one_line_errors(
    spam_files, tiny_model_dir, tmp_path, capsys, extra, message
):
    args = [*_args(spam_files), *fast_train_args(tiny_model_dir, tmp_path / "bad"), *extra]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_a_solved_probe_is_restored_on_resume_without_embedding_again(
    spam_files, tiny_model_dir, tmp_path, capsys
):
    args = [*_args(spam_files, "--strategy", "auto", "--patience", "5"),
            *fast_train_args(tiny_model_dir, tmp_path / "run")]  # fmt: skip
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "linear probe (L-BFGS): l2 " in first and "chosen on validation" in first
    assert "start weights: val score" in first  # fine-tuning must beat the probe
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    probe, finetune = report["training"]["phases"]
    assert probe["stop"] == "solved" and finetune["keep_start"] is True
    assert finetune["best_score"] >= probe["best_score"]  # never below the probe on validation
    assert main([*args, "--resume"]) == 0
    again = capsys.readouterr().out
    assert "the solved probe is restored" in again
    assert "the frozen encoder embedded" not in again  # no encoder pass for the probe
    resumed = json.loads((tmp_path / "run" / "report.json").read_text())
    for key in ("f1_macro", "mcc", "pr_auc_macro"):
        assert resumed["metrics"][key] == pytest.approx(report["metrics"][key])


def test_the_probe_alone_on_a_frozen_encoder(spam_files, tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "probe"
    args = [*_args(spam_files, "--strategy", "linear_probe", "--encoder", "frozen",
                   "--cache-dir", str(tmp_path / "cache")),
            *fast_train_args(tiny_model_dir, out)]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "linear probe (L-BFGS)" in printed and "epoch 1/" not in printed  # no SGD epochs
    report = json.loads((out / "report.json").read_text())
    assert "solved by L-BFGS" in report["training"]["stopped"]
    assert report["metrics"]["f1_macro"] > 0.5
