"""Same-file and inside-a-directory checks, with links resolved."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from longtail.errors import LongtailError
from longtail.paths import inside, refuse_overwriting_inputs, same_path


def test_same_path_sees_through_links_and_spellings(tmp_path: Path, monkeypatch) -> None:
    data = tmp_path / "data.csv"
    data.write_text("text,label\n")
    (tmp_path / "link.csv").symlink_to(data)
    os.link(data, tmp_path / "hard.csv")
    monkeypatch.chdir(tmp_path)
    assert same_path("data.csv", data)
    assert same_path("./sub/../data.csv", data)
    assert same_path(tmp_path / "link.csv", data)
    assert same_path(tmp_path / "hard.csv", data)  # a hard link is the same file
    assert not same_path(tmp_path / "other.csv", data)
    assert same_path(tmp_path / "new.csv", tmp_path / "x" / ".." / "new.csv")  # neither exists


def test_refuse_overwriting_inputs_names_both_flags(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("text,label\n")
    (tmp_path / "link.csv").symlink_to(data)
    with pytest.raises(LongtailError, match=r"--output .*link.csv is the same file as --data"):
        refuse_overwriting_inputs(tmp_path / "link.csv", {"--data": data, "--model": None})
    refuse_overwriting_inputs(tmp_path / "preds.csv", {"--data": data})  # a new file is fine


def test_inside(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert inside(run / "train.csv", run)
    assert inside(run / "a" / "b", run)
    assert not inside(run, run)
    assert not inside(tmp_path / "run2" / "x", run)  # a prefix is not a parent
    (tmp_path / "alias").symlink_to(tmp_path / "run", target_is_directory=True)
    run.mkdir()
    assert inside(tmp_path / "alias" / "train.csv", run)
