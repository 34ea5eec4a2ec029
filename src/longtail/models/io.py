"""The model directory: safetensors weights, tokenizer and ``longtail.json``; never pickle.

Layout::

    <dir>/encoder/          plain Hugging Face directory (config, model.safetensors, tokenizer)
    <dir>/head.safetensors  the classification head
    <dir>/lexical.*         the fused TF-IDF branch, where the model has one (arrays + JSON)
    <dir>/longtail.json     task, labels, thresholds, temperature, config, file hashes

``longtail.json`` is written last and records a SHA-256 of every weight file, so a directory whose
writing was interrupted, or whose files were swapped afterwards, fails to load with a clear error
instead of loading something wrong. The encoder part stays loadable by plain ``transformers``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from safetensors.torch import save as save_tensors

from longtail import __version__
from longtail.errors import LongtailError
from longtail.io_utils import (
    atomic_write_bytes,
    atomic_write_json,
    file_sha256,
    make_staging_directory,
    replace_directory,
)
from longtail.models.classifier import TextClassifier
from longtail.models.encoder import load_encoder, load_tokenizer, quiet_transformers
from longtail.models.hierarchical import HierarchicalClassifier
from longtail.models.lexical import LEXICAL_META, LEXICAL_WEIGHTS, LexicalModel, fused_weight
from longtail.models.meta import format_version_for, validate_meta

META_FILE = "longtail.json"
HEAD_FILE = "head.safetensors"
ENCODER_DIR = "encoder"


#: Files of a tokenizer's vocabulary; a tokenizer directory has at least one. Without any,
#: ``AutoTokenizer`` builds an empty tokenizer that maps every word to [UNK], silently.
VOCABULARY_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model",
                    "sentencepiece.bpe.model", "tokenizer.model")  # fmt: skip


def _weight_files(directory: Path) -> list[Path]:
    """The files ``longtail.json`` hashes: the head and everything in ``encoder/`` (weights, config
    and tokenizer). Directories written before the tokenizer was hashed list only weights."""
    encoder = [p for p in (directory / ENCODER_DIR).rglob("*") if p.is_file()]
    lexical = [directory / n for n in (LEXICAL_WEIGHTS, LEXICAL_META) if (directory / n).is_file()]
    return sorted([directory / HEAD_FILE, *encoder, *lexical])


def save_model_dir(
    directory: str | Path,
    model: TextClassifier,
    tokenizer: Any,
    meta: dict[str, Any],
    lexical: LexicalModel | None = None,
) -> Path:
    """Write a complete, loadable model directory; ``meta`` must hold task, labels, etc.;
    ``lexical``: the fused TF-IDF branch (:mod:`longtail.models.lexical`), if the model has one."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / META_FILE).unlink(missing_ok=True)  # incomplete until the new one is written
    for name in (LEXICAL_WEIGHTS, LEXICAL_META):  # a branch of the model this one replaces
        (directory / name).unlink(missing_ok=True)
    if lexical is not None:
        lexical.save(directory)
    staging = make_staging_directory(directory / ENCODER_DIR)  # umask modes, stale ones removed
    with quiet_transformers():
        model.encoder.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
    replace_directory(staging, directory / ENCODER_DIR)
    head = {
        name: tensor.detach().cpu().contiguous()
        for name, tensor in model.state_dict().items()
        if not name.startswith("encoder.")
    }
    atomic_write_bytes(directory / HEAD_FILE, save_tensors(head))
    architecture = _architecture(model, meta)
    record = {
        "format_version": format_version_for(meta, architecture),
        "longtail_version": __version__,
        **meta,
        "architecture": architecture,
        "files": {str(p.relative_to(directory)): file_sha256(p) for p in _weight_files(directory)},
    }
    atomic_write_json(directory / META_FILE, record)
    return directory


def _architecture(model: torch.nn.Module, meta: dict[str, Any]) -> dict[str, Any]:
    arch = {
        "kind": "hierarchical" if isinstance(model, HierarchicalClassifier) else "text",
        "num_logits": model.head.out_features,
        "pooling": model.pooling,
        "dropout": model.dropout.p,
    }
    if getattr(model, "hidden", None) is not None:  # an MLP head: its hidden width
        arch["head_hidden"] = model.head.in_features
    if isinstance(model, HierarchicalClassifier):
        documents = meta.get("long_documents", {})
        arch.update(
            aggregator=documents.get("aggregator", "attention"),
            num_extra_features=model.num_extra_features,
            chunk_batch_size=model.chunk_batch_size,
        )
    return arch


def _build(encoder: torch.nn.Module, arch: dict[str, Any]) -> torch.nn.Module:
    if arch.get("kind", "text") == "text":
        return TextClassifier(
            encoder, arch["num_logits"], pooling=arch["pooling"], dropout=arch["dropout"],
            head_hidden=arch.get("head_hidden"),
        )  # fmt: skip
    from longtail.models.aggregators import AGGREGATORS

    aggregator = AGGREGATORS.build(arch["aggregator"], hidden_size=encoder.config.hidden_size)
    return HierarchicalClassifier(
        encoder,
        arch["num_logits"],
        aggregator,
        pooling=arch["pooling"],
        dropout=arch["dropout"],
        num_extra_features=arch["num_extra_features"],
        chunk_batch_size=arch["chunk_batch_size"],
    )


def read_meta(directory: str | Path) -> dict[str, Any]:
    """``longtail.json`` of a model directory, validated (:mod:`longtail.models.meta`)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise LongtailError(
            f"model directory {directory} does not exist; train one with `longtail train`"
        )
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        raise LongtailError(
            f"{directory} is not a complete longtail model directory ({META_FILE} is missing); "
            "finish the run with `longtail train ... --resume` or retrain"
        )
    try:
        raw = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LongtailError(
            f"{meta_path} is corrupted ({exc}); retrain the model or copy the directory again"
        ) from None
    except RecursionError:
        raise LongtailError(
            f"{meta_path} is nested too deeply to be a longtail.json; retrain the model"
        ) from None
    except OSError as exc:
        raise LongtailError(
            f"cannot read {meta_path} ({exc.strerror}); check its permissions"
        ) from None
    return validate_meta(raw, str(meta_path))


def verify_files(directory: Path, meta: dict[str, Any]) -> None:
    for relative, expected in meta["files"].items():
        path = directory / relative
        if not path.is_file():
            raise LongtailError(
                f"model directory {directory} is missing {relative}; retrain or copy it again"
            )
        if file_sha256(path) != expected:
            raise LongtailError(
                f"{path} does not match the hash in {META_FILE} (modified or half-written); retrain or copy it again"
            )


def load_lexical(directory: str | Path, meta: dict[str, Any]) -> LexicalModel | None:
    """The fused TF-IDF branch of a model directory, ``None`` where the model has none."""
    if not fused_weight(meta):
        return None
    return LexicalModel.load(directory)


def load_model_dir(
    directory: str | Path, *, verify: bool = True
) -> tuple[TextClassifier, Any, dict[str, Any]]:
    """Load ``(model, tokenizer, meta)`` from a model directory written by :func:`save_model_dir`."""
    directory = Path(directory)
    meta = read_meta(directory)
    if verify:
        verify_files(directory, meta)
    arch = meta["architecture"]
    encoder_dir = str(directory / ENCODER_DIR)
    if not any((directory / ENCODER_DIR / name).is_file() for name in VOCABULARY_FILES):
        raise LongtailError(
            f"{directory / ENCODER_DIR} has no tokenizer vocabulary ({', '.join(VOCABULARY_FILES[:3])}, "
            "...); copy the model directory again or retrain"
        )
    trust = meta["trust_remote_code"]
    encoder = load_encoder(encoder_dir, trust_remote_code=trust)
    model = _build(encoder, arch)
    head = load_file(str(directory / HEAD_FILE))
    try:
        missing, unexpected = model.load_state_dict(
            {k: v.to(torch.float32) for k, v in head.items()}, strict=False
        )
    except RuntimeError:  # a tensor of another shape: the labels or sizes were edited
        missing, unexpected = [], ["(size mismatch)"]
    if unexpected or any(not name.startswith("encoder.") for name in missing):
        raise LongtailError(
            f"{directory / HEAD_FILE} does not fit the architecture in {META_FILE}; retrain or copy it again"
        )
    model.eval()
    return model, load_tokenizer(encoder_dir, trust_remote_code=trust), meta
