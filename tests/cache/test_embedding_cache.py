"""The on-disk chunk-embedding cache: keys, atomic safetensors files, corruption, bad dirs."""

from __future__ import annotations

import errno
import multiprocessing
import os
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from longtail.cache.embeddings import (
    EmbeddingCache,
    cache_info,
    chunking_fingerprint,
    clear_cache,
    default_cache_dir,
    document_chunking_key,
    encoder_fingerprint,
)
from longtail.text.chunking import ChunkSettings

ENC = "e" * 64
CHUNKING = chunking_fingerprint(chunk_length=512, stride=64, max_chunks=None, pooling="mean")


def _cache(root: Path, **kwargs) -> EmbeddingCache:
    return EmbeddingCache(
        root,
        encoder_key=kwargs.get("encoder_key", ENC),
        chunking_key=kwargs.get("chunking_key", CHUNKING),
        hidden_size=8,
    )


def test_round_trip_layout_and_no_pickle(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    assert cache.get("a screenplay") is None
    value = torch.randn(3, 8)
    cache.put("a screenplay", value)
    torch.testing.assert_close(cache.get("a screenplay"), value)
    path = cache.path("a screenplay")
    h = cache.key("a screenplay")
    assert path == tmp_path / f"{ENC[:16]}-{CHUNKING[:16]}" / h[:2] / f"{h}.safetensors"
    assert path.read_bytes()[8:9] == b"{"  # a safetensors JSON header, not a pickle
    texts, values = ["x", "y"], [torch.ones(1, 8), torch.zeros(2, 8)]
    cache.put_many(texts, values)
    got = cache.get_many(["x", "y", "z"])
    torch.testing.assert_close(got[:2], values)
    assert got[2] is None


def test_key_changes_with_text_encoder_and_chunking(tmp_path: Path) -> None:
    base = _cache(tmp_path)
    other_chunking = chunking_fingerprint(
        chunk_length=512, stride=0, max_chunks=None, pooling="mean"
    )
    variants = [
        _cache(tmp_path, encoder_key="f" * 64),
        _cache(tmp_path, chunking_key=other_chunking),
    ]
    base.put("text", torch.ones(1, 8))
    assert base.key("text") != base.key("text ")
    for cache in variants:
        assert cache.key("text") != base.key("text")
        assert cache.get("text") is None
    # keys that are not path-safe still give a valid directory name
    odd = _cache(tmp_path, encoder_key="org/model name")
    odd.put("text", torch.ones(1, 8))
    assert odd.path("text").parent.parent.parent == tmp_path


def test_a_chunk_budget_is_part_of_the_document_key(tmp_path: Path) -> None:
    def key(budget):
        return document_chunking_key(ChunkSettings(512, 64, 100, "error", budget), pooling="mean")

    unbounded = key(None)
    # without a budget the key is the one written before budgets existed: old caches stay valid
    assert unbounded == chunking_fingerprint(
        settings=(512, 64), pooling="mean", max_chars=100, on_too_long="error"
    )
    assert len({key(n) for n in (None, 8, 16)}) == 3
    eight = _cache(tmp_path, chunking_key=key(8))
    eight.put("a screenplay", torch.ones(8, 8))
    for other in (unbounded, key(16)):
        assert _cache(tmp_path, chunking_key=other).get("a screenplay") is None
    assert eight.get("a screenplay").shape == (8, 8)


def test_encoder_fingerprint_sees_fine_tuning(tiny_model_dir: Path) -> None:
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(tiny_model_dir)
    before = encoder_fingerprint("tiny", encoder)
    assert before == encoder_fingerprint("tiny", encoder)
    assert before != encoder_fingerprint("other-name", encoder)
    with torch.no_grad():
        encoder.encoder.layer[1].output.dense.weight.add_(1e-3)
    assert encoder_fingerprint("tiny", encoder) != before
    assert encoder_fingerprint("tiny", nn.Linear(2, 2)) != encoder_fingerprint(
        "tiny", nn.Linear(2, 3)
    )


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),  # killed mid-write
        lambda p: p.write_bytes(b""),
        lambda p: p.write_bytes(b"\x00garbage" * 10),
    ],
    ids=["truncated", "empty", "garbage"],
)
def test_corrupt_file_is_deleted_with_one_warning(tmp_path: Path, damage) -> None:
    cache = _cache(tmp_path)
    for text in ("a", "b"):
        cache.put(text, torch.randn(4, 8))
        damage(cache.path(text))
    with pytest.warns(UserWarning, match="corrupt") as record:
        assert cache.get("a") is None
        assert cache.get("b") is None
    assert len(record) == 1
    assert not cache.path("a").exists() and not cache.path("b").exists()
    cache.put("a", torch.ones(2, 8))  # the caller rebuilds it
    torch.testing.assert_close(cache.get("a"), torch.ones(2, 8))


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="counts Linux memory maps")
def test_entries_read_hold_no_memory_map(tmp_path: Path) -> None:
    """A run holds every text's entry until it stacks them; mapped entries would each keep a map,
    and past vm.max_map_count (65,530) every read failed and valid entries were deleted."""
    cache = _cache(tmp_path)
    texts = [f"text {i}" for i in range(400)]
    cache.put_many(texts, [torch.randn(1, 8) for _ in texts])

    def maps() -> int:
        return len(Path("/proc/self/maps").read_text().splitlines())

    before = maps()
    held = cache.get_many(texts)
    assert all(value is not None for value in held)
    assert maps() - before < 50  # a mapped read adds one map per entry held: 400


@pytest.mark.parametrize(
    "failure",
    [OSError(errno.EMFILE, "Too many open files"), MemoryError()],
    ids=["emfile", "memory"],
)
def test_a_read_the_machine_refuses_is_a_miss_and_keeps_the_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    cache = _cache(tmp_path)
    cache.put("a", torch.randn(2, 8))

    def refuse(self: Path) -> bytes:
        raise failure

    with monkeypatch.context() as patched, warnings.catch_warnings():
        warnings.simplefilter("error")  # no "corrupt" warning either
        patched.setattr(Path, "read_bytes", refuse)
        assert cache.get("a") is None
    assert cache.path("a").exists()
    assert cache.get("a") is not None


def test_wrong_shape_or_misplaced_file_is_corrupt(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    cache.put("wide", torch.randn(2, 8))
    wrong_width = EmbeddingCache(tmp_path, encoder_key=ENC, chunking_key=CHUNKING, hidden_size=16)
    with pytest.warns(UserWarning, match="corrupt"):
        assert wrong_width.get("wide") is None
    cache.put("a", torch.randn(2, 8))
    cache.put("b", torch.randn(2, 8))
    os.replace(cache.path("a"), cache.path("b"))  # right format, wrong document
    with pytest.warns(UserWarning, match="corrupt"):
        assert cache.get("b") is None


def test_unwritable_root_warns_once_and_continues(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    cache = _cache(blocker)
    with pytest.warns(UserWarning, match="not writable") as record:
        cache.put("a", torch.ones(1, 8))
        cache.put("b", torch.ones(1, 8))
    assert len(record) == 1
    assert cache.get("a") is None
    assert cache_info(blocker)["entries"] == 0


def _hammer(root: str, seed: int) -> None:
    cache = EmbeddingCache(root, encoder_key=ENC, chunking_key=CHUNKING)
    for i in range(15):
        cache.put("shared", torch.full((64, 8), float(seed * 100 + i)))


def test_concurrent_puts_leave_a_readable_file(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_hammer, args=(str(tmp_path), s)) for s in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = _cache(tmp_path).get("shared")
    assert value is not None and value.shape == (64, 8)
    assert torch.unique(value).numel() == 1  # one writer's whole tensor, never a mix
    assert [p.name for p in _cache(tmp_path).path("shared").parent.iterdir()] == [
        _cache(tmp_path).path("shared").name
    ]  # no temp files left behind


def test_info_and_clear(tmp_path: Path) -> None:
    assert cache_info(tmp_path / "missing") == {
        "root": str(tmp_path / "missing"),
        "entries": 0,
        "bytes": 0,
        "keys": {},
    }
    first, second = _cache(tmp_path), _cache(tmp_path, encoder_key="f" * 64)
    for i in range(3):
        first.put(f"doc {i}", torch.randn(2, 8))
    second.put("doc", torch.randn(5, 8))
    keep = tmp_path / "notes.txt"
    keep.write_text("not ours")
    info = cache_info(tmp_path)
    assert info["entries"] == 4
    assert info["bytes"] == sum(p.stat().st_size for p in tmp_path.rglob("*.safetensors"))
    assert sorted(k["entries"] for k in info["keys"].values()) == [1, 3]

    old = first.path("doc 0")
    os.utime(old, (old.stat().st_atime - 10 * 86_400,) * 2)
    assert clear_cache(tmp_path, older_than_days=5)["removed"] == 1
    assert cache_info(tmp_path)["entries"] == 3
    result = clear_cache(tmp_path)
    assert result["removed"] == 3 and result["bytes"] > 0
    assert cache_info(tmp_path)["entries"] == 0
    assert keep.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_default_dir_follows_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LONGTAIL_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("LONGTAIL_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "longtail" / "embeddings"


def test_clear_is_refused_while_a_run_writes(tmp_path: Path) -> None:
    from longtail.errors import LongtailError

    cache, other = _cache(tmp_path), _cache(tmp_path)
    cache.put("a text", torch.ones(2, 8))
    with cache.writing(), other.writing():  # runs fill a cache together
        other.put("another", torch.ones(1, 8))
        with pytest.raises(
            LongtailError, match=f"being written by a longtail run \\(pid {os.getpid()}\\)"
        ):
            clear_cache(tmp_path)
        assert cache.get("a text") is not None and other.get("another") is not None
    assert clear_cache(tmp_path)["removed"] == 2  # free again once the runs are done
