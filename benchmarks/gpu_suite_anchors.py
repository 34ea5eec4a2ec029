"""The two anchors of ``benchmarks/gpu_suite.py``, on the rows its runs train and test on.

- TF-IDF (word 1-2 grams, sublinear tf) + logistic regression with ``class_weight="balanced"``
  (``max_iter`` 5000);
- the same logistic regression on the encoder's frozen mean-pooled embeddings (longtail's own
  tokeniser, truncation and pooling; bf16 on a GPU).

One-vs-rest for multilabel (0.5 thresholds). Both are scored by longtail's ``evaluate_predictions``,
as the runs' reports are: macro averages over the classes present in truth or prediction, and
multilabel MCC as the mean of the per-label MCCs.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np


def _labels(setup: dict[str, Any]) -> tuple[Any, dict[str, np.ndarray]]:
    """The label space of the training split and every split's encoded labels."""
    from longtail.data import LabelSpace

    task = None if setup["task"] == "auto" else setup["task"]
    space = LabelSpace.fit(setup["tables"]["train"].labels, task=task)
    return space, {k: space.encode(t.labels) for k, t in setup["tables"].items()}


def _lr_scores(x_train: Any, x_test: Any, setup: dict[str, Any]) -> dict[str, float]:
    """Balanced logistic regression (one-vs-rest for multilabel), scored as longtail scores."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    from longtail.evaluation.metrics import evaluate_predictions

    space, y = _labels(setup)
    model = LogisticRegression(class_weight="balanced", max_iter=5000)
    if space.task == "multilabel":
        jobs = -1 if x_train.shape[0] >= 1000 else None  # worker start-up outlasts small fits
        model = OneVsRestClassifier(model, n_jobs=jobs).fit(x_train, y["train"])
        probs, predicted = model.predict_proba(x_test), model.predict(x_test)
    else:
        model.fit(x_train, y["train"])
        probs = np.zeros((x_test.shape[0], space.num_classes))
        probs[:, model.classes_] = model.predict_proba(x_test)
        predicted = model.predict(x_test)
    metrics = evaluate_predictions(space.task, y["test"], probs, np.asarray(predicted), space.names)
    return {"f1_macro": metrics["f1_macro"], "mcc": metrics["mcc"]}


def tfidf_anchor(setup: dict[str, Any]) -> dict[str, float]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    started = time.perf_counter()
    tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    x_train = tfidf.fit_transform(setup["tables"]["train"].texts)
    scores = _lr_scores(x_train, tfidf.transform(setup["tables"]["test"].texts), setup)
    return scores | {"seconds": round(time.perf_counter() - started, 1)}


def embed(
    model: str, splits: list[list[str]], max_length: int, batch: int = 256
) -> list[np.ndarray]:
    """Mean-pooled last hidden states of the frozen encoder (longtail's tokeniser and pooling)."""
    import torch

    from longtail.models import load_encoder, load_tokenizer
    from longtail.models.classifier import pool_tokens
    from longtail.text.batching import pad_batch, tokenize

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer, encoder = load_tokenizer(model), load_encoder(model).to(device).eval()
    bf16 = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    out = []
    for texts in splits:
        ids = tokenize(tokenizer, texts, max_length)
        order = np.argsort([len(row) for row in ids], kind="stable")  # little padding
        vectors = np.zeros((len(texts), encoder.config.hidden_size), dtype=np.float32)
        with torch.inference_mode(), bf16:
            for start in range(0, len(order), batch):
                rows = order[start : start + batch]
                input_ids, mask = pad_batch([ids[i] for i in rows], tokenizer.pad_token_id)
                input_ids, mask = input_ids.to(device), mask.to(device)
                hidden = encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
                vectors[rows] = pool_tokens(hidden.float(), mask, "mean").cpu().numpy()
        out.append(vectors)
    return out


def embedding_anchor(model: str, setup: dict[str, Any], max_length: int) -> dict[str, float]:
    started = time.perf_counter()
    tables = setup["tables"]
    x_train, x_test = embed(model, [tables["train"].texts, tables["test"].texts], max_length)
    scores = _lr_scores(x_train, x_test, setup)
    return scores | {"seconds": round(time.perf_counter() - started, 1)}
