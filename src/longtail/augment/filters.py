"""Quality filters for generated texts, with a count of what each one dropped.

Generated rows are dropped when they are empty, too short (fewer than ``min_words`` words), an
exact duplicate of any training row or of a generated row kept earlier (compared after collapsing
whitespace and case-folding), or, for LLM output, just an echo of the prompt's instructions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

DROP_REASONS = ("empty", "too_short", "duplicate", "prompt_echo")


def normalize_text(text: str) -> str:
    """Collapse whitespace and case-fold: the key for duplicate detection."""
    return " ".join(text.split()).casefold()


@dataclass
class GeneratedFilter:
    """Stateful filter: remembers every training row and every generated row it has kept.

    Args:
        training_texts: All training rows (every class): a generated copy of any is dropped.
        min_words: Rows with fewer whitespace-separated words are dropped as too short.
        echo_texts: Fixed prompt parts (instructions, system message); a generated line that is
            contained in one of them, or contains one, is dropped as a prompt echo.
    """

    training_texts: Iterable[str]
    min_words: int = 3
    echo_texts: Sequence[str] = ()
    seen: set[str] = field(init=False)
    _echoes: list[str] = field(init=False)

    def __post_init__(self) -> None:
        if self.min_words < 0:
            raise ValueError(f"min_words must be >= 0, got {self.min_words}")
        self.seen = {normalize_text(t) for t in self.training_texts}
        self._echoes = [e for e in (normalize_text(t) for t in self.echo_texts) if e]

    def reason(self, text: str) -> str | None:
        """Why ``text`` would be dropped (one of :data:`DROP_REASONS`), or ``None`` to keep it."""
        key = normalize_text(text)
        if not key:
            return "empty"
        if len(key.split()) < self.min_words:
            return "too_short"
        if key in self.seen:
            return "duplicate"
        if any(key in echo or (len(echo.split()) >= 3 and echo in key) for echo in self._echoes):
            return "prompt_echo"
        return None

    def keep(self, text: str, dropped: dict[str, int]) -> bool:
        """True if ``text`` passes (and remember it); else count the reason in ``dropped``."""
        why = self.reason(text)
        if why is not None:
            dropped[why] = dropped.get(why, 0) + 1
            return False
        self.seen.add(normalize_text(text))
        return True


def empty_drop_counts() -> dict[str, int]:
    """``{reason: 0}`` for every reason, so stats always show every filter."""
    return dict.fromkeys(DROP_REASONS, 0)
