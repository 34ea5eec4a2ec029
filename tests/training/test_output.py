"""The run directory: checked before anything is read, written beside --output, swapped in whole."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from longtail.errors import LongtailError
from longtail.training import output as run_output
from longtail.training.output import (
    check_output,
    check_paths_outside,
    open_run_directory,
    partial_directory,
)


def _finished_run(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "longtail.json").write_text("{}")
    (path / "report.md").write_text("old report")
    return path


def test_a_complete_run_replaces_the_old_one_in_one_step(tmp_path: Path) -> None:
    run = _finished_run(tmp_path / "run")
    with open_run_directory(run, resume=False, overwrite=True) as run_dir:
        assert run_dir.work == partial_directory(run) and run_dir.work.is_dir()
        (run_dir.work / "longtail.json").write_text('{"new": 1}')
        assert (run / "report.md").read_text() == "old report", "untouched while training"
        run_dir.commit()
    assert (run / "longtail.json").read_text() == '{"new": 1}'
    assert not (run / "report.md").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"], "no partial or lock file left"


def test_a_failure_before_the_first_checkpoint_leaves_the_old_run_and_nothing_else(
    tmp_path: Path,
) -> None:
    run = _finished_run(tmp_path / "run")
    with pytest.raises(LongtailError), open_run_directory(run, resume=False, overwrite=True) as rd:
        (rd.work / "report.json").write_text("half")
        raise LongtailError("bad --test-data")
    assert (run / "report.md").read_text() == "old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_failed_first_run_leaves_no_empty_output_directory(tmp_path: Path) -> None:
    with (
        pytest.raises(KeyboardInterrupt),
        open_run_directory(tmp_path / "new", resume=False, overwrite=False),
    ):
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_run_keeps_its_checkpoint_for_resume(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with (
        pytest.raises(KeyboardInterrupt),
        open_run_directory(run, resume=False, overwrite=False) as rd,
    ):
        (rd.work / "checkpoint" / "vanilla").mkdir(parents=True)
        (rd.work / "checkpoint" / "vanilla" / "state.json").write_text("{}")
        raise KeyboardInterrupt
    assert (partial_directory(run) / "checkpoint").is_dir()
    with pytest.raises(LongtailError, match="interrupted run .* --resume .* --overwrite"):
        check_output(run, resume=False, overwrite=False)
    with open_run_directory(run, resume=True, overwrite=False) as rd:
        assert (rd.work / "checkpoint" / "vanilla" / "state.json").exists(), "continued"
        rd.commit()
    assert (run / "checkpoint").is_dir() and not partial_directory(run).exists()


def test_resuming_a_finished_run_works_on_a_copy(tmp_path: Path) -> None:
    run = _finished_run(tmp_path / "run")
    (run / "checkpoint" / "vanilla").mkdir(parents=True)
    (run / "checkpoint" / "vanilla" / "state.json").write_text("{}")
    with pytest.raises(LongtailError), open_run_directory(run, resume=True, overwrite=False) as rd:
        assert (rd.work / "report.md").read_text() == "old report"
        raise LongtailError("written for other settings")
    assert not partial_directory(run).exists(), "a copy that made no progress is not kept"
    assert (run / "report.md").read_text() == "old report"


def test_output_checks(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(LongtailError, match="is a file, not a directory"):
        check_output(tmp_path / "file", resume=False, overwrite=False)
    with pytest.raises(LongtailError, match="is a file, not a folder"):
        check_output(tmp_path / "file" / "run", resume=False, overwrite=False)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("x")
    with pytest.raises(LongtailError, match=r"not a longtail run \(1 entries: thesis.tex\)"):
        check_output(foreign, resume=False, overwrite=True)
    (tmp_path / "empty").mkdir()
    check_output(tmp_path / "empty", resume=False, overwrite=False)
    run = _finished_run(tmp_path / "run")
    with pytest.raises(LongtailError, match="already holds a run.*--overwrite"):
        check_output(run, resume=False, overwrite=False)
    check_output(tmp_path / "a" / "b" / "new", resume=False, overwrite=False)


def test_an_unwritable_folder_is_named(tmp_path: Path, monkeypatch) -> None:
    # root ignores permission bits, so the check is driven through os.access
    monkeypatch.setattr(run_output.os, "access", lambda path, mode: False)
    with pytest.raises(LongtailError, match=f"cannot write in {tmp_path} \\(permission denied\\)"):
        check_output(tmp_path / "run", resume=False, overwrite=False)


def test_inputs_and_caches_inside_the_output_are_refused(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with pytest.raises(LongtailError, match="--data .*train.csv lies inside --output"):
        check_paths_outside(run, {"--data": run / "train.csv", "--test-data": None})
    with pytest.raises(LongtailError, match="--cache-dir"):
        check_paths_outside(run, {"--cache-dir": run})
    check_paths_outside(run, {"--data": tmp_path / "train.csv"})


def test_a_second_run_on_the_same_output_fails_at_once(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with open_run_directory(run, resume=False, overwrite=False):
        with (
            pytest.raises(
                LongtailError, match=f"in use by another longtail run \\(pid {os.getpid()}\\)"
            ),
            open_run_directory(run, resume=False, overwrite=True),
        ):
            pass
        assert partial_directory(run).is_dir(), "the refused run removed nothing of the first"


def test_folders_made_for_a_failed_run_are_removed(tmp_path: Path) -> None:
    with (
        pytest.raises(LongtailError),
        open_run_directory(tmp_path / "a" / "b" / "run", resume=False, overwrite=False),
    ):
        raise LongtailError("bad data")
    assert list(tmp_path.iterdir()) == []
