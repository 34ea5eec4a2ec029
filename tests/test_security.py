"""Loading never unpickles; remote code runs only when the user asks for it."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest
import torch

SRC = Path(__file__).resolve().parents[1] / "src" / "longtail"


def test_no_pickle_in_the_source():
    pattern = re.compile(
        r"\bimport pickle\b|\bpickle\.load|\btorch\.load\(|\bjoblib\b|\bdill\b|weights_only\s*=\s*False"
    )
    offenders = [
        f"{path.relative_to(SRC)}:{n}"
        for path in SRC.rglob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, offenders


@pytest.fixture
def forbid_unpickling(monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("something tried to unpickle")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(torch, "load", refuse)


def test_model_dir_and_checkpoint_load_without_unpickling(
    tiny_model_dir, tmp_path, forbid_unpickling
):
    from transformers import AutoModel, AutoTokenizer

    from longtail.models import TextClassifier, save_model_dir
    from longtail.predictor import Classifier
    from longtail.training.checkpoint import load_checkpoint, save_checkpoint
    from longtail.training.optim import build_optimizer, linear_schedule

    model = TextClassifier(AutoModel.from_pretrained(tiny_model_dir), 2)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    meta = {"task": "binary", "labels": {"task": "binary", "names": ["ham", "spam"], "label_delimiter": None},
            "thresholds": [0.5], "temperature": 1.0, "max_length": 32}  # fmt: skip
    save_model_dir(tmp_path / "m", model, tokenizer, meta)
    assert Classifier.load(tmp_path / "m").predict_proba(["free prize"]).shape == (1, 2)

    optimizer = build_optimizer(model, lr=1e-3, head_lr=1e-3, layer_decay=1.0, weight_decay=0.0)
    scheduler = linear_schedule(optimizer, 10, 0.1)
    model(torch.tensor([[2, 5, 3]]), torch.ones(1, 3, dtype=torch.long)).sum().backward()
    optimizer.step()
    save_checkpoint(
        tmp_path / "ckpt",
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        state={"epoch": 1},
        best_weights=None,
    )
    state, _ = load_checkpoint(
        tmp_path / "ckpt", model=model, optimizer=optimizer, scheduler=scheduler
    )
    assert state["epoch"] == 1


def test_trust_remote_code_is_off_unless_asked(monkeypatch, tiny_model_dir):
    import transformers

    from longtail.models import load_encoder, load_tokenizer

    seen = []
    real_model, real_tok = (
        transformers.AutoModel.from_pretrained,
        transformers.AutoTokenizer.from_pretrained,
    )

    def spy(real):
        def wrapper(*args, **kwargs):
            seen.append(kwargs.get("trust_remote_code"))
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", spy(real_model))
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", spy(real_tok))
    load_encoder(str(tiny_model_dir))
    load_tokenizer(str(tiny_model_dir))
    assert seen == [False, False]
    load_encoder(str(tiny_model_dir), trust_remote_code=True)
    assert seen[-1] is True
