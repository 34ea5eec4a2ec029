"""A split as the model reads it: one row per text (token ids, chunks or vectors) and its labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class TokenizedSplit:
    """Rows and (for labelled splits) the label array (see ``longtail.tasks``).

    A row is what the batcher consumes: token ids (short texts), a list of token-id chunks (long
    documents) or a ``(chunks, H)`` embedding tensor (frozen encoder). ``extra`` holds optional
    numeric features per row, joined to the document embedding before the head.
    """

    ids: Sequence[Any]
    y: Any = None
    extra: np.ndarray | None = None

    @property
    def lengths(self) -> Sequence[int]:
        """Token counts; memory-mapped token stores (``ArrowTokens``) carry them precomputed."""
        known = getattr(self.ids, "lengths", None)
        return known if known is not None else [len(row) for row in self.ids]


def as_split(data: Any) -> TokenizedSplit:
    """``data`` itself if it is a :class:`TokenizedSplit`, else unlabelled rows wrapped in one."""
    return data if isinstance(data, TokenizedSplit) else TokenizedSplit(data)
