"""Fixtures for CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import make_rows, write_csv


@pytest.fixture
def spam_files(tmp_path: Path) -> dict[str, Path]:
    return {
        "train": write_csv(tmp_path / "train.csv", make_rows(160, 0.15, seed=1)),
        "test": write_csv(tmp_path / "test.csv", make_rows(60, 0.15, seed=2)),
    }
