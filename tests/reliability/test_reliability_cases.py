"""Every documented bad input: exit code, one ``error: `` line with the right words, no traceback,
nothing half-written. The same cases generate ``docs/reliability.md`` (``make_table.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cases import Case, Env, problems, run_case, train_reference_run
from catalogue import ALL_CASES


@pytest.fixture(scope="module")
def trained_run(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_reference_run(tiny_model_dir, tmp_path_factory.mktemp("reference"))


def test_case_ids_are_unique_and_enough() -> None:
    ids = [case.id for case in ALL_CASES]
    assert len(ids) == len(set(ids))
    assert len(ALL_CASES) >= 40


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda case: case.id)
def test_case(case: Case, tmp_path: Path, tiny_model_dir: Path, trained_run: Path) -> None:
    env = Env(tmp_path, tiny_model_dir, trained_run)
    outcome = run_case(case, env)
    found = problems(case, outcome, env)
    assert not found, "\n".join([*found, f"stderr:\n{outcome.stderr}"])
