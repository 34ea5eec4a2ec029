"""``longtail export --onnx``: files written on success; one clear line and no files on bad input."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from longtail.cli import main
from longtail.data import LabelSpace
from longtail.models import TextClassifier, save_model_dir


@pytest.fixture
def run_dir(tiny_model_dir, tmp_path):
    torch.manual_seed(0)
    model = TextClassifier(AutoModel.from_pretrained(tiny_model_dir), 2, dropout=0.0)
    meta = {
        "task": "binary",
        "labels": LabelSpace("binary", ["ham", "spam"]).to_dict(),
        "thresholds": [0.3],
        "temperature": 1.0,
        "max_length": 32,
    }
    return save_model_dir(
        tmp_path / "run", model, AutoTokenizer.from_pretrained(tiny_model_dir), meta
    )


def _fails(capsys, argv, *needles):
    try:
        code = main(argv)
    except SystemExit as exc:  # a flag refused while parsing (argparse)
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


def test_export_writes_the_graph_and_its_sidecars(run_dir, tmp_path, capsys):
    out = tmp_path / "export" / "model.onnx"
    assert main(["export", "--model", str(run_dir), "--onnx", "--output", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert out.is_file() and (out.parent / "model-tokenizer").is_dir()
    side = json.loads((out.parent / "model.json").read_text())
    assert side["thresholds"] == [0.3] and side["labels"]["names"] == ["ham", "spam"]


def test_bad_input_is_one_line_and_writes_nothing(run_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    model = ["export", "--model", str(run_dir)]
    _fails(capsys, [*model, "--onnx", "--output", str(out / "m.txt")], ".onnx")
    _fails(capsys, [*model, "--output", str(out / "m.onnx")], "--onnx")
    _fails(
        capsys,
        [*model, "--onnx", "--output", str(out / "m.onnx"), "--opset", "12"],
        "argument --opset: must be at least 17",
    )
    nowhere = ["export", "--model", str(tmp_path / "nowhere"), "--onnx"]
    _fails(capsys, [*nowhere, "--output", str(out / "m.onnx")], "does not exist")
    (run_dir / "longtail.json").rename(tmp_path / "meta.json")
    _fails(capsys, [*model, "--onnx", "--output", str(out / "m.onnx")], "longtail.json")
    (tmp_path / "meta.json").rename(run_dir / "longtail.json")
    monkeypatch.setitem(sys.modules, "onnx", None)
    _fails(capsys, [*model, "--onnx", "--output", str(out / "m.onnx")], "longtail[onnx]")
    assert not out.exists() or not any(out.iterdir())
