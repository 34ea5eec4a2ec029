"""Chunking long documents: coverage, overlap, special tokens, the chunk-count formula, caps."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from longtail.errors import LongtailError
from longtail.text.chunking import chunk_token_ids, num_chunks, tokenize_documents

CLS, SEP = 101, 102


def _content(chunk: list[int]) -> list[int]:
    return chunk[1:-1]


@pytest.mark.parametrize("n_tokens", [1, 5, 6, 7, 20, 41, 100])
@pytest.mark.parametrize(("chunk_length", "stride"), [(8, 0), (8, 2), (8, 5), (12, 3)])
def test_chunks_cover_overlap_and_fit(n_tokens: int, chunk_length: int, stride: int) -> None:
    ids = list(range(1000, 1000 + n_tokens))
    chunks = chunk_token_ids(ids, chunk_length=chunk_length, stride=stride, cls_id=CLS, sep_id=SEP)
    assert len(chunks) == num_chunks(n_tokens, chunk_length, stride)
    assert all(len(c) <= chunk_length for c in chunks)
    assert all(c[0] == CLS and c[-1] == SEP for c in chunks)
    assert all(len(c) == chunk_length for c in chunks[:-1])  # only the last may be short
    # consecutive chunks share exactly `stride` tokens: the tail of one is the head of the next
    for left, right in zip(chunks[:-1], chunks[1:], strict=True):
        shared = _content(left)[len(_content(left)) - stride :] if stride else []
        assert _content(right)[:stride] == shared
    # removing the overlap rebuilds the document: every token, once, in order
    rebuilt = _content(chunks[0]) + [t for c in chunks[1:] for t in _content(c)[stride:]]
    assert rebuilt == ids


def test_known_example_and_no_specials() -> None:
    assert chunk_token_ids([1, 2, 3, 4, 5, 6, 7], chunk_length=5, stride=1, cls_id=0, sep_id=9) == [
        [0, 1, 2, 3, 9],
        [0, 3, 4, 5, 9],
        [0, 5, 6, 7, 9],
    ]
    assert chunk_token_ids([1, 2, 3, 4, 5], chunk_length=3, stride=1, cls_id=None, sep_id=None) == [
        [1, 2, 3],
        [3, 4, 5],
    ]
    assert num_chunks(5, 3, 1, specials=0) == 2


def test_empty_document_and_max_chunks() -> None:
    assert chunk_token_ids([], chunk_length=8, stride=2, cls_id=CLS, sep_id=SEP) == []
    assert num_chunks(0, 8, 2) == 0
    ids = list(range(100))
    capped = chunk_token_ids(ids, chunk_length=8, stride=2, cls_id=CLS, sep_id=SEP, max_chunks=3)
    full = chunk_token_ids(ids, chunk_length=8, stride=2, cls_id=CLS, sep_id=SEP)
    assert capped == full[:3]


@pytest.mark.parametrize(("chunk_length", "stride"), [(8, 6), (8, 7), (8, -1), (2, 0)])
def test_bad_stride_or_length(chunk_length: int, stride: int) -> None:
    with pytest.raises(LongtailError):
        chunk_token_ids([1, 2, 3], chunk_length=chunk_length, stride=stride, cls_id=CLS, sep_id=SEP)


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_tokenize_documents_matches_plain_tokenisation(tokenizer) -> None:
    texts = ["the movie was great " * 30, "good film", "boring plot and bad actor " * 9]
    docs = tokenize_documents(tokenizer, texts, chunk_length=16, stride=4)
    for text, chunks in zip(texts, docs, strict=True):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert chunks == chunk_token_ids(
            ids,
            chunk_length=16,
            stride=4,
            cls_id=tokenizer.cls_token_id,
            sep_id=tokenizer.sep_token_id,
        )
    assert len(docs[0]) > 1 and len(docs[1]) == 1
    assert (
        docs[1][0] == tokenizer("good film")["input_ids"]
    )  # a short text: as TextClassifier sees it


def test_tokenize_documents_is_quiet_about_long_sequences(tokenizer, caplog) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tokenize_documents(tokenizer, ["the film " * 200], chunk_length=16, stride=0)
    assert "longer than" not in caplog.text


def test_too_long_error_names_row_and_option(tokenizer) -> None:
    with pytest.raises(LongtailError, match=r"row 1 .*25 characters.*on_too_long='truncate'"):
        tokenize_documents(
            tokenizer, ["good film", "the " * 6 + "f"], chunk_length=16, stride=0, max_chars=20
        )


def test_too_long_truncate_warns_once_with_count(tokenizer) -> None:
    texts = ["the film " * 10, "good", "bad movie " * 10]
    with pytest.warns(UserWarning, match="2 document") as record:
        docs = tokenize_documents(
            tokenizer, texts, chunk_length=64, stride=0, max_chars=20, on_too_long="truncate"
        )
    assert len(record) == 1
    assert docs[0] == tokenize_documents(tokenizer, [texts[0][:20]], chunk_length=64, stride=0)[0]


def test_empty_text_is_an_error(tokenizer) -> None:
    with pytest.raises(LongtailError, match="row 1 tokenises to zero tokens"):
        tokenize_documents(tokenizer, ["good", "   "], chunk_length=16, stride=0)


def test_chunk_settings_fill_the_defaults_from_the_window():
    from longtail.text.chunking import ChunkSettings

    assert ChunkSettings.resolve(window=512) == ChunkSettings(512, 64)
    assert ChunkSettings.resolve(window=128) == ChunkSettings(128, 31)  # a quarter of 126
    assert ChunkSettings.resolve(window=512, chunk_length=256, stride=0).stride == 0


def test_chunk_settings_round_trip_through_json_and_keep_the_saved_layout():
    from longtail.text.chunking import ChunkSettings

    plain = ChunkSettings(256, 32, 1000, "truncate")
    assert plain.to_json() == {
        "chunk_length": 256, "stride": 32, "max_chars": 1000, "on_too_long": "truncate",
    }  # fmt: skip
    budget = ChunkSettings(256, 32, 1000, "truncate", max_chunks_encoded=8)
    for settings in (plain, budget):
        saved = settings.to_json() | {"aggregator": "mean", "mode": "frozen"}  # other keys
        assert ChunkSettings.from_json(saved) == settings


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ({"stride": 600}, "stride 600"),
        ({"on_too_long": "cut"}, "on_too_long"),
        ({"max_chunks_encoded": 0}, "max_chunks_encoded"),
        ({"max_chunks_encoded": 2.5}, "max_chunks_encoded"),
        ({"chunk_length": None}, "chunk_length must be a whole number, got None"),
    ],
)
def test_a_broken_saved_chunk_setting_is_a_one_line_error_naming_the_file(broken, message):
    from longtail.text.chunking import ChunkSettings

    saved = ChunkSettings(512, 64).to_json() | broken
    with pytest.raises(LongtailError, match=message) as error:
        ChunkSettings.from_json(saved, source="model/longtail.json")
    assert "\n" not in str(error.value) and "model/longtail.json" in str(error.value)


def test_missing_chunk_settings_name_the_missing_keys():
    from longtail.text.chunking import ChunkSettings

    with pytest.raises(LongtailError, match="lacks stride, max_chars"):
        ChunkSettings.from_json({"chunk_length": 512, "on_too_long": "error"})
