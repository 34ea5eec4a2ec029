"""The Arrow path agrees with the in-memory path on labels, and its CSR targets are exact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from longtail.data import LabelSpace, read_table
from longtail.data.arrow import (
    ArrowTexts,
    ArrowTokens,
    SparseMultiHot,
    drop_empty_arrow,
    fit_and_encode_arrow,
    load_arrow_table,
    tokenize_arrow,
)
from longtail.errors import LongtailError
from longtail.sampling import label_groups


def _csv(path, rows):
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


@pytest.mark.parametrize(
    "labels",
    [
        ["spam", "ham", "ham", "ham", "spam", "ham"],
        ["b", "a", "c", "a", "a", "b"],
        [1, 0, 0, 2, 2, 0],
    ],
)
def test_single_label_encoding_matches_in_memory(tmp_path, labels):
    path = _csv(tmp_path / "d.csv", [(f"text {i}", lab) for i, lab in enumerate(labels)])
    table = load_arrow_table(
        path, text_column="text", label_column="label", cache_dir=str(tmp_path / "c")
    )
    space, y = fit_and_encode_arrow(
        table,
        label_column="label",
        task=None,
        label_delimiter=None,
        positive_label=None,
        source=str(path),
    )
    memory = read_table(path, text_column="text", label_column="label")
    expected_space = LabelSpace.fit(memory.labels)
    assert space.task == expected_space.task and space.names == expected_space.names
    assert y.tolist() == expected_space.encode(memory.labels).tolist()


def test_multilabel_lists_and_delimited_strings(tmp_path):
    rows = [["earn"], ["grain", "wheat"], [], ["earn", "wheat"], ["earn"]]
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text(
        "".join(json.dumps({"text": f"t{i}", "label": r}) + "\n" for i, r in enumerate(rows))
    )
    table = load_arrow_table(
        jsonl, text_column="text", label_column="label", cache_dir=str(tmp_path / "c")
    )
    space, y = fit_and_encode_arrow(
        table,
        label_column="label",
        task=None,
        label_delimiter=None,
        positive_label=None,
        source="m",
    )
    assert isinstance(y, SparseMultiHot) and space.task == "multilabel"
    expected = LabelSpace.fit(rows)
    assert space.names == expected.names
    np.testing.assert_array_equal(y[np.arange(len(rows))], expected.encode(rows))

    csv_rows = [(f"t{i}", "|".join(r)) for i, r in enumerate(rows) if r]
    path = _csv(tmp_path / "m.csv", csv_rows)
    table = load_arrow_table(
        path, text_column="text", label_column="label", cache_dir=str(tmp_path / "c")
    )
    space, y = fit_and_encode_arrow(
        table, label_column="label", task=None, label_delimiter="|", positive_label=None, source="m"
    )
    assert space.names == ["earn", "grain", "wheat"]
    assert y[[1]].tolist() == [[0.0, 1.0, 1.0]]


def test_sparse_multihot_ops_match_dense():
    rng = np.random.default_rng(0)
    dense = (rng.random((300, 12)) < np.linspace(0.01, 0.5, 12)).astype(np.float32)
    dense[:5] = 0
    indptr = np.concatenate([[0], np.cumsum(dense.sum(axis=1))]).astype(np.int64)
    indices = np.nonzero(dense)[1].astype(np.int64)
    sparse = SparseMultiHot(indptr, indices, 12)
    rows = rng.integers(0, 300, 40)
    np.testing.assert_array_equal(sparse[rows], dense[rows])
    np.testing.assert_array_equal(sparse.take(rows)[np.arange(40)], dense[rows])
    np.testing.assert_array_equal(sparse.counts(), dense.sum(axis=0).astype(np.int64))
    np.testing.assert_array_equal(sparse.rarest_label_groups(), label_groups(dense, "multilabel"))


def test_empty_texts_missing_columns_and_labels(tmp_path):
    path = _csv(tmp_path / "e.csv", [("a b", "x"), ("  ", "y"), ("c", "y")])
    table = load_arrow_table(
        path, text_column="text", label_column="label", cache_dir=str(tmp_path / "c")
    )
    with pytest.warns(UserWarning, match="1 row"):
        assert len(drop_empty_arrow(table, text_column="text", strict=False, source="e.csv")) == 2
    with pytest.raises(LongtailError, match="e.csv"):
        drop_empty_arrow(table, text_column="text", strict=True, source="e.csv")
    with pytest.raises(LongtailError, match="available columns: text, label"):
        load_arrow_table(path, text_column="body", label_column="label")
    with pytest.raises(LongtailError, match="does not exist"):
        load_arrow_table(tmp_path / "none.csv", text_column="text", label_column="label")
    missing = _csv(tmp_path / "n.csv", [("a", "x"), ("b", ""), ("c", "y")])
    table = load_arrow_table(
        missing, text_column="text", label_column="label", cache_dir=str(tmp_path / "c")
    )
    with pytest.raises(LongtailError, match="label"):
        fit_and_encode_arrow(
            table,
            label_column="label",
            task=None,
            label_delimiter=None,
            positive_label=None,
            source="n.csv",
        )


def test_tokens_are_memory_mapped_with_lengths(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer

    path = _csv(
        tmp_path / "t.csv",
        [("free prize call now", "a"), ("hi", "b"), ("see you at lunch tomorrow", "a")],
    )
    table = load_arrow_table(
        path, text_column="text", label_column="label", cache_dir=str(tmp_path / "c")
    )
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokens = ArrowTokens(
        tokenize_arrow(table, tokenizer, text_column="text", max_length=16), np.array([2, 0])
    )
    assert tokens[0] == tokenizer("see you at lunch tomorrow")["input_ids"]
    assert tokens.lengths.tolist() == [len(tokens[0]), len(tokens[1])]
    assert tokens.table.cache_files, "token ids must live in an on-disk Arrow file"


def test_texts_are_read_from_disk_only_for_the_rows_asked(tmp_path):
    rows = [(f"text number {i}", "a" if i % 2 else "b") for i in range(7)]
    table = load_arrow_table(
        _csv(tmp_path / "t.csv", rows), text_column="text", label_column="label",
        cache_dir=str(tmp_path / "c"),
    )  # fmt: skip
    texts = ArrowTexts(table, "text", np.array([5, 1, 3]))
    assert len(texts) == 3 and texts[0] == "text number 5" and list(texts)[2] == "text number 3"
    assert texts.take() == ["text number 5", "text number 1", "text number 3"]
    assert texts.take(np.array([2, 0])) == ["text number 3", "text number 5"]
    assert ArrowTexts(table, "text").take([6]) == ["text number 6"]


def test_tokenising_in_two_processes_gives_the_same_table(tmp_path, tiny_model_dir, monkeypatch):
    from transformers import AutoTokenizer

    import longtail.data.arrow as arrow

    rows = [(f"row {i} " + "word " * (i % 23), "a" if i % 3 else "b") for i in range(300)]
    path = _csv(tmp_path / "t.csv", rows)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)

    def tokens(processes: int, cache: str) -> ArrowTokens:
        monkeypatch.setattr(arrow, "tokenizing_processes", lambda _rows: processes)
        table = load_arrow_table(path, text_column="text", label_column="label", cache_dir=cache)
        return ArrowTokens(tokenize_arrow(table, tokenizer, text_column="text", max_length=12))

    one, two = tokens(1, str(tmp_path / "c1")), tokens(2, str(tmp_path / "c2"))
    assert len(two.table.cache_files) == 2  # one shard per process
    assert two.materialise() == one.materialise()
    assert (
        one.materialise()
        == tokenizer([t for t, _ in rows], truncation=True, max_length=12)["input_ids"]
    )
    assert two.lengths.tolist() == [len(ids) for ids in one.materialise()]
    picked = ArrowTokens(two.table, np.array([299, 5, 5]))
    assert picked.materialise() == [picked[0], picked[1], picked[2]]


def test_small_tables_tokenise_in_this_process():
    from longtail.data.arrow import ROWS_PER_PROCESS, tokenizing_processes

    assert tokenizing_processes(ROWS_PER_PROCESS - 1) == 1
    assert tokenizing_processes(50 * ROWS_PER_PROCESS) >= 1


def test_missing_words_and_binary_ties_agree_with_the_in_memory_path(tmp_path):
    def fit(rows, name):
        path = tmp_path / name
        path.write_text("".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in rows))
        table = load_arrow_table(
            path, text_column="text", label_column="label", cache_dir=str(tmp_path / "cache")
        )
        kwargs = {"task": None, "label_delimiter": None, "positive_label": None}
        return fit_and_encode_arrow(table, label_column="label", source=name, **kwargs)[0]

    with pytest.raises(LongtailError, match="'NaN' or 'None', read as missing"):
        fit([("a", "x"), ("b", "None"), ("c", "y")], "none.jsonl")
    tie = [("a", "b"), ("b", "a"), ("c", "b"), ("d", "a")]
    assert fit(tie, "tie.jsonl").names == LabelSpace.fit([lab for _, lab in tie]).names


def _jsonl(path, labels):
    path.write_text("".join(json.dumps({"text": f"t{i}", "label": lab}) + "\n" for i, lab in enumerate(labels)))  # fmt: skip
    return path


def _arrow_fit(path, tmp_path, **kwargs):
    table = load_arrow_table(
        path, text_column="text", label_column="label", cache_dir=str(tmp_path / "cache")
    )
    options = {"task": None, "label_delimiter": None, "positive_label": None} | kwargs
    return fit_and_encode_arrow(table, label_column="label", source=str(path), **options)


def _memory_fit(path, **kwargs):
    memory = read_table(path, text_column="text", label_column="label")
    return LabelSpace.fit(memory.labels, source=str(path), row_numbers=memory.row_numbers, **kwargs)


_SPAM = ["spam" if i % 4 == 0 else "ham" for i in range(40)]
# (file name, labels, keyword arguments of the fit): label columns both paths must refuse alike
_REFUSED = {
    "delimiter-in-no-label": ("d.csv", _SPAM, {"label_delimiter": "|"}),
    "regression-target": ("r.csv", [f"{(i * 0.1373) % 5:.3f}" for i in range(40)], {}),
    "regression-target-jsonl": ("r.jsonl", [round((i * 0.1373) % 5, 3) for i in range(40)], {}),
    "id-column": ("ids.csv", [str(1000 + i) for i in range(40)], {}),
    "label-in-every-row": ("all.jsonl", [[lab, "all"] for lab in _SPAM], {}),
    "label-in-every-row-delimited": (
        "all.csv",
        [f"{lab}|all|" for lab in _SPAM],
        {"label_delimiter": "|"},
    ),  # fmt: skip
    "identical-label-sets": ("same.jsonl", [["a", "b"]] * 40, {}),
    "one-class": ("one.csv", ["ham"] * 40, {}),
    "binary-task-but-lists": ("lists.jsonl", [[lab] for lab in _SPAM], {"task": "binary"}),
    "empty-delimiter": ("e.csv", _SPAM, {"label_delimiter": ""}),
    "unknown-positive-label": ("p.csv", _SPAM, {"positive_label": "eggs"}),
}


@pytest.mark.parametrize("case", sorted(_REFUSED))
def test_arrow_refuses_what_fit_refuses_with_the_same_message(tmp_path, case):
    name, labels, kwargs = _REFUSED[case]
    path = tmp_path / name
    if name.endswith(".csv"):
        _csv(path, [(f"t{i}", lab) for i, lab in enumerate(labels)])
    else:
        _jsonl(path, labels)
    with pytest.raises(LongtailError) as memory:
        _memory_fit(path, **kwargs)
    with pytest.raises(LongtailError) as arrow:
        _arrow_fit(path, tmp_path, **kwargs)
    assert str(arrow.value) == str(memory.value)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (
            ["1" if i % 2 else "1.0" for i in range(20)] + ["0"] * 20,
            "labels '1' and '1.0' look like one class",
        ),  # fmt: skip
        (
            ["Spam" if i % 2 else "spam" for i in range(20)] + ["ham"] * 20,
            "labels 'Spam' and 'spam'",
        ),  # fmt: skip
    ],
)
def test_labels_written_two_ways_warn_on_both_paths(tmp_path, labels, message):
    path = _csv(tmp_path / "v.csv", [(f"t{i}", lab) for i, lab in enumerate(labels)])
    with pytest.warns(UserWarning, match=message):
        expected = _memory_fit(path)
    with pytest.warns(UserWarning, match=message):
        space, _ = _arrow_fit(path, tmp_path)
    assert space.names == expected.names


def test_blank_pieces_are_skipped_like_in_memory(tmp_path):
    labels = ["earn|", "grain||wheat", "earn | earn", "|wheat", "grain"]
    path = _csv(tmp_path / "b.csv", [(f"t{i}", lab) for i, lab in enumerate(labels)])
    space, y = _arrow_fit(path, tmp_path, label_delimiter="|")
    expected = _memory_fit(path, label_delimiter="|")
    assert space.names == expected.names == ["earn", "grain", "wheat"]
    np.testing.assert_array_equal(y[np.arange(len(labels))], expected.encode(labels))
    assert y.counts().tolist() == [2, 2, 2], "a label repeated in a row counts once"
    blank = _csv(tmp_path / "blank.csv", [("a", "earn"), ("b", "  "), ("c", "grain")])
    with pytest.raises(LongtailError, match="read as missing"):
        _arrow_fit(blank, tmp_path, label_delimiter="|")


def test_slices_give_the_same_labels_as_one_pass(tmp_path, monkeypatch):
    from longtail.data import arrow_labels

    rows = [["b"], ["c", "a"], [], ["a", "a", "b"], ["c"], ["b", "d"], ["a"]]
    path = _jsonl(tmp_path / "m.jsonl", rows)
    whole_space, whole = _arrow_fit(path, tmp_path)
    single = _csv(tmp_path / "s.csv", [(f"t{i}", f"{(i * 7) % 5:.1f}") for i in range(23)])
    whole_single = _arrow_fit(single, tmp_path)
    monkeypatch.setattr(arrow_labels, "BATCH_ROWS", 2)
    space, sliced = _arrow_fit(path, tmp_path)
    assert space.names == whole_space.names == LabelSpace.fit(rows).names
    np.testing.assert_array_equal(sliced[np.arange(len(rows))], LabelSpace.fit(rows).encode(rows))
    np.testing.assert_array_equal(sliced.indptr, whole.indptr)
    sliced_single = _arrow_fit(single, tmp_path)
    assert sliced_single[0].names == whole_single[0].names
    assert sliced_single[1].tolist() == whole_single[1].tolist()


def test_validation_is_encoded_with_the_training_space_not_fitted(tmp_path):
    from longtail.data.arrow import encode_arrow

    train = _jsonl(tmp_path / "train.jsonl", [["a", "b"], ["b"], ["c"], ["a"]])
    space, _ = _arrow_fit(train, tmp_path)
    # every validation row holds 'b' and none holds 'c': fine for evaluation, refused for training
    val = _jsonl(tmp_path / "val.jsonl", [["b"], ["a", "b"], ["b"]])
    table = load_arrow_table(val, text_column="text", label_column="label", cache_dir=str(tmp_path / "cache"))  # fmt: skip
    y = encode_arrow(table, space, label_column="label", source="val.jsonl")
    assert y[np.arange(3)].tolist() == [[0, 1, 0], [1, 1, 0], [0, 1, 0]]
    bad = _jsonl(tmp_path / "bad.jsonl", [["b"], ["a", "zebra"]])
    table = load_arrow_table(bad, text_column="text", label_column="label", cache_dir=str(tmp_path / "cache"))  # fmt: skip
    with pytest.raises(LongtailError, match="bad.jsonl record 2: unknown label 'zebra'"):
        encode_arrow(table, space, label_column="label", source="bad.jsonl")
    binary, _ = _arrow_fit(_csv(tmp_path / "bin.csv", [(f"t{i}", lab) for i, lab in enumerate(_SPAM)]), tmp_path)  # fmt: skip
    one_class = _csv(tmp_path / "neg.csv", [("a", "ham"), ("b", "ham")])
    table = load_arrow_table(one_class, text_column="text", label_column="label", cache_dir=str(tmp_path / "cache"))  # fmt: skip
    assert encode_arrow(table, binary, label_column="label", source="neg.csv").tolist() == [0, 0]


def test_a_second_run_on_the_same_file_reuses_the_token_table(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer

    path = _csv(tmp_path / "t.csv", [(f"text number {i}", "ab"[i % 2]) for i in range(50)])
    cache = str(tmp_path / "cache")

    def tokens():  # a fresh process's view: the table and the tokenizer loaded again
        table = load_arrow_table(path, text_column="text", label_column="label", cache_dir=cache)
        tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
        return tokenize_arrow(table, tokenizer, text_column="text", max_length=8)

    first = tokens()
    files = {Path(f["filename"]) for f in first.cache_files}
    stamps = {f: f.stat().st_mtime_ns for f in files}
    second = tokens()
    assert {Path(f["filename"]) for f in second.cache_files} == files
    assert {f: f.stat().st_mtime_ns for f in files} == stamps, "tokenised again"
