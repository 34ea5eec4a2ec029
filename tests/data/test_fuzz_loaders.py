"""Fuzz the data path: whatever the file holds, the user gets a result or one LongtailError.

The property, for every generated file: ``read_table`` → ``drop_empty_texts`` →
``LabelSpace.fit`` / ``encode`` → ``stratified_split`` either succeeds with consistent output
(as many texts as labels as row numbers, texts are ``str``, the split partitions the rows) or
raises :class:`~longtail.errors.LongtailError`; never any other exception. Each ``@example`` is a
traceback fuzzing once found, kept as a regression test. Deterministic (``derandomize``) and
small (``max_examples``) so the default suite stays fast.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from longtail.data import LabelSpace, drop_empty_texts, read_table, stratified_split
from longtail.data.readers import TextTable
from longtail.errors import LongtailError

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SUFFIXES = [".csv", ".tsv", ".jsonl", ".json", ".parquet", ".csv.gz", ".jsonl.bz2", ".txt", ""]
COLUMNS = ["text", "label", "id", "", " text", "Text"]

# Text that stresses CSV quoting and line splitting: delimiters, quotes, every kind of newline,
# U+2028 (a line break for str.splitlines, not for JSON), NUL, a BOM, non-ASCII digits.
tricky_text = st.text(
    alphabet=st.sampled_from(
        list("ab ,\t\"'\n\r\\") + ["\u2028", "\x00", "\ufeff", "é", "²", "١", "💥", "{", "["]
    ),
    max_size=12,
)
scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    tricky_text,
    st.sampled_from(["", " ", "nan", "NaN", "None", "null", "1", "1.0", "01", "-1", "--5", "²"]),
)
json_value = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(COLUMNS), inner, max_size=3),
    ),
    max_leaves=8,
)


@contextmanager
def _tmpdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def _check_table(table: TextTable) -> None:
    assert len(table.texts) == len(table.row_numbers) > 0
    assert all(isinstance(t, str) for t in table.texts)
    assert all(isinstance(r, int) for r in table.row_numbers)
    if table.labels is not None:
        assert len(table.labels) == len(table.texts)


def _pipeline(
    path: Path, *, val_fraction: float = 0.3, seed: int = 0, **read_kwargs: Any
) -> TextTable | None:
    """Run the data path; return the table (or ``None`` where a LongtailError stopped it)."""
    try:
        table = read_table(path, **read_kwargs)
    except LongtailError as exc:
        assert "\n" not in str(exc)
        return None
    _check_table(table)
    if table.labels is None:
        return table
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cleaned = drop_empty_texts(table)
        _check_table(cleaned)
        assert all(t.strip() for t in cleaned.texts)
        _fit_encode_split(cleaned.labels, cleaned, val_fraction=val_fraction, seed=seed)
    except LongtailError as exc:
        assert "\n" not in str(exc)
    return table


def _fit_encode_split(
    labels: list[Any],
    table: TextTable | None = None,
    *,
    val_fraction: float,
    seed: int,
    **fit_kwargs: Any,
) -> None:
    rows = table.row_numbers if table is not None else None
    source = table.source if table is not None else "labels"
    space = LabelSpace.fit(labels, source=source, row_numbers=rows, **fit_kwargs)
    assert len(space.names) >= 2 and all(isinstance(n, str) for n in space.names)
    y = space.encode(labels, source=source, row_numbers=rows)
    assert len(y) == len(labels)
    if space.task == "multilabel":
        assert y.shape == (len(labels), len(space.names))
    else:
        assert y.ndim == 1 and ((y >= 0) & (y < len(space.names))).all()
    assert len(space.decode(y)) == len(labels)
    train_idx, val_idx = stratified_split(y, space.task, val_fraction, seed, names=space.names)
    both = np.concatenate([train_idx, val_idx])
    assert sorted(both.tolist()) == list(range(len(labels)))
    assert len(train_idx) > 0 and len(val_idx) > 0


def _write(path: Path, raw: bytes) -> Path:
    if path.name.endswith(".gz"):
        raw = gzip.compress(raw)
    elif path.name.endswith(".bz2"):
        raw = bz2.compress(raw)
    path.write_bytes(raw)
    return path


# --- arbitrary bytes under every file name -------------------------------------------------


@FUZZ
@given(raw=st.binary(max_size=300), suffix=st.sampled_from(SUFFIXES))
@example(raw=("text,label\nhi,a\n").encode("utf-16"), suffix=".csv")  # UTF-16: one clear line
@example(raw=gzip.compress(b"text,label\nhi,a\n"), suffix=".csv")  # gzip without .gz
@example(raw=b'{"text": "a", "label": ' + b"[" * 5000 + b"]" * 5000 + b"}", suffix=".jsonl")
@example(raw=b"[" * 5000 + b"]" * 5000, suffix=".json")  # was RecursionError
@example(raw=b'{"text": "a", "label": ' + b"1" * 5000 + b"}", suffix=".jsonl")  # was ValueError
@example(raw=b'{"splits": 1', suffix=".parquet")
def test_random_bytes(raw: bytes, suffix: str) -> None:
    with _tmpdir() as tmp:
        _pipeline(_write(tmp / f"data{suffix}", raw))


def test_missing_directory_and_unreadable_paths(tmp_path: Path) -> None:
    for path in [tmp_path / "nope.csv", tmp_path, tmp_path / ("x" * 5000 + ".csv")]:
        assert _pipeline(path) is None
    (tmp_path / "dd").mkdir()
    (tmp_path / "dd" / "dataset_dict.json").write_text("{", encoding="utf-8")  # was JSONDecodeError
    assert _pipeline(tmp_path / "dd") is None


# --- CSV / TSV: quoting, ragged rows, duplicate columns, encodings ------------------------------


@st.composite
def delimited_files(draw: st.DrawFn) -> tuple[list[str], list[list[str]], bool]:
    header = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=4))
    width = len(header)
    ragged = draw(st.booleans())
    row = st.lists(tricky_text, min_size=width, max_size=width)
    if ragged:
        row = st.lists(tricky_text, min_size=0, max_size=width + 2)
    rows = draw(st.lists(row, max_size=8))
    quoted = draw(st.booleans())  # csv.writer (valid quoting) or a naive join (broken quoting)
    return header, rows, quoted


def _render(header: list[str], rows: list[list[str]], delimiter: str, quoted: bool) -> str:
    if not quoted:
        return "".join(delimiter.join(r) + "\n" for r in [header, *rows])
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows([header, *rows])
    return buffer.getvalue()


@FUZZ
@given(
    spec=delimited_files(),
    suffix=st.sampled_from([".csv", ".tsv"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"]),
    val_fraction=st.floats(min_value=0.01, max_value=0.99),
)
@example(
    spec=(["text", "label"], [["a\u2028b", "x"], ["c", "y"], ["d", "x"], ["e", "y"]], True),
    suffix=".csv",
    encoding="utf-8-sig",
    val_fraction=0.5,
)
def test_delimited(
    spec: tuple[list[str], list[list[str]], bool], suffix: str, encoding: str, val_fraction: float
) -> None:
    header, rows, quoted = spec
    delimiter = "," if suffix == ".csv" else "\t"
    text = _render(header, rows, delimiter, quoted)
    with _tmpdir() as tmp:
        path = _write(tmp / f"data{suffix}", text.encode(encoding, errors="replace"))
        table = _pipeline(path, val_fraction=val_fraction)
        if encoding == "utf-8-sig":  # a byte-order mark changes nothing
            plain = _write(tmp / f"plain{suffix}", text.encode("utf-8"))
            other = _pipeline(plain, val_fraction=val_fraction)
            assert (table is None) == (other is None)
            if table is not None and other is not None:
                assert (table.texts, table.labels) == (other.texts, other.labels)
    if encoding == "utf-16":
        assert table is None, "UTF-16 is refused with a clear message"
    names = [h.strip() for h in header]  # the reader strips header names
    well_formed = (
        quoted
        and encoding in ("utf-8", "utf-8-sig")
        and rows
        and {"text", "label"} <= set(header)
        and len(set(names)) == len(names)
        and all(len(r) == len(header) for r in rows)
        and all(r[header.index("label")].strip() for r in rows)
    )
    if well_formed:
        assert table is not None, "a well-formed file must be read"
        expected = [r[header.index("text")] for r in rows]
        assert table.texts == [t if t.strip() else "" for t in expected]
        assert table.labels == [r[header.index("label")] for r in rows]


# --- JSON Lines and JSON arrays: non-objects, nesting, NaN, numbers as text -------------------


@st.composite
def jsonl_lines(draw: st.DrawFn) -> list[str]:
    record = st.dictionaries(st.sampled_from(COLUMNS), json_value, max_size=4)
    line = st.one_of(
        record.map(lambda r: json.dumps(r, ensure_ascii=False)),  # NaN -> NaN: Python accepts it
        json_value.map(json.dumps),  # often not an object
        st.sampled_from(["", "   ", "{", '{"text": "a", "text": "b", "label": 1}', "[1, 2]"]),
    )
    return draw(st.lists(line, max_size=8))


@FUZZ
@given(
    lines=jsonl_lines(),
    as_array=st.booleans(),
    label_column=st.sampled_from(["label", "text", "id"]),
    seed=st.integers(0, 3),
)
@example(
    lines=[json.dumps({"text": "a\u2028b", "label": "x"}, ensure_ascii=False)] * 2
    + [json.dumps({"text": "c", "label": "y"})] * 2,
    as_array=False,
    label_column="label",
    seed=0,
)  # U+2028 inside a string was split into two lines
@example(lines=['{"text": ["a", "b"], "label": "x"}'], as_array=False, label_column="label", seed=0)
@example(lines=['{"text": "a", "label": {"k": 1}}'], as_array=False, label_column="label", seed=0)
def test_json(lines: list[str], as_array: bool, label_column: str, seed: int) -> None:
    with _tmpdir() as tmp:
        if as_array:
            records = []
            for line in lines:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
            path = _write(tmp / "data.json", json.dumps(records).encode())
        else:
            path = _write(tmp / "data.jsonl", "\n".join(lines).encode())
        _pipeline(path, label_column=label_column, seed=seed)


# --- Parquet with non-string columns --------------------------------------------------------

ARROW_COLUMNS = {
    "string": (st.one_of(st.none(), tricky_text), pa.string()),
    "int": (st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), pa.int64()),
    "float": (st.one_of(st.none(), st.floats(allow_nan=True)), pa.float64()),
    "bool": (st.one_of(st.none(), st.booleans()), pa.bool_()),
    "binary": (st.one_of(st.none(), st.binary(max_size=6)), pa.binary()),
    "list": (
        st.one_of(st.none(), st.lists(st.sampled_from(["a", "b", "c"]))),
        pa.list_(pa.string()),
    ),
    "struct": (st.fixed_dictionaries({"k": st.integers(0, 3)}), pa.struct([("k", pa.int64())])),
    "null": (st.none(), pa.null()),
}


@st.composite
def parquet_tables(draw: st.DrawFn) -> pa.Table:
    n = draw(st.integers(0, 8))
    names = draw(st.lists(st.sampled_from(["text", "label", "id"]), min_size=1, max_size=3))
    arrays = []
    for _ in names:
        values, dtype = ARROW_COLUMNS[draw(st.sampled_from(sorted(ARROW_COLUMNS)))]
        arrays.append(pa.array(draw(st.lists(values, min_size=n, max_size=n)), type=dtype))
    return pa.Table.from_arrays(arrays, names=names)


@FUZZ
@given(table=parquet_tables(), val_fraction=st.floats(min_value=0.05, max_value=0.95))
@example(
    table=pa.Table.from_arrays(
        [pa.array(["a", "b"]), pa.array([1, 2]), pa.array(["x", "y"])],
        names=["text", "text", "label"],
    ),
    val_fraction=0.5,
)  # duplicate columns: was a pyarrow error dumping the whole schema
def test_parquet(table: pa.Table, val_fraction: float) -> None:
    with _tmpdir() as tmp:
        pq.write_table(table, tmp / "data.parquet")
        _pipeline(tmp / "data.parquet", val_fraction=val_fraction)


# --- labels straight into LabelSpace and the split -------------------------------------------

label_value = st.one_of(
    scalar,
    st.lists(st.one_of(scalar, st.lists(st.just("a"), max_size=1)), max_size=3),
    st.dictionaries(st.just("k"), st.just(1), max_size=1),
    st.sampled_from(["a", "b", "c", "a|b", "b,c", "1", "2", "²", "--5", "١"]),
)


@settings(FUZZ, max_examples=150)
@given(
    labels=st.lists(label_value, min_size=1, max_size=12),
    task=st.sampled_from([None, "binary", "multiclass", "multilabel", "bogus"]),
    delimiter=st.sampled_from([None, ",", "|"]),
    positive=st.sampled_from([None, "a", "b", 1]),
    val_fraction=st.floats(min_value=0.01, max_value=0.99),
    seed=st.integers(0, 3),
)
@example(labels=["²", "3", "4", "3"], task=None, delimiter=None, positive=None,
         val_fraction=0.5, seed=0)  # fmt: skip
@example(labels=["--5", "3", "--5", "3"], task=None, delimiter=None, positive=None,
         val_fraction=0.5, seed=0)  # fmt: skip
@example(
    labels=[["a"], ["b"], ["a", "b"]],
    task=None,
    delimiter=None,
    positive=None,
    val_fraction=0.99,
    seed=0,
)  # fmt: skip  (was an empty training part)
@example(labels=[{"k": 1}, "a"], task=None, delimiter=None, positive=None,
         val_fraction=0.5, seed=0)  # fmt: skip
@example(
    labels=[False, True, 0], task=None, delimiter=",", positive=None, val_fraction=0.5, seed=0
)  # fmt: skip  (was an empty training part)
def test_label_space_and_split(
    labels: list[Any],
    task: str | None,
    delimiter: str | None,
    positive: Any,
    val_fraction: float,
    seed: int,
) -> None:
    try:
        _fit_encode_split(
            labels,
            val_fraction=val_fraction,
            seed=seed,
            task=task,
            label_delimiter=delimiter,
            positive_label=positive,
        )
    except LongtailError as exc:
        assert "\n" not in str(exc)
