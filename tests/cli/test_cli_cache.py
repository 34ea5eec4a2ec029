"""``longtail cache info`` and ``longtail cache clear`` through ``main``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from longtail.cache.embeddings import EmbeddingCache, cache_info
from longtail.cli import main


def _fill(root: Path, n: int) -> None:
    cache = EmbeddingCache(root, encoder_key="a" * 64, chunking_key="b" * 64)
    for i in range(n):
        cache.put(f"doc {i}", torch.randn(3, 4))


def test_info_then_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fill(tmp_path, 3)
    assert main(["cache", "info", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "entries: 3" in out and f"{'a' * 16}-{'b' * 16}: 3 entries" in out

    assert main(["cache", "clear", "--dir", str(tmp_path), "--older-than-days", "1"]) == 0
    assert "removed 0 entries" in capsys.readouterr().out
    assert main(["cache", "clear", "--dir", str(tmp_path)]) == 0
    assert "removed 3 entries" in capsys.readouterr().out
    assert cache_info(tmp_path)["entries"] == 0


def test_default_dir_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LONGTAIL_CACHE_DIR", str(tmp_path / "env-cache"))
    _fill(tmp_path / "env-cache", 2)
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "env-cache") in out and "entries: 2" in out


def test_missing_dir_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache", "info", "--dir", str(tmp_path / "nowhere")]) == 0
    assert "entries: 0" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:  # refused while parsing the flags
        main(["cache", "clear", "--dir", str(tmp_path), "--older-than-days", "-1"])
    assert refused.value.code == 2
    assert "argument --older-than-days: must be a number >= 0" in capsys.readouterr().err
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    assert main(["cache", "info", "--dir", str(tmp_path / "a-file")]) == 2
    assert "is a file, not a cache directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["cache", "purge"])
