"""Atomic writes: modes that honour the umask, and temporaries of killed writers cleaned up."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from longtail import io_utils
from longtail.io_utils import (
    atomic_write_bytes,
    atomic_writer,
    make_staging_directory,
    process_alive,
    remove_stale_temporaries,
    replace_directory,
)

posix_only = pytest.mark.skipif(os.name != "posix", reason="modes and signals are POSIX")

# A writer that stops inside the write (before fsync) until it is killed.
_BLOCKED_WRITER = """
import os, sys, time
from longtail import io_utils

def block(fd):
    print("writing", flush=True)
    time.sleep(600)

os.fsync = block
io_utils.atomic_write_bytes(sys.argv[1], b"half written")
"""


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask() -> Iterator[object]:
    """``umask(value)`` sets the process umask; the old one is restored after the test."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


@posix_only
@pytest.mark.parametrize(("mask", "file_mode", "dir_mode"), [
    (0o022, 0o644, 0o755), (0o077, 0o600, 0o700), (0o002, 0o664, 0o775),
])  # fmt: skip
def test_new_files_and_directories_honour_the_umask(tmp_path, umask, mask, file_mode, dir_mode):
    umask(mask)
    assert _mode(atomic_write_bytes(tmp_path / "out" / "preds.csv", b"x")) == file_mode
    with atomic_writer(tmp_path / "report.md", "w", encoding="utf-8") as handle:
        handle.write("# report\n")
    assert _mode(tmp_path / "report.md") == file_mode
    staging = make_staging_directory(tmp_path / "checkpoint")
    assert _mode(staging) == dir_mode
    assert _mode(replace_directory(staging, tmp_path / "checkpoint")) == dir_mode


@posix_only
def test_a_replaced_file_keeps_its_mode_whatever_the_umask(tmp_path, umask):
    target = tmp_path / "preds.csv"
    umask(0o022)
    atomic_write_bytes(target, b"old")
    assert _mode(target) == 0o644
    umask(0o077)  # was: the replaced 0644 file became 0600
    atomic_write_bytes(target, b"new")
    assert _mode(target) == 0o644 and target.read_bytes() == b"new"
    target.chmod(0o640)  # a mode the user chose
    umask(0o022)
    atomic_write_bytes(target, b"newer")
    assert _mode(target) == 0o640


@posix_only
def test_a_replaced_directory_keeps_its_mode(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "checkpoint"
    replace_directory(make_staging_directory(target), target)
    target.chmod(0o750)
    staging = make_staging_directory(target)
    (staging / "state.json").write_text("{}")
    replace_directory(staging, target)
    assert _mode(target) == 0o750 and (target / "state.json").is_file()


def test_temporaries_carry_the_writers_pid(tmp_path):
    seen: list[str] = []
    with atomic_writer(tmp_path / "preds.csv", "w") as handle:
        handle.write("row\n")
        seen = [p.name for p in tmp_path.iterdir()]
    assert len(seen) == 1 and seen[0].startswith(f".preds.csv.{os.getpid()}.")
    assert seen[0].endswith(".tmp")
    assert make_staging_directory(tmp_path / "ckpt").name.startswith(f".ckpt.tmp-{os.getpid()}-")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".preds")] == []


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = atomic_write_bytes(tmp_path / "preds.jsonl", b"old\n")
    with pytest.raises(RuntimeError), atomic_writer(target, "wb") as handle:
        handle.write(b"half")
        raise RuntimeError("killed by a bug")
    assert target.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preds.jsonl"]


def _start_blocked_writer(target: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", _BLOCKED_WRITER, str(target)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(io_utils.__file__).parents[1])},
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "writing"
    return child


@posix_only
def test_the_temporary_of_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "preds.csv"
    atomic_write_bytes(target, b"complete\n")
    child = _start_blocked_writer(target)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    left = [p.name for p in tmp_path.iterdir() if p.name != "preds.csv"]
    assert left and left[0].startswith(f".preds.csv.{child.pid}.")  # the kill -9 left it
    assert target.read_bytes() == b"complete\n"  # and the old file is whole
    atomic_write_bytes(target, b"next\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preds.csv"]
    assert target.read_bytes() == b"next\n"


@posix_only
def test_the_temporary_of_a_live_writer_is_never_removed(tmp_path):
    target = tmp_path / "preds.csv"
    child = _start_blocked_writer(target)
    try:
        atomic_write_bytes(target, b"mine\n")
        assert remove_stale_temporaries(target) == []
        theirs = [p for p in tmp_path.iterdir() if p.name.startswith(f".preds.csv.{child.pid}.")]
        assert len(theirs) == 1 and theirs[0].read_bytes() == b"half written"
    finally:
        child.kill()
        child.wait(timeout=30)
    assert [p.name for p in remove_stale_temporaries(target)] == [theirs[0].name]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    return child.pid


@posix_only
def test_stale_staging_and_old_directories_of_the_target_only_are_removed(tmp_path):
    dead = _dead_pid()
    target = tmp_path / "checkpoint"
    target.mkdir()
    stale = [
        tmp_path / f".checkpoint.tmp-{dead}-0a1b2c3d",
        tmp_path / f".checkpoint.old-{dead}",
        tmp_path / f".checkpoint.old-{dead}-99aa",
    ]
    kept = [
        tmp_path / ".checkpoint.tmp-k2j4_x9q",  # no pid (older versions): cannot be judged
        tmp_path / f".checkpoint.tmp-{os.getpid()}-0a1b2c3d",  # this process
        tmp_path / f".other.tmp-{dead}-0a1b2c3d",  # another target
        tmp_path / ".checkpoint.partial",
    ]
    for path in stale + kept:
        (path / "sub").mkdir(parents=True)
    (tmp_path / f".checkpoint.json.{dead}.0a1b2c3d.tmp").write_text("x")  # checkpoint.json's
    replace_directory(make_staging_directory(target), target)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert not any(p.name in names for p in stale)
    assert all(p.name in names for p in kept)
    assert f".checkpoint.json.{dead}.0a1b2c3d.tmp" in names


@posix_only
def test_a_kill_between_the_two_renames_puts_the_old_copy_back(tmp_path):
    target = tmp_path / "checkpoint"
    old = tmp_path / f".checkpoint.old-{_dead_pid()}-0a1b"
    old.mkdir()
    (old / "state.json").write_text('{"epoch": 3}')
    staging = make_staging_directory(target)  # the next save finds the checkpoint missing
    assert (target / "state.json").read_text() == '{"epoch": 3}'
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["checkpoint", staging.name])


def test_process_alive():
    assert process_alive(os.getpid())
    assert process_alive(0)  # a process group, never "gone"
    if os.name == "posix":
        assert not process_alive(_dead_pid())


def test_a_store_that_sweeps_itself_can_skip_the_folder_listing(tmp_path):
    target = tmp_path / "entry.safetensors"
    stale = tmp_path / f".entry.safetensors.{_dead_pid()}.0a1b2c3d.tmp"
    stale.write_bytes(b"half")
    atomic_write_bytes(target, b"one", clean_stale=False)
    assert stale.exists() and target.read_bytes() == b"one"  # left for the store's own sweep
    atomic_write_bytes(target, b"two")
    assert not stale.exists() and target.read_bytes() == b"two"
