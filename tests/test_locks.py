"""Advisory locks: the second taker fails at once naming the holder; a dead holder frees it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from longtail.errors import LongtailError
from longtail.locks import hold_lock, lock_holder

BUSY = "in use by pid {pid}"


def test_a_second_exclusive_lock_fails_naming_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    with hold_lock(path, busy=BUSY):
        assert lock_holder(path) == str(os.getpid())
        with (
            pytest.raises(LongtailError, match=f"in use by pid {os.getpid()}$"),
            hold_lock(path, busy=BUSY),
        ):
            pass
    assert not path.exists(), "an exclusive holder removes its lock file"
    with hold_lock(path, busy=BUSY):  # free again
        pass


def test_the_lock_is_released_when_the_block_raises(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    with pytest.raises(RuntimeError), hold_lock(path, busy=BUSY):
        raise RuntimeError("boom")
    with hold_lock(path, busy=BUSY):
        pass


def test_shared_holders_coexist_and_keep_an_exclusive_taker_out(tmp_path: Path) -> None:
    path = tmp_path / "cache.lock"
    with (
        hold_lock(path, busy=BUSY, shared=True),
        hold_lock(path, busy=BUSY, shared=True),
        pytest.raises(LongtailError, match="in use by pid"),
        hold_lock(path, busy=BUSY),
    ):
        pass
    with (  # and the other way round
        hold_lock(path, busy=BUSY),
        pytest.raises(LongtailError),
        hold_lock(path, busy=BUSY, shared=True),
    ):
        pass


HOLDER = """
import sys, time
from longtail.locks import hold_lock
with hold_lock(sys.argv[1], busy="busy"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "held"
        with (
            pytest.raises(LongtailError, match=f"in use by pid {child.pid}$"),
            hold_lock(path, busy=BUSY),
        ):
            pass
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert path.exists(), "kill -9 gives the holder no chance to remove its file"
    deadline = time.monotonic() + 10
    while True:  # the kernel drops the lock with the process
        try:
            with hold_lock(path, busy=BUSY):
                break
        except LongtailError:
            assert time.monotonic() < deadline, "the dead holder's lock was never released"
            time.sleep(0.05)
