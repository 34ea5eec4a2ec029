"""Every bad input gets one clear line on stderr, exit code 2, and nothing half-written."""

from __future__ import annotations

import json

import pytest
from cli_helpers import fast_train_args, make_rows, write_csv

from longtail.cli import main


def _fails(capsys, argv, *needles):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.fixture
def trained(spam_files, tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--data",
                str(spam_files["train"]),
                *fast_train_args(tiny_model_dir, out),
                "--epochs",
                "1",
            ]
        )
        == 0
    )
    return out


def test_missing_file(capsys, tmp_path, tiny_model_dir):
    _fails(
        capsys,
        [
            "train",
            "--data",
            str(tmp_path / "nope.csv"),
            *fast_train_args(tiny_model_dir, tmp_path / "o"),
        ],
        "nope.csv",
    )
    assert not (tmp_path / "o" / "longtail.json").exists()


def test_unknown_column_lists_columns(capsys, spam_files, tiny_model_dir, tmp_path):
    _fails(capsys, ["train", "--data", str(spam_files["train"]), "--text-column", "body",
                    *fast_train_args(tiny_model_dir, tmp_path / "o")], "body", "text", "label")  # fmt: skip


def test_empty_texts_dropped_or_strict(capsys, tmp_path, tiny_model_dir):
    rows = make_rows(100, 0.2, 5) + [("   ", "ham"), ("", "spam")]
    data = write_csv(tmp_path / "e.csv", rows)
    _fails(
        capsys,
        [
            "train",
            "--data",
            str(data),
            "--strict",
            *fast_train_args(tiny_model_dir, tmp_path / "o"),
        ],
        "e.csv",
    )
    assert (
        main(
            [
                "train",
                "--data",
                str(data),
                *fast_train_args(tiny_model_dir, tmp_path / "o2"),
                "--epochs",
                "1",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "2" in (captured.err + captured.out) and "empty" in (captured.err + captured.out).lower()


def test_missing_label(capsys, tmp_path, tiny_model_dir):
    data = write_csv(tmp_path / "m.csv", make_rows(50, 0.2, 6) + [("free cash now", "")])
    _fails(
        capsys,
        ["train", "--data", str(data), *fast_train_args(tiny_model_dir, tmp_path / "o")],
        "m.csv",
    )


def test_single_class(capsys, tmp_path, tiny_model_dir):
    data = write_csv(tmp_path / "one.csv", [(t, "ham") for t, _ in make_rows(30, 0.0, 7)])
    _fails(
        capsys,
        ["train", "--data", str(data), *fast_train_args(tiny_model_dir, tmp_path / "o")],
        "one.csv",
        "ham",
    )


def test_class_with_one_example_trains_with_one_warning(tmp_path, tiny_model_dir):
    rows = make_rows(50, 0.2, 8) + [("money bank alert", "fraud")]
    data = write_csv(tmp_path / "rare.csv", rows)
    out = tmp_path / "o"
    with pytest.warns(UserWarning) as caught:  # the CLI prints each as one "warning: " line
        assert main(["train", "--data", str(data), *fast_train_args(tiny_model_dir, out)]) == 0
    lines = [str(w.message) for w in caught if "only one example" in str(w.message)]
    assert len(lines) == 1 and "\n" not in lines[0], lines
    assert "class 'fraud'" in lines[0] and "--validation-data" in lines[0]
    assert "fraud" in json.loads((out / "longtail.json").read_text())["labels"]["names"]


def test_malformed_jsonl_line(capsys, tmp_path, tiny_model_dir):
    data = tmp_path / "bad.jsonl"
    lines = [json.dumps({"text": t, "label": lab}) for t, lab in make_rows(20, 0.2, 9)]
    lines.insert(4, '{"text": "broken", "label": ')
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _fails(
        capsys,
        ["train", "--data", str(data), *fast_train_args(tiny_model_dir, tmp_path / "o")],
        "bad.jsonl",
        "5",
    )


def test_non_utf8_file(capsys, tmp_path, tiny_model_dir):
    data = tmp_path / "latin.csv"
    data.write_bytes("text,label\ncaf\xe9 free cash,spam\nhi there,ham\n".encode("latin-1"))
    _fails(
        capsys,
        ["train", "--data", str(data), *fast_train_args(tiny_model_dir, tmp_path / "o")],
        "latin.csv",
        "UTF-8",
    )


def test_bad_config_key_and_value(capsys, spam_files, tiny_model_dir, tmp_path):
    args = [
        "train",
        "--data",
        str(spam_files["train"]),
        *fast_train_args(tiny_model_dir, tmp_path / "o"),
    ]
    _fails(capsys, [*args, "train.lrr=1"], "train.lrr", "train.lr")
    _fails(capsys, [*args, "train.batch_size=0"], "train.batch_size")
    _fails(capsys, [*args, "--loss", "nosuchloss"], "nosuchloss", "focal")
    _fails(capsys, [*args, "--sampler", "nosuchsampler"], "nosuchsampler", "class_balanced")


def test_existing_run_needs_resume_or_overwrite(capsys, trained, spam_files, tiny_model_dir):
    _fails(
        capsys,
        ["train", "--data", str(spam_files["train"]), *fast_train_args(tiny_model_dir, trained)],
        "--resume",
        "--overwrite",
    )


def test_unknown_label_at_evaluate(capsys, trained, tmp_path):
    data = write_csv(tmp_path / "new.csv", [("free cash", "phishing"), ("hi", "ham")])
    _fails(
        capsys,
        [
            "evaluate",
            "--model",
            str(trained),
            "--data",
            str(data),
            "--output",
            str(tmp_path / "ev"),
        ],
        "phishing",
        "new.csv",
    )
    assert not (tmp_path / "ev" / "report.json").exists()


def test_model_dir_missing_files(capsys, trained, spam_files, tmp_path):
    (trained / "head.safetensors").unlink()
    out = tmp_path / "p.jsonl"
    _fails(
        capsys,
        [
            "predict",
            "--model",
            str(trained),
            "--data",
            str(spam_files["test"]),
            "--output",
            str(out),
        ],
        "head.safetensors",
    )
    assert not out.exists()
    _fails(
        capsys,
        [
            "predict",
            "--model",
            str(tmp_path / "nomodel"),
            "--data",
            str(spam_files["test"]),
            "--output",
            str(out),
        ],
        "nomodel",
    )


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["train", "--bogus-flag"], "longtail train: unrecognized arguments: --bogus-flag"),
        (["train", "--data", "x.csv", "--task", "regression"], "invalid choice: 'regression'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "required: COMMAND"),
    ],
)
def test_argparse_mistakes_are_one_line_too(capsys, argv, needle):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert exited.value.code == 2
    assert err.startswith("error: longtail") and "\n" not in err and "usage:" not in err, err
    assert needle in err and "--help" in err, err
