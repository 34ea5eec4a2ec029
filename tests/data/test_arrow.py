"""The Arrow path agrees with the in-memory path on labels, and its CSR targets are exact."""

from __future__ import annotations

import json

import numpy as np
import pytest

from longtail.data import LabelSpace, read_table
from longtail.data.arrow import (
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
