"""Synonym sources for EDA: a small reader of the WordNet 3.0 database files, or a plain dict.

The reader works on the files the Debian package ``wordnet-base`` installs under
``/usr/share/wordnet`` (``index.{noun,verb,adj,adv}``, ``data.*``, ``*.exc``; format in the
``wndb(5WN)`` manual page). It needs no nltk: an index file is sorted, so a word is found by
binary search over the file's bytes, and each synset offset is the byte offset of its line in the
matching ``data.*`` file. Inflected forms are reduced with WordNet's own "morphy" rules
(exception lists, then suffix rules), as nltk's reader does.

Reference:
    Miller, 1995. "WordNet: a lexical database for English." Communications of the ACM 38(11).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

DEFAULT_WORDNET_DIR = "/usr/share/wordnet"
WORDNET_ENV = "LONGTAIL_WORDNET_DIR"
INSTALL_HINT = "apt-get install -y --no-install-recommends wordnet-base"
_POS = ("noun", "verb", "adj", "adv")
_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    "noun": (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"),
             ("shes", "sh"), ("men", "man"), ("ies", "y")),
    "verb": (("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""),
             ("ing", "e"), ("ing", "")),
    "adj": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "adv": (),
}  # fmt: skip
_ADJ_MARKER = re.compile(r"\([a-z]+\)$")
_KEEP = re.compile(r"^[a-z][a-z ]*$")


@runtime_checkable
class SynonymSource(Protocol):
    """Anything that maps a lower-case word to a list of synonyms (without the word itself)."""

    def synonyms(self, word: str) -> list[str]: ...


class DictSynonyms:
    """Synonyms from a mapping ``{word: [synonym, ...]}``: for tests and domain word lists."""

    def __init__(self, mapping: Mapping[str, Iterable[str]]) -> None:
        self._mapping = {
            k.lower(): [s for s in v if s.lower() != k.lower()] for k, v in mapping.items()
        }

    def synonyms(self, word: str) -> list[str]:
        return list(self._mapping.get(word.lower(), ()))


def wordnet_dir(directory: str | os.PathLike[str] | None = None) -> Path:
    """The WordNet directory: the argument, else ``$LONGTAIL_WORDNET_DIR``, else the Debian path."""
    return Path(directory or os.environ.get(WORDNET_ENV) or DEFAULT_WORDNET_DIR)


def wordnet_available(directory: str | os.PathLike[str] | None = None) -> bool:
    """True when every ``index.*`` and ``data.*`` file the reader needs is present."""
    root = wordnet_dir(directory)
    return all((root / f"{kind}.{pos}").is_file() for pos in _POS for kind in ("index", "data"))


class WordNetSynonyms:
    """Synonyms of a word over all its WordNet synsets (all parts of speech), EDA style.

    Multi-word lemmas become space-separated (``"motor_vehicle"`` → ``"motor vehicle"``,
    hyphens too); only lemmas made of letters and spaces are kept, lower-cased, in WordNet's
    sense order, without duplicates, the word itself or its base forms (``cars`` → not ``car``).

    Args:
        directory: Folder with the WordNet 3.0 database files (default: see :func:`wordnet_dir`).

    Example:
        >>> WordNetSynonyms().synonyms("quick")[:3]
        ['speedy', 'agile', 'nimble']
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = wordnet_dir(directory)
        if not wordnet_available(self.directory):
            raise FileNotFoundError(
                f"WordNet database files not found in {self.directory}; install them with "
                f"`{INSTALL_HINT}` or set ${WORDNET_ENV}"
            )

    def synonyms(self, word: str) -> list[str]:
        return list(self._synonyms(word.lower().strip()))

    @lru_cache(maxsize=65536)  # noqa: B019 - one reader per process; words repeat a lot
    def _synonyms(self, word: str) -> tuple[str, ...]:
        found: dict[str, None] = {}
        key = word.replace(" ", "_")
        if not key:
            return ()
        bases = {pos: self.base_forms(key, pos) for pos in _POS}
        own = {word} | {b.replace("_", " ") for forms in bases.values() for b in forms}
        for pos in _POS:
            for lemma in bases[pos]:
                for offset in self._synset_offsets(lemma, pos):
                    for name in self._synset_words(pos, offset):
                        clean = name.replace("_", " ").replace("-", " ").lower()
                        if clean not in own and _KEEP.match(clean):
                            found[clean] = None
        return tuple(found)

    def base_forms(self, word: str, pos: str) -> list[str]:
        """WordNet's morphy: ``word`` and its base forms that the index of ``pos`` knows."""
        forms = [word, *_exceptions(str(self.directory), pos).get(word, ())]
        forms += [word[: -len(old)] + new for old, new in _RULES[pos] if word.endswith(old)]
        return [f for f in dict.fromkeys(forms) if f and self._index_line(f, pos) is not None]

    def _synset_offsets(self, lemma: str, pos: str) -> list[int]:
        line = self._index_line(lemma, pos)
        if line is None:
            return []
        fields = line.split()
        synset_count = int(fields[2])
        return [int(f) for f in fields[len(fields) - synset_count :]]

    def _index_line(self, lemma: str, pos: str) -> str | None:
        data = _file_bytes(str(self.directory / f"index.{pos}"))
        line = _bisect(data, lemma.encode("utf-8"))
        return None if line is None else line.decode("utf-8", "replace")

    def _synset_words(self, pos: str, offset: int) -> list[str]:
        data = _file_bytes(str(self.directory / f"data.{pos}"))
        end = data.find(b"\n", offset)
        fields = data[offset : end if end >= 0 else len(data)].decode("utf-8", "replace").split()
        count = int(fields[3], 16)
        return [_ADJ_MARKER.sub("", fields[4 + 2 * i]) for i in range(count)]


@lru_cache(maxsize=16)
def _file_bytes(path: str) -> bytes:
    return Path(path).read_bytes()


@lru_cache(maxsize=8)
def _exceptions(directory: str, pos: str) -> dict[str, tuple[str, ...]]:
    path = Path(directory) / f"{pos}.exc"
    if not path.is_file():
        return {}
    table: dict[str, tuple[str, ...]] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            table[parts[0]] = tuple(parts[1:])
    return table


def _bisect(data: bytes, key: bytes) -> bytes | None:
    """The line of a sorted index file whose first field is ``key`` (license lines sort first)."""
    if not key:
        return None
    lo, hi = 0, len(data)  # invariant: the wanted line, if any, starts in [lo, hi)
    while lo < hi:
        mid = (lo + hi) // 2
        start = 0 if mid == 0 else data.find(b"\n", mid - 1) + 1  # first line start >= mid
        if start == 0 and mid > 0:
            start = len(data)  # no newline after mid: no line starts there
        if start >= hi:
            hi = mid
            continue
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        space = data.find(b" ", start, end)
        word = data[start : space if space >= 0 else end]
        if word == key:
            return data[start:end]
        if word < key:
            lo = end + 1
        else:
            hi = mid
    return None
