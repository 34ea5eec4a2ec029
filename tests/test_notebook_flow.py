"""The notebook path end to end: a DataFrame in, fit, predict_proba, tune_decision,
save_pretrained, from_pretrained (a folder, and a hub id from a pre-filled cache, offline), a
pipeline call — the same decisions at every step; and push_to_hub up to the request it sends."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "cli"))
from cli_helpers import make_rows  # noqa: E402

import longtail  # noqa: E402
from longtail.errors import LongtailError  # noqa: E402


@pytest.fixture(scope="module")
def frames():
    import pandas as pd

    def frame(n, rate, seed):
        rows = make_rows(n, rate, seed)
        return pd.DataFrame({"message": [t for t, _ in rows], "kind": [label for _, label in rows]})

    return frame(140, 0.2, 1), frame(60, 0.35, 7)


@pytest.fixture(scope="module")
def fitted(frames, tiny_model_dir, tmp_path_factory):
    train, _ = frames
    cache = str(tmp_path_factory.mktemp("nb-cache"))
    est = longtail.LongtailClassifier(
        model=str(tiny_model_dir), encoder="frozen", max_length=32, epochs=5,
        text_column="message", label_column="kind", config={"long_documents.cache_dir": cache},
    )  # fmt: skip
    return est.fit(train)


def test_dataframe_to_pipeline_keeps_the_decisions(fitted, frames, tmp_path, monkeypatch):
    _, recent = frames
    est = fitted
    proba = est.predict_proba(recent)
    assert proba.shape == (60, 2) and est.classes_.tolist() == ["ham", "spam"]
    est.tune_decision(recent, objective="mcc")
    assert est.decision_["after"]["mcc"] >= est.decision_["before"]["mcc"] - 1e-9
    decided = est.predict(recent).tolist()
    assert est.decision_["decision"]["objective"] == "mcc"
    folder = est.save_pretrained(tmp_path / "model")
    card = (folder / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: longtail\npipeline_tag: text-classification")
    assert "decision data (in-sample" in card and "| spam |" in card
    again = longtail.LongtailClassifier.from_pretrained(folder, text_column="message")
    assert again.predict(recent).tolist() == decided
    assert again.classes_.tolist() == ["ham", "spam"]

    # a hub id, from a pre-filled hub cache, offline
    import huggingface_hub.constants as hub_constants

    cache = tmp_path / "hub"
    snapshot = cache / "models--someone--spam" / "snapshots" / ("a" * 40)
    shutil.copytree(folder, snapshot)
    (cache / "models--someone--spam" / "refs").mkdir()
    (cache / "models--someone--spam" / "refs" / "main").write_text("a" * 40)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    from_hub = longtail.Classifier.from_pretrained(
        "someone/spam", cache_dir=cache, log=lambda _l: None
    )
    assert from_hub.predict(list(recent["message"])) == decided
    with pytest.raises(LongtailError, match="cannot fetch the model 'someone/other' from the hub"):
        longtail.Classifier.from_pretrained("someone/other", cache_dir=cache)

    classify = longtail.pipeline(folder)
    answers = classify(list(recent["message"]))
    assert [a["label"] for a in answers] == decided
    one = classify(recent["message"][0])
    assert one["label"] == decided[0] and set(one["scores"]) == {"ham", "spam"}
    assert one["score"] == one["scores"][one["label"]]
    assert [a["label"] for a in longtail.pipeline(est)(list(recent["message"]))] == decided


def test_push_to_hub_sends_the_model_folder(fitted):
    calls = []

    class FakeApi:
        def create_repo(self, **kwargs):
            calls.append(("create_repo", kwargs))

        def upload_folder(self, **kwargs):
            folder = Path(kwargs["folder_path"])
            calls.append(("upload_folder", kwargs, sorted(p.name for p in folder.iterdir())))
            return type("Commit", (), {"commit_url": "https://huggingface.co/me/spam/commit/1"})()

    url = fitted.push_to_hub("me/spam", private=True, api=FakeApi())
    assert url == "https://huggingface.co/me/spam/commit/1"
    (_, create), (_, upload, files) = calls
    assert create == {"repo_id": "me/spam", "private": True, "exist_ok": True, "repo_type": "model"}
    assert upload["repo_id"] == "me/spam" and "*.bin" in upload["ignore_patterns"]
    assert {"README.md", "longtail.json", "head.safetensors", "encoder"} <= set(files)


def test_a_training_run_writes_its_model_card_and_label_maps(fitted):
    meta = fitted.classifier_.meta
    assert meta["id2label"] == {"0": "ham", "1": "spam"} and meta["label2id"] == {
        "ham": 0,
        "spam": 1,
    }


def test_pipeline_refuses_what_it_cannot_serve():
    with pytest.raises(LongtailError, match="expected a model directory, a hub id"):
        longtail.pipeline(42)
