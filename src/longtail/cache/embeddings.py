"""On-disk cache of chunk embeddings per document, for training heads on a frozen encoder.

Embedding 1,500 screenplays of ~75 chunks each takes a GPU-hour; training an aggregator on the
cached embeddings takes seconds. One safetensors file per document (never pickle)::

    <root>/<encoder_key[:16]>-<chunking_key[:16]>/<h[:2]>/<h>.safetensors

with ``h = sha256(encoder_key, chunking_key, text)``. Writes are atomic (temp file + ``os.replace``),
so concurrent runs and kills never leave half a file. A file that does not load, or holds the
wrong thing, is deleted with a warning and reported as a miss (the caller rebuilds it). A cache
directory that cannot be written warns once and the run goes on without caching.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from longtail.io_utils import atomic_write_bytes
from longtail.locks import hold_lock
from longtail.text.chunking import ChunkSettings

_TENSOR = "embeddings"
LOCK_FILE = ".lock"  # shared while runs write, exclusive while `longtail cache clear` deletes
_SAFE_KEY = re.compile(r"[0-9A-Za-z_.]+")
_ENTRY = re.compile(r"[0-9a-f]{64}\.safetensors")
_TEMP = re.compile(r"\.[0-9a-f]{64}\.safetensors\..*\.tmp")


def default_cache_dir() -> Path:
    """``$LONGTAIL_CACHE_DIR``, else ``~/.cache/longtail/embeddings``."""
    env = os.environ.get("LONGTAIL_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "longtail" / "embeddings"


def _sha256(*parts: str) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()


def chunking_fingerprint(**params: Any) -> str:
    """A key for everything that shapes a chunk embedding besides the encoder weights.

    Pass the tokenizer name, ``chunk_length``, ``stride``, ``max_chunks``, ``pooling``,
    ``max_chars`` / ``on_too_long`` and the dtype stored.
    """
    return _sha256(json.dumps(params, sort_keys=True, default=str))


#: How :func:`~longtail.models.hierarchical.spread_chunk_indices` picks a document's chunks under a
#: budget; part of the key, so a change of rule never reuses entries made under the old one.
CHUNK_SELECTION = "evenly_spread"


def document_chunking_key(settings: ChunkSettings, *, pooling: str) -> str:
    """The chunking key of frozen long documents cut by ``settings``, pooled by ``pooling``.

    An entry holds the embeddings of the chunks that were encoded, so a chunk budget
    (``long_documents.max_chunks``) and the rule that chose them are part of the key: an entry
    made under another budget is never read. Without a budget the key is the one made before
    budgets existed, so caches filled then stay valid.
    """
    params: dict[str, Any] = {
        "settings": (settings.chunk_length, settings.stride), "pooling": pooling,
        "max_chars": settings.max_chars, "on_too_long": settings.on_too_long,
    }  # fmt: skip
    if settings.max_chunks_encoded is not None:
        params.update(max_chunks=settings.max_chunks_encoded, chunk_selection=CHUNK_SELECTION)
    return chunking_fingerprint(**params)


def encoder_fingerprint(model_name_or_path: str, encoder: nn.Module, samples: int = 4096) -> str:
    """A key that changes when the encoder's architecture or any of its weights change.

    Hashes the name, the class, the config and an evenly strided sample of up to ``samples``
    values from **every** parameter tensor: fine-tuning moves (nearly) every value of every
    trained tensor, so a fine-tuned encoder never reuses a base-encoder cache, and hashing a
    sample keeps this fast for large models.
    """
    digest = hashlib.sha256()
    digest.update(f"{model_name_or_path}\0{type(encoder).__name__}\0".encode())
    config = getattr(encoder, "config", None)
    if config is not None and hasattr(config, "to_json_string"):
        digest.update(config.to_json_string(use_diff=False).encode())
    with torch.no_grad():
        for name, tensor in sorted(encoder.state_dict().items()):
            flat = tensor.detach().reshape(-1)
            step = max(1, flat.numel() // samples)
            sample = flat[::step][:samples].to("cpu", torch.float32).contiguous()
            digest.update(f"{name}{tuple(tensor.shape)}".encode())
            digest.update(sample.numpy().tobytes())
    return digest.hexdigest()


def encoder_fingerprint_as(name: str, encoder: nn.Module) -> str:
    """:func:`encoder_fingerprint` of ``encoder`` as if it had been loaded from ``name``: its
    config's ``_name_or_path`` (which the fingerprint reads) is ``name`` meanwhile, then put
    back. Training loads an encoder by its hub name, a saved model holds a copy in its own
    folder: the same weights, keyed alike (``name=""`` keys the weights alone)."""
    config = getattr(encoder, "config", None)
    saved = getattr(config, "_name_or_path", None)
    if config is not None:
        config._name_or_path = name
    try:
        return encoder_fingerprint(name, encoder)
    finally:
        if config is not None:
            config._name_or_path = saved


def unwritable_reason(root: str | os.PathLike[str]) -> str | None:
    """``None`` if a file can be created under ``root`` (made if missing), else why not."""
    try:
        Path(root).mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".probe-", suffix=".tmp"):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _dir_part(key: str) -> str:
    """First 16 characters of a path-safe key; a hash of the key otherwise."""
    return key[:16] if _SAFE_KEY.fullmatch(key[:16] or "-") else _sha256(key)[:16]


class EmbeddingCache:
    """Chunk embeddings ``(N_chunks, H)`` per document text, on disk.

    Args:
        root: the cache root (see :func:`default_cache_dir`).
        encoder_key: from :func:`encoder_fingerprint`.
        chunking_key: from :func:`chunking_fingerprint`.
        hidden_size: if given, a stored tensor with another width is treated as corrupt.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        encoder_key: str,
        chunking_key: str,
        hidden_size: int | None = None,
    ) -> None:
        self.root = Path(root).expanduser()
        self.encoder_key = encoder_key
        self.chunking_key = chunking_key
        self.hidden_size = hidden_size
        self.directory = self.root / f"{_dir_part(encoder_key)}-{_dir_part(chunking_key)}"
        self.writable = True
        self._warned_corrupt = False

    def key(self, text: str) -> str:
        return _sha256(self.encoder_key, self.chunking_key, text)

    def path(self, text: str) -> Path:
        h = self.key(text)
        return self.directory / h[:2] / f"{h}.safetensors"

    def _load(self, path: Path, key: str) -> torch.Tensor:
        """The entry's tensor, read into memory: never a view of a memory-mapped file. A mapped
        tensor keeps its map while it lives, and a run holds every text's entry until it stacks
        them, so a million cached texts would ask for a million maps; past the kernel's limit
        (``vm.max_map_count``, 65,530 by default) every further read fails. Reading the few
        kilobytes is also faster than mapping them (4,000 MiniLM entries: 0.13 s against 0.26 s)."""
        from safetensors.torch import load

        data = path.read_bytes()
        stored_key = _stored_metadata(data).get("key")
        tensor = load(data)[_TENSOR]
        bad_width = self.hidden_size is not None and tensor.shape[-1] != self.hidden_size
        if stored_key != key or tensor.ndim != 2 or tensor.shape[0] < 1 or bad_width:
            raise ValueError(f"unexpected content (shape {tuple(tensor.shape)})")
        return tensor

    def get(self, text: str) -> torch.Tensor | None:
        """The cached embeddings of ``text``, or ``None`` (missing, unreadable or corrupt)."""
        path = self.path(text)
        try:
            if not path.is_file():
                return None
            return self._load(path, path.stem)
        except (OSError, MemoryError):  # unreadable (permissions, too many open files), deleted
            return None  # meanwhile, or no memory: a miss, never a reason to delete the entry
        except Exception as exc:  # safetensors' own errors for truncated or garbled files
            if not self._warned_corrupt:
                warnings.warn(
                    f"embedding cache: {path} is corrupt ({' '.join(str(exc).split())[:120]}); "
                    "deleting it and re-embedding (further corrupt files are handled silently)",
                    stacklevel=2,
                )
                self._warned_corrupt = True
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            return None

    def put(self, text: str, embeddings: torch.Tensor) -> None:
        """Store ``embeddings`` ``(N_chunks, H)`` for ``text``; never raises on disk problems."""
        if not self.writable:
            return
        from safetensors.torch import save

        if embeddings.ndim != 2:
            raise ValueError(f"expected (N_chunks, H) embeddings, got {tuple(embeddings.shape)}")
        path = self.path(text)
        data = save(
            {_TENSOR: embeddings.detach().to("cpu").contiguous()}, metadata={"key": path.stem}
        )
        try:
            # one file per text: no folder listing per write; `cache clear` removes temporaries
            atomic_write_bytes(path, data, clean_stale=False)
        except OSError as exc:
            self.writable = False
            warnings.warn(
                f"embedding cache at {self.root} is not writable ({exc.strerror or exc}); "
                "continuing without caching",
                stacklevel=2,
            )

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the cache's shared lock while filling it, so ``cache clear`` cannot run beside.

        Runs fill a cache together (entries are written atomically); only a clear is kept out.
        A cache root that cannot be created is no reason to stop: :meth:`put` warns about it.
        """
        with contextlib.ExitStack() as stack:
            with contextlib.suppress(OSError):
                stack.enter_context(
                    hold_lock(
                        self.root / LOCK_FILE,
                        shared=True,
                        busy=f"embedding cache {self.root} is being cleared (pid {{pid}}); wait "
                        "for `longtail cache clear` to finish",
                    )
                )
            yield

    def get_many(self, texts: Sequence[str]) -> list[torch.Tensor | None]:
        return [self.get(text) for text in texts]

    def put_many(self, texts: Sequence[str], embeddings: Sequence[torch.Tensor]) -> None:
        if len(texts) != len(embeddings):
            raise ValueError(f"{len(texts)} texts but {len(embeddings)} embedding tensors")
        for text, tensor in zip(texts, embeddings, strict=True):
            self.put(text, tensor)


def _stored_metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file's bytes: an 8-byte little-endian header
    length, then the JSON header (the format's specification)."""
    size = int.from_bytes(data[:8], "little")
    if len(data) < 8 or size > len(data) - 8:
        raise ValueError("truncated header")
    header = json.loads(data[8 : 8 + size])
    return header.get("__metadata__") or {}


def _cache_files(root: Path) -> list[tuple[str, Path]]:
    """``(key directory name, file)`` for every entry and leftover temp file under ``root``."""
    if not root.is_dir():
        return []
    found = []
    for key_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for shard in sorted(p for p in key_dir.iterdir() if p.is_dir() and len(p.name) == 2):
            for path in sorted(shard.iterdir()):
                if path.is_file() and (_ENTRY.fullmatch(path.name) or _TEMP.fullmatch(path.name)):
                    found.append((key_dir.name, path))
    return found


def cache_info(root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Entries and bytes in a cache, in all and per ``<encoder>-<chunking>`` key directory."""
    root = Path(root).expanduser() if root is not None else default_cache_dir()
    keys: dict[str, dict[str, int]] = {}
    for key, path in _cache_files(root):
        if not _ENTRY.fullmatch(path.name):
            continue
        entry = keys.setdefault(key, {"entries": 0, "bytes": 0})
        entry["entries"] += 1
        entry["bytes"] += path.stat().st_size
    return {
        "root": str(root),
        "entries": sum(k["entries"] for k in keys.values()),
        "bytes": sum(k["bytes"] for k in keys.values()),
        "keys": keys,
    }


def clear_cache(
    root: str | os.PathLike[str] | None = None, older_than_days: float | None = None
) -> dict[str, int]:
    """Delete cache entries (all, or those not written for ``older_than_days``).

    Only files named like cache entries inside ``<key>/<xx>/`` directories are touched, so a
    mistyped ``root`` never deletes anything else; emptied directories are removed.

    Returns:
        ``{"removed": files, "bytes": bytes freed}``.
    """
    root = Path(root).expanduser() if root is not None else default_cache_dir()
    if not root.is_dir():
        return {"removed": 0, "bytes": 0}
    busy = (
        f"embedding cache {root} is being written by a longtail run (pid {{pid}}); clear it "
        "when the run has finished"
    )
    with hold_lock(root / LOCK_FILE, busy=busy):
        return _clear_unlocked(root, older_than_days)


def _clear_unlocked(root: Path, older_than_days: float | None) -> dict[str, int]:
    cutoff = None if older_than_days is None else time.time() - older_than_days * 86_400
    removed = freed = 0
    for _, path in _cache_files(root):
        stat = path.stat()
        if cutoff is not None and stat.st_mtime >= cutoff:
            continue
        path.unlink(missing_ok=True)
        removed += 1
        freed += stat.st_size
    for key_dir in (p for p in root.iterdir() if p.is_dir()) if root.is_dir() else ():
        for shard in (p for p in key_dir.iterdir() if p.is_dir()):
            if not any(shard.iterdir()):
                shard.rmdir()
        if not any(key_dir.iterdir()):
            key_dir.rmdir()
    return {"removed": removed, "bytes": freed}
