"""EDA: Easy Data Augmentation by four word-level edits.

Each new text comes from one of four operations on the source's words: synonym replacement (SR,
``n = max(1, alpha_sr · words)`` non-stop-words replaced by a random synonym), random insertion
(RI, a synonym of a random word inserted at a random position, ``n`` times), random swap (RS, two
words swapped, ``n`` times) and random deletion (RD, each word dropped with probability ``p_rd``).
As in the reference code, ``n_per_text`` is split evenly over the operations and the pool is
shuffled and trimmed. Unlike it, texts are not lower-cased or stripped of digits and punctuation
(phone numbers and URLs are signal in e.g. spam); words are split on whitespace and synonyms are
looked up by their lower-cased letters.

Synonyms come from a :class:`~longtail.augment.wordnet.SynonymSource` (WordNet by default). If the
WordNet files are missing, EDA warns once and runs with swap and deletion only.

Reference:
    Wei & Zou, 2019. "EDA: Easy Data Augmentation Techniques for Boosting Performance on Text
    Classification Tasks." EMNLP-IJCNLP. arXiv:1901.11196.
"""

from __future__ import annotations

import hashlib
import random
import string
import warnings
from collections.abc import Callable
from typing import Any

from longtail.augment.back_translation import check_number
from longtail.augment.wordnet import (
    INSTALL_HINT,
    SynonymSource,
    WordNetSynonyms,
    wordnet_available,
    wordnet_dir,
)
from longtail.errors import LongtailError

# The stop-word list of the EDA reference code (NLTK's English list, trimmed).
STOP_WORDS = frozenset(
    "i me my myself we our ours ourselves you your yours yourself yourselves he him his himself "
    "she her hers herself it its itself they them their theirs themselves what which who whom this "
    "that these those am is are was were be been being have has had having do does did doing a an "
    "the and but if or because as until while of at by for with about against between into through "
    "during before after above below to from up down in out on off over under again further then "
    "once here there when where why how all any both each few more most other some such no nor not "
    "only own same so than too very s t can will just don should now".split()
)
_PUNCT = string.punctuation + "“”‘’…"


class EDAAugmenter:
    """Easy Data Augmentation (Wei & Zou, 2019): synonym replacement, insertion, swap, deletion.

    Args:
        alpha_sr: Fraction of words replaced by synonyms (0 turns SR off).
        alpha_ri: Fraction of words' worth of synonyms inserted (0 turns RI off).
        alpha_rs: Fraction of words swapped (0 turns RS off).
        p_rd: Probability that each word is deleted (0 turns RD off).
        num_aug: At most this many new texts per original row (the paper's ``n_aug``; it suggests
            16 for ~500 rows per class, 4 for 5,000+). ``None``: no cap.
        synonyms: ``"wordnet"`` (default), ``None`` (SR and RI off) or a ``SynonymSource``.
        wordnet_dir: WordNet database folder (default ``$LONGTAIL_WORDNET_DIR`` or
            ``/usr/share/wordnet``).

    Example:
        >>> eda = EDAAugmenter(synonyms=DictSynonyms({"cash": ["money"]}))
        >>> eda.augment(["win cash now please"], 2, seed=0)
        [['win money now please', 'now cash win please']]
    """

    name = "eda"

    def __init__(
        self,
        alpha_sr: float = 0.1,
        alpha_ri: float = 0.1,
        alpha_rs: float = 0.1,
        p_rd: float = 0.1,
        num_aug: int | None = None,
        synonyms: SynonymSource | str | None = "wordnet",
        wordnet_dir: str | None = None,
    ) -> None:
        self.alpha_sr, self.alpha_ri, self.alpha_rs, self.p_rd = (
            check_number(value, key, self.name, low=0, high=1)
            for key, value in (
                ("alpha_sr", alpha_sr),
                ("alpha_ri", alpha_ri),
                ("alpha_rs", alpha_rs),
                ("p_rd", p_rd),
            )
        )
        self.max_per_text = check_number(
            num_aug, "num_aug", self.name, integer=True, low=1, none_ok=True
        )
        self.synonym_source = _resolve_synonyms(synonyms, wordnet_dir)
        self._synonym_label = (
            synonyms if isinstance(synonyms, str) or synonyms is None else (type(synonyms).__name__)
        )

    def cache_params(self) -> dict[str, Any]:
        """What determines the output (for the cache fingerprint)."""
        return {
            "alpha_sr": self.alpha_sr,
            "alpha_ri": self.alpha_ri,
            "alpha_rs": self.alpha_rs,
            "p_rd": self.p_rd,
            "synonyms": self._synonym_label if self.synonym_source is not None else None,
        }

    def augment(self, texts: list[str], n_per_text: int, *, seed: int) -> list[list[str]]:
        """``n_per_text`` edited copies of each text (fewer for texts too short to edit)."""
        return [self._one(text, n_per_text, _text_seed(seed, text)) for text in texts]

    def _operations(self) -> list[Callable[[list[str], random.Random], list[str]]]:
        ops: list[Callable[[list[str], random.Random], list[str]]] = []
        if self.synonym_source is not None and self.alpha_sr > 0:
            ops.append(lambda w, r: self._replace(w, _n(self.alpha_sr, w), r))
        if self.synonym_source is not None and self.alpha_ri > 0:
            ops.append(lambda w, r: self._insert(w, _n(self.alpha_ri, w), r))
        if self.alpha_rs > 0:
            ops.append(lambda w, r: random_swap(w, _n(self.alpha_rs, w), r))
        if self.p_rd > 0:
            ops.append(lambda w, r: random_deletion(w, self.p_rd, r))
        return ops

    def _one(self, text: str, n: int, seed: int) -> list[str]:
        words = text.split()
        ops = self._operations()
        if n <= 0 or not words or not ops:
            return []
        rng = random.Random(seed)
        per_op = n // len(ops) + 1
        pool = [" ".join(op(words, rng)) for op in ops for _ in range(per_op)]
        rng.shuffle(pool)
        return pool[:n]

    def _synonyms_of(self, word: str) -> list[str]:
        key = word.strip(_PUNCT).lower()
        if not key.isalpha() or key in STOP_WORDS or self.synonym_source is None:
            return []
        return [s for s in self.synonym_source.synonyms(key) if s.lower() != key]

    def _replace(self, words: list[str], n: int, rng: random.Random) -> list[str]:
        """SR: replace every occurrence of up to ``n`` distinct words by one random synonym."""
        out = list(words)
        candidates = list(dict.fromkeys(w.strip(_PUNCT).lower() for w in words))
        rng.shuffle(candidates)
        replaced = 0
        for key in candidates:
            choices = self._synonyms_of(key)
            if not choices:
                continue
            new = rng.choice(choices)
            out = [_swap_core(w, new) if w.strip(_PUNCT).lower() == key else w for w in out]
            replaced += 1
            if replaced >= n:
                break
        return out

    def _insert(self, words: list[str], n: int, rng: random.Random) -> list[str]:
        """RI: ``n`` times, insert a synonym of a random word at a random position."""
        out = list(words)
        for _ in range(n):
            for _attempt in range(10):  # as the reference code: give up after 10 tries
                choices = self._synonyms_of(rng.choice(out))
                if choices:
                    out.insert(rng.randrange(len(out) + 1), rng.choice(choices))
                    break
        return out


def random_swap(words: list[str], n: int, rng: random.Random) -> list[str]:
    """RS: swap two random positions ``n`` times (a one-word text is returned unchanged)."""
    out = list(words)
    if len(out) < 2:
        return out
    for _ in range(n):
        i, j = rng.sample(range(len(out)), 2)
        out[i], out[j] = out[j], out[i]
    return out


def random_deletion(words: list[str], p: float, rng: random.Random) -> list[str]:
    """RD: drop each word with probability ``p``; keep one random word if all would go."""
    if len(words) <= 1:
        return list(words)
    kept = [w for w in words if rng.random() > p]
    return kept or [rng.choice(words)]


def _n(alpha: float, words: list[str]) -> int:
    return max(1, int(alpha * len(words)))


def _swap_core(token: str, new: str) -> str:
    """Replace a token's word but keep its surrounding punctuation (``"cash!"`` → ``"money!"``)."""
    core = token.strip(_PUNCT)
    start = token.find(core)
    return token[:start] + new + token[start + len(core) :]


def _text_seed(seed: int, text: str) -> int:
    """A per-text seed, so a text's edits do not depend on which batch it came in."""
    digest = hashlib.sha256(f"{seed}\x00{text}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


_warned: set[str] = set()


def _resolve_synonyms(
    spec: SynonymSource | str | None, directory: str | None
) -> SynonymSource | None:
    if spec is None or spec == "none":
        return None
    if not isinstance(spec, str):
        return spec
    if spec != "wordnet":
        raise LongtailError(f"eda synonyms {spec!r}: use 'wordnet', 'none' or a SynonymSource")
    if not wordnet_available(directory):
        where = str(wordnet_dir(directory))
        if where not in _warned:
            _warned.add(where)
            warnings.warn(
                f"WordNet not found in {where}: EDA synonym replacement and insertion are off "
                f"(swap and deletion only); install it with `{INSTALL_HINT}`",
                stacklevel=3,
            )
        return None
    return WordNetSynonyms(directory)
