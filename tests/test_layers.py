"""The package's layer order, read from the imports: no module imports from a layer above its own.

A layer may import from any layer below it and from its own package. So inference (``models``,
``predictor``) never reaches into ``training``, and ``data`` never into ``models``. The test
parses every module's imports (``import`` and ``from`` statements anywhere in the file,
function-level ones included), so a lazy import cannot hide an upward dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import longtail

PACKAGE = Path(longtail.__file__).parent

#: Low to high. Every top-level module or sub-package of ``longtail`` is in exactly one layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "errors",
        "registry",
        "paths",
        "io_utils",
        "locks",
        "safe_text",
        "tasks",
        "defaults",
        "quiet",
        "logs",
    ),
    ("config", "text"),
    ("data", "losses", "sampling", "fingerprint"),
    ("decision", "datasets", "models", "augment", "checks"),
    ("cache", "evaluation"),
    ("predictor", "decide"),
    ("training",),
    ("experiments",),
    ("api", "estimator", "options", "pipelines", "cli", "__main__", "__init__"),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
#: ``from longtail import __version__`` reads a constant, not a layer.
CONSTANTS = {"__version__"}


def _unit(path: Path) -> str:
    """The top-level unit a file belongs to: ``training`` for training/loop.py."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imported_units(path: Path) -> set[str]:
    units = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] != "longtail":
                continue
            if len(parts) > 1:
                units.add(parts[1])
            else:  # from longtail import x
                units.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "longtail" and len(parts) > 1:
                    units.add(parts[1])
    return units - CONSTANTS


def test_every_module_has_a_layer():
    units = {_unit(path) for path in PACKAGE.rglob("*.py")}
    assert units - set(RANK) == set(), "add the new module or package to a layer in LAYERS"


def test_no_module_imports_from_a_higher_layer():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        unit = _unit(path)
        for imported in _imported_units(path):
            if imported != unit and RANK.get(imported, -1) > RANK[unit]:
                upward.append(f"{path.relative_to(PACKAGE)} ({unit}) imports {imported}")
    assert upward == []


def test_the_check_sees_an_upward_import(tmp_path):
    module = tmp_path / "probe.py"
    module.write_text("def f():\n    from longtail.training.run import run_training\n")
    assert _imported_units(module) == {"training"}
