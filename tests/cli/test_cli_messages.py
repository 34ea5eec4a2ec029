"""Messages that must fit what happened: resuming with other optimizer settings, Ctrl-C per
command, numeric flags that make no sense."""

from __future__ import annotations

import re
import shutil

import pytest
from cli_helpers import make_rows, write_csv

from longtail.cli import main


@pytest.fixture(scope="module")
def finished_run(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    data = write_csv(root / "train.csv", make_rows(60, 0.25, seed=1))
    args = ["train", "--data", str(data), "--model", str(tiny_model_dir), "--epochs", "1",
            "--batch-size", "16", "--max-length", "32"]  # fmt: skip
    assert main([*args, "--output", str(root / "run")]) == 0
    return args, root / "run"


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--lr", "0.5"], "train.lr was 5e-05, now 0.5"),
        # these regroup the optimizer's parameters: PyTorch's "parameter groups" message before
        (["--layer-decay", "0.5"], "train.layer_decay was 1.0, now 0.5"),
        (["--lr", "1e-3"], "train.lr was 5e-05, now 0.001"),  # equal to head_lr: groups merge
        (["--head-lr", "0.5"], "train.head_lr was 0.001, now 0.5"),
        (["--loss", "focal"], "train.* is the same"),
    ],
)
def test_resume_with_other_settings_names_them(finished_run, tmp_path, capsys, flags, named):
    args, run = finished_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    assert main([*args, "--output", str(copy), "--resume", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert "was written for other data or settings" in err and named in err
    assert "parameter groups" not in err


def test_resume_with_the_same_settings_still_works(finished_run, tmp_path, capsys):
    args, run = finished_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    assert main([*args, "--output", str(copy), "--resume"]) == 0


def _interrupt(monkeypatch, module_name: str) -> None:
    import importlib

    module = importlib.import_module(f"longtail.cli.{module_name}")

    def stop(_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "run", stop)


@pytest.mark.parametrize(
    ("argv", "module", "expected", "unexpected"),
    [
        (["train", "--data", "x.csv"], "train", "with --resume", None),
        (["predict", "--model", "m", "--data", "x.csv", "--output", "p.jsonl"], "predict",
         "p.jsonl was left as it was", "--resume"),
        (["evaluate", "--model", "m", "--data", "x.csv", "--output", "ev"], "evaluate",
         "ev was left as it was", "--resume"),
        (["export", "--model", "m", "--onnx", "--output", "m.onnx"], "export",
         "m.onnx was left as it was", "--resume"),
        (["compare", "exp.yaml"], "compare", "finished cells are reused", "--resume"),
        (["cache", "clear", "--dir", "c"], "cache_cmd", "removed so far are gone", "--resume"),
    ],
)  # fmt: skip
def test_ctrl_c_advice_fits_the_command(monkeypatch, capsys, argv, module, expected, unexpected):
    _interrupt(monkeypatch, module)  # main() builds its parser anew, with the patched run
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert err.startswith("interrupted; ") and expected in err
    assert unexpected is None or unexpected not in err


def test_predict_interrupted_leaves_the_output_untouched(tiny_model_dir, tmp_path, monkeypatch):
    """The file predict writes appears only when complete: Ctrl-C keeps the old one."""
    from longtail.predictor import Classifier

    data = write_csv(tmp_path / "train.csv", make_rows(40, 0.25, seed=1))
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--model", str(tiny_model_dir), "--output",
                 str(run), "--epochs", "1", "--max-steps", "1", "--max-length", "32"]) == 0  # fmt: skip
    output = tmp_path / "preds.jsonl"
    output.write_text("old\n", encoding="utf-8")

    def interrupted(*_a, **_kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(Classifier, "predict_proba", interrupted)
    argv = ["predict", "--model", str(run), "--data", str(data), "--output", str(output),
            "--no-progress"]  # fmt: skip
    assert main(argv) == 130
    assert output.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".preds")) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["predict", "--model", "m", "--data", "d.csv", "--output", "p.jsonl", "--batch-size", "0"],
        ["predict", "--model", "m", "--data", "d.csv", "--output", "p.jsonl", "--batch-size", "-4"],
        ["predict", "--model", "m", "--data", "d.csv", "--output", "p.jsonl", "--explain", "0"],
        ["evaluate", "--model", "m", "--data", "d.csv", "--output", "ev", "--batch-size", "0"],
        ["export", "--model", "m", "--onnx", "--output", "m.onnx", "--opset", "9"],
        ["cache", "clear", "--dir", "c", "--older-than-days", "-1"],
        ["cache", "clear", "--dir", "c", "--older-than-days", "nan"],
        ["predict", "--model", "m", "--data", "d.csv", "--output", "p.jsonl", "--batch-size", "x"],
        [
            "make-imbalanced",
            "--data",
            "d.csv",
            "--kind",
            "step",
            "--ratio",
            "0.5",
            "--seed",
            "-1",
            "--output",
            "o.csv",
        ],
        [
            "augment",
            "--data",
            "d.csv",
            "--method",
            "eda",
            "--target-ratio",
            "0.5",
            "--min-words",
            "-3",
            "--output",
            "o.csv",
        ],
        [
            "augment",
            "--data",
            "d.csv",
            "--method",
            "eda",
            "--target-ratio",
            "0.5",
            "--seed",
            "-2",
            "--output",
            "o.csv",
        ],
    ],
)
def test_nonsense_numbers_are_refused_while_parsing(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: longtail ") and "\n" not in err
    match = re.search(r"argument (--[\w-]+): (must be|expected)", err)
    assert match and match[1] in argv, err
