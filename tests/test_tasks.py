"""The per-task dispatcher: one ``ByTask`` table per function that differs by task.

A contract test walks every module of ``longtail.decision`` and ``longtail.evaluation`` and checks
every table it finds: all three tasks covered, each entry named for the task(s) it serves.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

import pytest

import longtail.decision
import longtail.evaluation
from longtail.errors import LongtailError
from longtail.tasks import TASKS, ByTask, check_task

UNKNOWN = "unknown task 'regression'; valid tasks: binary, multiclass, multilabel"


def _tables() -> list[tuple[str, ByTask]]:
    """Every ``ByTask`` at module level in the packages whose functions take a task."""
    found = []
    for package in (longtail.decision, longtail.evaluation):
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            for name, value in vars(module).items():
                if isinstance(value, ByTask):
                    found.append((f"{info.name}.{name}", value))
    return found


TABLES = _tables()


def test_by_task_has_one_field_per_task():
    assert tuple(f.name for f in dataclasses.fields(ByTask)) == TASKS


@pytest.mark.parametrize("task", TASKS)
def test_a_table_returns_the_tasks_own_entry(task):
    table = ByTask(binary="b", multiclass="mc", multilabel="ml")
    assert table[task] == {"binary": "b", "multiclass": "mc", "multilabel": "ml"}[task]
    assert check_task(task) == task


@pytest.mark.parametrize("task", ["regression", "Binary", "", None])
def test_an_unknown_task_names_the_valid_ones(task):
    table = ByTask(binary=1, multiclass=2, multilabel=3)
    with pytest.raises(LongtailError, match="valid tasks: binary, multiclass, multilabel"):
        table[task]
    with pytest.raises(LongtailError, match=f"unknown task {task!r}"):
        check_task(task)


def test_a_table_cannot_leave_a_task_out():
    with pytest.raises(TypeError):
        ByTask(binary=1, multiclass=2)  # type: ignore[call-arg]


def test_the_contract_finds_the_dispatch_tables():
    assert len(TABLES) >= 20, [name for name, _ in TABLES]


@pytest.mark.parametrize("name, table", TABLES, ids=[name for name, _ in TABLES])
def test_every_table_covers_every_task_with_a_function_named_for_it(name, table):
    """A function serving one task carries that task in its name (``single_label`` stands for
    binary and multiclass); one shared by several tasks names none it does not serve."""
    for task in TASKS:
        entry = table[task]
        assert entry is getattr(table, task)
        if not callable(entry):  # wording or other data per task
            assert entry is not None
            continue
        served = {t for t in TASKS if getattr(table, t) is entry}
        named = {t for t in TASKS if t in entry.__name__}
        if "single_label" in entry.__name__:
            named |= {"binary", "multiclass"}
        assert served <= named or (len(served) > 1 and not named), (
            f"{name}[{task!r}] is {entry.__name__}, which serves {sorted(served)}"
        )


@pytest.mark.parametrize("name, table", TABLES, ids=[name for name, _ in TABLES])
def test_every_table_refuses_an_unknown_task(name, table):
    with pytest.raises(LongtailError) as error:
        table["regression"]
    assert str(error.value) == UNKNOWN
