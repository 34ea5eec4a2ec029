"""docs/reliability.md is exactly what ``make_table.py`` prints from the cases (a golden file)."""

from __future__ import annotations

import difflib
from pathlib import Path

from make_table import build_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"


def test_docs_reliability_md_equals_the_generated_table(tiny_model_dir: Path) -> None:
    table, failures = build_table(tiny_model_dir)
    assert not failures, "\n".join(failures)
    written = DOC.read_text(encoding="utf-8")
    diff = "".join(
        difflib.unified_diff(
            written.splitlines(keepends=True), table.splitlines(keepends=True),
            "docs/reliability.md", "generated", n=0,
        )
    )  # fmt: skip
    assert not diff, (
        "docs/reliability.md is out of date; regenerate it with "
        "`python tests/reliability/make_table.py > docs/reliability.md`:\n" + diff[:4000]
    )
