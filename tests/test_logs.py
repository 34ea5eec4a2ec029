"""The "longtail" logger: library calls log there (silent unless asked), the CLI and verbose
calls print the same lines on stdout."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "cli"))
from cli_helpers import make_rows, write_csv  # noqa: E402

import longtail  # noqa: E402
from longtail.logs import LOGGER, info, to_stdout  # noqa: E402


def test_to_stdout_prints_the_lines_and_restores_the_logger(capsys):
    before = (LOGGER.level, LOGGER.propagate, list(LOGGER.handlers))
    with to_stdout():
        info("chunk embeddings: 3 of 3 documents from the cache")
    assert capsys.readouterr().out == "chunk embeddings: 3 of 3 documents from the cache\n"
    assert (LOGGER.level, LOGGER.propagate, list(LOGGER.handlers)) == before
    info("not printed")
    assert capsys.readouterr().out == ""


def test_a_library_run_logs_to_the_logger_and_prints_only_when_verbose(
    tmp_path, tiny_model_dir, capsys, caplog
):
    data = write_csv(tmp_path / "train.csv", make_rows(60, 0.25, seed=2))
    common = {"model": str(tiny_model_dir), "epochs": 2,
              "overrides": ["model.max_length=32", "model.encoder=frozen",
                            f"long_documents.cache_dir={tmp_path / 'cache'}"]}  # fmt: skip
    with caplog.at_level(logging.INFO, logger="longtail"):
        longtail.train(data, output=tmp_path / "quiet", verbose=False, **common)
    assert capsys.readouterr().out == ""
    assert any(r.name == "longtail" and "text embeddings" in r.getMessage() for r in caplog.records)
    longtail.train(data, output=tmp_path / "loud", verbose=True, **common)
    assert "text embeddings (training split)" in capsys.readouterr().out
