"""``--runtime`` end to end: frozen-encoder training under ONNX Runtime, a saved model that
predicts under the runtime it was trained with, and the embedding cache keyed by it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_helpers import make_rows, write_csv

from longtail.cli import main


def _probabilities(path) -> np.ndarray:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return np.array([[p for _, p in sorted(r["probabilities"].items())] for r in rows])


def _frozen(tiny_model_dir, tmp_path, files, output, *extra: str) -> list[str]:
    return [
        "train", "--data", str(files["train"]), "--test-data", str(files["test"]),
        "--model", str(tiny_model_dir), "--output", str(tmp_path / output), "--max-length", "32",
        "--encoder", "frozen", "--cache-dir", str(tmp_path / "cache"), "--epochs", "4", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def int8_run(tmp_path_factory, tiny_model_dir):
    tmp = tmp_path_factory.mktemp("runtime")
    files = {
        "train": write_csv(tmp / "train.csv", make_rows(120, 0.2, seed=1)),
        "test": write_csv(tmp / "test.csv", make_rows(40, 0.2, seed=2)),
    }
    assert main(_frozen(tiny_model_dir, tmp, files, "int8", "--runtime", "onnx-int8")) == 0
    return tmp, files


def test_a_frozen_run_under_int8_says_so_and_keeps_its_own_cache_entries(
    int8_run, tiny_model_dir, capsys
):
    tmp, files = int8_run
    report = (tmp / "int8" / "report.md").read_text()
    assert "- encoder_runtime: onnx-int8 (ONNX Runtime, CPU)" in report
    meta = json.loads((tmp / "int8" / "longtail.json").read_text())
    assert meta["config"]["model"]["runtime"] == "onnx-int8"
    assert main(_frozen(tiny_model_dir, tmp, files, "torch")) == 0
    out = capsys.readouterr().out
    assert "text embeddings (training split): 0 of" in out  # int8 vectors are not torch's
    assert "encoder_runtime" not in (tmp / "torch" / "report.md").read_text()
    assert main(_frozen(tiny_model_dir, tmp, files, "onnx", "--runtime", "onnx")) == 0
    out = capsys.readouterr().out
    assert "text embeddings (training split): 108 of 108 from the cache, 0 encoded" in out
    assert "runtime onnx: graph checked" in out


def test_predict_uses_the_training_runtime_unless_told(int8_run, capsys):
    tmp, files = int8_run
    outputs = {}
    for name, flags in {"default": [], "int8": ["--runtime", "onnx-int8"],
                        "torch": ["--runtime", "torch"], "onnx": ["--runtime", "onnx"]}.items():  # fmt: skip
        outputs[name] = tmp / f"pred-{name}.jsonl"
        assert main(["predict", "--model", str(tmp / "int8"), "--data", str(files["test"]),
                     "--output", str(outputs[name]), "--no-progress", *flags]) == 0  # fmt: skip
    probs = {name: _probabilities(path) for name, path in outputs.items()}
    np.testing.assert_array_equal(probs["default"], probs["int8"])
    np.testing.assert_allclose(probs["onnx"], probs["torch"], atol=1e-5)
    assert np.abs(probs["int8"] - probs["torch"]).max() > 1e-7


def test_evaluate_under_onnx_matches_torch(int8_run):
    tmp, files = int8_run
    reports = {}
    for runtime in ("torch", "onnx"):
        out = tmp / f"eval-{runtime}"
        assert main(["evaluate", "--model", str(tmp / "int8"), "--data", str(files["test"]),
                     "--output", str(out), "--runtime", runtime]) == 0  # fmt: skip
        reports[runtime] = json.loads((out / "report.json").read_text())["metrics"]
    for key in ("f1_macro", "pr_auc_macro", "ece"):
        assert reports["onnx"][key] == pytest.approx(reports["torch"][key], abs=1e-5), key


def test_a_fine_tuned_run_refuses_an_onnx_runtime_in_one_line(tmp_path, tiny_model_dir, capsys):
    data = write_csv(tmp_path / "train.csv", make_rows(40, 0.25, seed=3))
    args = ["train", "--data", str(data), "--model", str(tiny_model_dir), "--output",
            str(tmp_path / "out"), "--max-length", "32", "--epochs", "1", "--runtime", "onnx"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --runtime onnx runs a frozen encoder") and "\n" not in err, err
    assert "--encoder frozen" in err


def test_an_unknown_runtime_is_refused_by_the_parser(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["predict", "--model", "m", "--data", "d.csv", "--output", "o.jsonl",
              "--runtime", "tensorrt"])  # fmt: skip
    assert exited.value.code == 2
    assert "invalid choice: 'tensorrt'" in capsys.readouterr().err


def test_frozen_long_documents_share_torch_entries_under_onnx_and_not_under_int8(
    tmp_path, tiny_model_dir, capsys
):
    from test_cli_long_documents import _args, _documents

    data = _documents(tmp_path)
    args = [
        "--long-mode",
        "frozen",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--test-data",
        str(data),
    ]
    assert main(_args(tiny_model_dir, data, tmp_path / "torch", *args)) == 0
    capsys.readouterr()

    def cache_lines(out: str) -> list[str]:
        return [line for line in out.splitlines() if line.startswith("chunk embeddings:")]

    assert main(_args(tiny_model_dir, data, tmp_path / "onnx", *args, "--runtime", "onnx")) == 0
    onnx = cache_lines(capsys.readouterr().out)
    assert onnx and all(line.split()[2] == line.split()[4] for line in onnx), onnx  # all hits
    assert (
        main(_args(tiny_model_dir, data, tmp_path / "int8", *args, "--runtime", "onnx-int8")) == 0
    )
    int8 = cache_lines(capsys.readouterr().out)
    assert int8[0].startswith("chunk embeddings: 0 of"), int8
    # evaluate reads the int8 entries training made for the test file: no chunk is encoded again
    assert main(["evaluate", "--model", str(tmp_path / "int8"), "--data", str(data),
                 "--output", str(tmp_path / "eval")]) == 0  # fmt: skip
    evaluated = cache_lines(capsys.readouterr().out)
    assert evaluated and evaluated[0].split()[2] == evaluated[0].split()[4], evaluated
