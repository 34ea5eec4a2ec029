"""Cut long documents into overlapping encoder-sized chunks: pure functions, no torch.

A screenplay of 37k tokens does not fit a 512-position encoder. We tokenise each document once,
without special tokens and without truncation, and slide a window over the ids (Pappagari et al.
2019, "Hierarchical Transformers for Long Document Classification", arXiv 1910.10781; the
chunk-then-pool recipe of belt-nlp, Park et al. 2022, arXiv 2204.06683).

Stride semantics (the Hugging Face ``return_overflowing_tokens`` meaning): ``stride`` is the
number of tokens that **consecutive chunks share**, not the step between chunk starts. With
``content = chunk_length - number_of_special_tokens`` the window advances by
``step = content - stride`` tokens. belt-nlp calls the step itself "stride"; a belt-nlp
``stride=s`` is our ``stride=content - s``. ``stride=0`` gives disjoint chunks.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

from longtail.errors import LongtailError

TOKENIZE_BATCH = 64
DEFAULT_MAX_CHARS = 2_000_000


def _content_length(chunk_length: int, specials: int, stride: int) -> int:
    content = chunk_length - specials
    if content < 1:
        raise LongtailError(
            f"chunk_length {chunk_length} leaves no room for tokens next to {specials} special "
            f"token(s); use a chunk_length above {specials}"
        )
    if not 0 <= stride < content:
        raise LongtailError(
            f"stride {stride} must be >= 0 and smaller than the {content} content tokens of a "
            f"chunk (chunk_length {chunk_length} minus {specials} special tokens)"
        )
    return content


def num_chunks(n_tokens: int, chunk_length: int, stride: int, specials: int = 2) -> int:
    """How many chunks :func:`chunk_token_ids` makes from ``n_tokens`` ids (before ``max_chunks``).

    ``0`` for an empty document, ``1`` when it fits, else ``1 + ceil((n - content) / step)``.
    """
    content = _content_length(chunk_length, specials, stride)
    if n_tokens <= 0:
        return 0
    if n_tokens <= content:
        return 1
    return 1 + math.ceil((n_tokens - content) / (content - stride))


def chunk_token_ids(
    ids: Sequence[int],
    *,
    chunk_length: int,
    stride: int,
    cls_id: int | None,
    sep_id: int | None,
    max_chunks: int | None = None,
) -> list[list[int]]:
    """Slide a window over token ids and wrap each window in the encoder's special tokens.

    Args:
        ids: the document's token ids **without** special tokens.
        chunk_length: most tokens per chunk, special tokens included (e.g. 512 for BERT).
        stride: tokens shared by consecutive chunks (see the module docstring).
        cls_id: id put first in every chunk (``[CLS]``/``<s>``), or ``None`` for none.
        sep_id: id put last in every chunk (``[SEP]``/``</s>``), or ``None`` for none.
        max_chunks: keep only the first ``max_chunks`` chunks (head truncation, like
            ``max_length`` for short texts); ``None`` keeps all.

    Returns:
        One list of ids per chunk; the last chunk is not padded. An empty ``ids`` gives ``[]``:
        the caller decides how to report a document that tokenises to zero tokens.

    Example:
        >>> chunk_token_ids([1, 2, 3, 4, 5], chunk_length=5, stride=1, cls_id=0, sep_id=9)
        [[0, 1, 2, 3, 9], [0, 3, 4, 5, 9]]
    """
    specials = (cls_id is not None) + (sep_id is not None)
    content = _content_length(chunk_length, specials, stride)
    if max_chunks is not None and max_chunks < 1:
        raise LongtailError(f"max_chunks must be at least 1 (got {max_chunks})")
    head = [cls_id] if cls_id is not None else []
    tail = [sep_id] if sep_id is not None else []
    step = content - stride
    chunks: list[list[int]] = []
    start = 0
    while start < len(ids):
        chunks.append(head + list(ids[start : start + content]) + tail)
        if start + content >= len(ids) or (max_chunks is not None and len(chunks) >= max_chunks):
            break
        start += step
    return chunks


def _special_ids(tokenizer: Any) -> tuple[int | None, int | None]:
    """``[CLS]``/``[SEP]`` for BERT-likes, ``<s>``/``</s>`` for RoBERTa-likes, else none."""
    cls_id = getattr(tokenizer, "cls_token_id", None)
    sep_id = getattr(tokenizer, "sep_token_id", None)
    if cls_id is None:
        cls_id = getattr(tokenizer, "bos_token_id", None)
    if sep_id is None:
        sep_id = getattr(tokenizer, "eos_token_id", None)
    return cls_id, sep_id


def _enforce_char_cap(
    texts: Sequence[str], max_chars: int, on_too_long: Literal["error", "truncate"]
) -> list[str]:
    if on_too_long not in ("error", "truncate"):
        raise LongtailError(f"on_too_long must be 'error' or 'truncate' (got {on_too_long!r})")
    out = list(texts)
    too_long = [i for i, text in enumerate(out) if len(text) > max_chars]
    if not too_long:
        return out
    if on_too_long == "error":
        first = too_long[0]
        raise LongtailError(
            f"row {first} has {len(out[first]):,} characters, above the cap of {max_chars:,} "
            f"({len(too_long)} row(s) in all); raise max_chars or pass on_too_long='truncate'"
        )
    for i in too_long:
        out[i] = out[i][:max_chars]
    warnings.warn(
        f"{len(too_long)} document(s) longer than {max_chars:,} characters were cut to that length",
        stacklevel=3,
    )
    return out


def tokenize_documents(
    tokenizer: Any,
    texts: Sequence[str],
    *,
    chunk_length: int,
    stride: int,
    max_chunks: int | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
    on_too_long: Literal["error", "truncate"] = "error",
) -> list[list[list[int]]]:
    """Tokenise whole documents once and chunk them: ``result[doc][chunk] -> ids``.

    Tokenises without special tokens and without truncation (in batches of texts, with the
    tokenizer's "sequence longer than the maximum length" warning silenced: chunking is how we
    handle that), then calls :func:`chunk_token_ids` with the tokenizer's own special tokens.

    Args:
        tokenizer: a Hugging Face tokenizer.
        texts: the documents.
        chunk_length, stride, max_chunks: see :func:`chunk_token_ids`.
        max_chars: a guard against a stray multi-megabyte row eating all memory.
        on_too_long: ``"error"`` raises naming the row; ``"truncate"`` cuts the text to
            ``max_chars`` and warns once with the count.

    Raises:
        LongtailError: a text above ``max_chars`` (with ``"error"``), or a text that tokenises to
            zero tokens (drop empty texts first).
    """
    texts = _enforce_char_cap(texts, max_chars, on_too_long)
    cls_id, sep_id = _special_ids(tokenizer)
    documents: list[list[list[int]]] = []
    for start in range(0, len(texts), TOKENIZE_BATCH):
        batch = texts[start : start + TOKENIZE_BATCH]
        encoded = tokenizer(batch, add_special_tokens=False, truncation=False, verbose=False)
        for offset, ids in enumerate(encoded["input_ids"]):
            if not ids:
                raise LongtailError(
                    f"row {start + offset} tokenises to zero tokens; drop empty texts first"
                )
            documents.append(
                chunk_token_ids(
                    ids,
                    chunk_length=chunk_length,
                    stride=stride,
                    cls_id=cls_id,
                    sep_id=sep_id,
                    max_chunks=max_chunks,
                )
            )
    return documents


#: Chunks per document when neither the config nor the encoder says otherwise.
DEFAULT_CHUNK_LENGTH = 512
#: Tokens consecutive chunks share by default (at most a quarter of a chunk).
DEFAULT_STRIDE = 64


@dataclass(frozen=True)
class ChunkSettings:
    """How long documents are cut into chunks: resolved once, from the ``long_documents``
    settings and the encoder's window, and used by everything that cuts a document — training's
    tokenisation, the frozen path's embedding-cache key, ``predict`` and ``evaluate`` (which read
    it back from ``longtail.json["long_documents"]``, :meth:`from_json`).

    ``max_chars`` / ``on_too_long``: the character cap a document is cut (or refused) at before
    it is chunked. ``max_chunks_encoded``: on the frozen path, at most this many chunks of a
    document are encoded, spread evenly (``None``: every chunk).
    """

    chunk_length: int
    stride: int
    max_chars: int = DEFAULT_MAX_CHARS
    on_too_long: str = "error"
    max_chunks_encoded: int | None = None

    def __post_init__(self) -> None:
        for name in ("chunk_length", "stride"):
            if type(getattr(self, name)) is not int:
                raise LongtailError(f"{name} must be a whole number, got {getattr(self, name)!r}")
        _content_length(self.chunk_length, 2, self.stride)
        if self.on_too_long not in ("error", "truncate"):
            raise LongtailError(
                f"on_too_long must be 'error' or 'truncate' (got {self.on_too_long!r})"
            )
        for name in ("max_chars", "max_chunks_encoded"):
            value = getattr(self, name)
            if value is not None and (type(value) is not int or value < 1):
                raise LongtailError(f"{name} must be a whole number of at least 1, got {value!r}")

    @classmethod
    def resolve(
        cls,
        *,
        window: int,
        chunk_length: int | None = None,
        stride: int | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
        on_too_long: str = "error",
        max_chunks_encoded: int | None = None,
    ) -> ChunkSettings:
        """The settings with the defaults filled in: chunks of ``min(512, window)`` tokens, a
        stride of ``min(64, a quarter of the chunk's content)``."""
        length = chunk_length or min(DEFAULT_CHUNK_LENGTH, window)
        if stride is None:
            stride = min(DEFAULT_STRIDE, max(0, length - 2) // 4)
        return cls(length, stride, max_chars, on_too_long, max_chunks_encoded)

    def to_json(self) -> dict[str, Any]:
        """The keys ``longtail.json["long_documents"]`` holds (no budget key without a budget)."""
        out = {field.name: getattr(self, field.name) for field in fields(self)}
        if out["max_chunks_encoded"] is None:
            del out["max_chunks_encoded"]
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str = "longtail.json") -> ChunkSettings:
        """Read back what :meth:`to_json` wrote (other keys are ignored); a missing or invalid
        value is a one-line error naming ``source`` and the field."""
        missing = [
            k for k in ("chunk_length", "stride", "max_chars", "on_too_long") if k not in data
        ]
        if missing:
            raise LongtailError(
                f"{source}: long_documents lacks {', '.join(missing)}; restore the file as "
                "training wrote it, or train the model again"
            )
        try:
            return cls(
                chunk_length=data["chunk_length"], stride=data["stride"],
                max_chars=data["max_chars"], on_too_long=data["on_too_long"],
                max_chunks_encoded=data.get("max_chunks_encoded"),
            )  # fmt: skip
        except (LongtailError, TypeError) as error:
            raise LongtailError(
                f"{source}: long_documents: {error}; restore the file as training wrote it"
            ) from None

    def chunks(self, tokenizer: Any, texts: Sequence[str]) -> list[list[list[int]]]:
        """Every chunk of each text (before any budget): ``result[doc][chunk] -> ids``."""
        return tokenize_documents(
            tokenizer, texts, chunk_length=self.chunk_length, stride=self.stride,
            max_chars=self.max_chars, on_too_long=self.on_too_long,  # type: ignore[arg-type]
        )  # fmt: skip
