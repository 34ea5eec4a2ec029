"""The lexical branch: TF-IDF + balanced logistic regression, as plain arrays, fused with a model.

The same model as the anchor (:mod:`longtail.evaluation.anchor`): word 1-2 grams seen in at least
two training documents, sublinear term frequency, inverse document frequency, L2-normalised
rows, and logistic regression with ``class_weight="balanced"`` (one-vs-rest per label for
multilabel; Joachims 1998, Wang & Manning 2012). scikit-learn fits it; what is kept is arrays —
the vocabulary (JSON), the idf and the linear weights (safetensors) — so a model directory
carrying the branch loads without unpickling anything, and :meth:`TfidfFeatures.transform`
recomputes scikit-learn's features from them (tested equal).

Fusion (:func:`fuse_logits`) averages the branch's log-probabilities with the model's,
``(1 - w) · log p_model + w · log p_branch`` (a weighted geometric mean of the two
distributions; per label log-odds for multilabel), the late fusion of a bag-of-words model
with a neural one that Wang & Manning (2012) and Joulin et al. (2017) show is hard to beat on
topic classification. ``w`` is chosen on validation (:mod:`longtail.training.lexical`); ``w =
0`` is the model alone, exactly: a per-row constant moves no softmax, temperature, threshold or
logit adjustment.

References:
    Joachims (1998). Text Categorization with Support Vector Machines. ECML.
    Wang, Manning (2012). Baselines and Bigrams: Simple, Good Sentiment and Topic
    Classification. ACL.
    Joulin, Grave, Bojanowski, Mikolov (2017). Bag of Tricks for Efficient Text Classification.
    EACL. arXiv:1607.01759.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from longtail.errors import LongtailError
from longtail.io_utils import atomic_write_bytes, atomic_write_json

#: The branch's files in a model directory.
LEXICAL_WEIGHTS = "lexical.safetensors"
LEXICAL_META = "lexical.json"
#: The most n-grams kept (the most frequent).
MAX_FEATURES = 200_000
#: The most weights, classes × n-grams (80 MB as float32): 485 labels keep 41,000 n-grams.
MAX_WEIGHTS = 20_000_000
#: The logit of a class or label the training rows never show (or always show, negated): its
#: probability is 0 (1), and fused with any ``w > 0`` it stays so.
NEVER = -1.0e4
#: scikit-learn's default word pattern, kept explicit: the saved vocabulary depends on it.
TOKEN_PATTERN = r"(?u)\b\w\w+\b"


@dataclass
class TfidfFeatures:
    """TF-IDF rows from a fixed vocabulary: counts of word 1-2 grams (lowercased), ``1 + log``
    of each count, times the n-gram's idf, each row scaled to unit L2 norm."""

    vocabulary: list[str]
    idf: np.ndarray

    @classmethod
    def fit(cls, texts: Sequence[str], max_features: int = MAX_FEATURES) -> tuple[Any, Any] | None:
        """``(features, X)``: the vocabulary and idf of ``texts`` and their TF-IDF rows, or
        ``None`` where the texts hold no word of two or more characters. N-grams in fewer than two
        documents are dropped, unless that leaves none."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        for min_df in (2, 1):
            vectorizer = TfidfVectorizer(
                ngram_range=(1, 2), sublinear_tf=True, min_df=min_df,
                max_features=max_features, token_pattern=TOKEN_PATTERN, dtype=np.float64,
            )  # fmt: skip
            try:
                x = vectorizer.fit_transform(texts)
            except ValueError:  # an empty vocabulary (emoji, one-letter tokens)
                continue
            order = sorted(vectorizer.vocabulary_.items(), key=lambda item: item[1])
            features = cls([term for term, _ in order], vectorizer.idf_.astype(np.float64))
            return features, x
        return None

    def transform(self, texts: Sequence[str]) -> Any:
        """The ``(n, vocabulary)`` CSR matrix of ``texts``."""
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.preprocessing import normalize

        counts = CountVectorizer(
            ngram_range=(1, 2), token_pattern=TOKEN_PATTERN, dtype=np.float64,
            vocabulary={term: i for i, term in enumerate(self.vocabulary)},
        ).transform(texts)  # fmt: skip
        counts.data = np.log(counts.data) + 1.0
        counts.data *= self.idf[counts.indices]
        return normalize(counts, norm="l2", copy=False)


@dataclass
class LexicalModel:
    """The fitted branch: ``logits = tfidf(texts) @ weight.T + bias``, one column per logit
    of the model it is fused with (two for binary: ``[0, z]``)."""

    task: str
    features: TfidfFeatures
    weight: np.ndarray  # (logits, vocabulary) float32
    bias: np.ndarray  # (logits,) float32
    #: how many training rows it was fitted on (a seeded sample beyond the anchor's cap)
    train_rows: int = 0

    @classmethod
    def fit(
        cls, task: str, num_labels: int, texts: Sequence[str], y: np.ndarray
    ) -> LexicalModel | None:
        """Fit on ``texts`` and their labels (class indices, or ``(n, C)`` multi-hot); ``None``
        where the texts hold no word to count."""
        max_features = min(MAX_FEATURES, max(1_000, MAX_WEIGHTS // max(num_labels, 2)))
        found = TfidfFeatures.fit(texts, max_features)
        if found is None:
            return None
        features, x = found
        weight = np.zeros((num_labels, len(features.vocabulary)), dtype=np.float32)
        bias = np.full(num_labels, NEVER, dtype=np.float32)
        y = np.asarray(y)
        if task == "multilabel":
            for label in range(num_labels):
                positives = int(y[:, label].sum())
                if 0 < positives < len(y):
                    fitted = _logistic_regression().fit(x, y[:, label])
                    weight[label], bias[label] = fitted.coef_[0], fitted.intercept_[0]
                elif positives == len(y):
                    bias[label] = -NEVER
        else:
            seen = np.unique(y)
            if len(seen) == 1:
                bias[int(seen[0])] = 0.0
            else:
                fitted = _logistic_regression().fit(x, y)
                classes = fitted.classes_.astype(int)
                if len(classes) == 2:  # one decision function: z for the second class, 0 else
                    weight[classes[1]], bias[classes[1]] = fitted.coef_[0], fitted.intercept_[0]
                    bias[classes[0]] = 0.0
                else:
                    weight[classes], bias[classes] = fitted.coef_, fitted.intercept_
        return cls(task, features, weight, bias, train_rows=len(texts))

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, logits)`` float32 logits of ``texts``."""
        texts = gather_texts(texts)
        if not texts:
            return np.zeros((0, len(self.bias)), dtype=np.float32)
        x = self.features.transform(texts).astype(np.float32)  # float32 like the weights: no copy
        return np.asarray(x @ self.weight.T + self.bias, dtype=np.float32)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, C)`` probabilities: softmax over classes, or a sigmoid per label."""
        from scipy.special import expit

        logits = self.logits(texts).astype(np.float64)
        if self.task == "multilabel":
            return expit(logits)
        return np.exp(_log_softmax(logits))

    def save(self, directory: str | Path) -> list[str]:
        """Write :data:`LEXICAL_WEIGHTS` and :data:`LEXICAL_META` into ``directory``; return
        their names."""
        from safetensors.numpy import save

        directory = Path(directory)
        tensors = {"weight": self.weight, "bias": self.bias, "idf": self.features.idf}
        atomic_write_bytes(directory / LEXICAL_WEIGHTS, save(tensors))
        atomic_write_json(
            directory / LEXICAL_META,
            {"task": self.task, "train_rows": self.train_rows,
             "vocabulary": self.features.vocabulary},
        )  # fmt: skip
        return [LEXICAL_WEIGHTS, LEXICAL_META]

    @classmethod
    def load(cls, directory: str | Path) -> LexicalModel:
        """The branch saved in ``directory`` (safetensors and JSON: nothing is unpickled)."""
        from safetensors.numpy import load_file

        directory = Path(directory)
        try:
            tensors = load_file(str(directory / LEXICAL_WEIGHTS))
            meta = json.loads((directory / LEXICAL_META).read_text(encoding="utf-8"))
        except Exception as error:  # noqa: BLE001 - OSError, JSON or safetensors' own error
            raise LongtailError(
                f"{directory}: the lexical branch cannot be read ({error}); "
                "copy the model directory again"
            ) from None
        features = TfidfFeatures(list(meta["vocabulary"]), tensors["idf"].astype(np.float64))
        if tensors["weight"].shape != (len(tensors["bias"]), len(features.vocabulary)):
            raise LongtailError(
                f"{directory / LEXICAL_WEIGHTS}: weights of shape {tensors['weight'].shape} do "
                f"not match {len(features.vocabulary)} n-grams; copy the model directory again"
            )
        return cls(meta["task"], features, tensors["weight"], tensors["bias"],
                   train_rows=int(meta.get("train_rows", 0)))  # fmt: skip


def fused_weight(meta: dict[str, Any]) -> float:
    """The weight a model directory's ``longtail.json`` fuses its branch at; 0 without one."""
    return float((meta.get("lexical") or {}).get("weight") or 0.0)


def fuse_logits(
    task: str, model_logits: np.ndarray, lexical_logits: np.ndarray, weight: float
) -> np.ndarray:
    """``(1 - weight) · model + weight · branch``, in log-probabilities (single-label: each
    side's log-softmax) or per-label log-odds (multilabel); float32 like the model's logits."""
    model = np.asarray(model_logits, dtype=np.float64)
    branch = np.asarray(lexical_logits, dtype=np.float64)
    if model.shape != branch.shape:
        raise ValueError(f"model logits {model.shape} and branch logits {branch.shape} differ")
    if task != "multilabel":
        model, branch = _log_softmax(model), _log_softmax(branch)
    return ((1.0 - weight) * model + weight * branch).astype(np.float32)


def fused_priors(model_priors: np.ndarray, weight: float) -> np.ndarray:
    """The class priors a fused single-label model's probabilities reflect, for a prior shift
    (``decision.target_priors``): ``pi_c^(1 - weight)``, normalised.

    The branch is a logistic regression with balanced class weights, so its probabilities
    reflect equal priors (Elkan 2001, the argument of :mod:`longtail.decision.model_priors`);
    averaging log-probabilities at ``weight`` averages the log-priors the same way:
    ``(1 - w) · log pi_c + w · log(1 / k)``. Without this a shift would start from the model's
    priors alone and over-correct by the branch's share."""
    log_prior = (1.0 - weight) * np.log(
        np.maximum(np.asarray(model_priors, dtype=np.float64), 1e-12)
    )
    prior = np.exp(log_prior - log_prior.max())
    return prior / prior.sum()


def gather_texts(texts: Sequence[str], rows: np.ndarray | None = None) -> list[str]:
    """``texts`` (its ``rows``, when given) as a list; texts left on disk under ``--arrow``
    (:class:`longtail.data.arrow.ArrowTexts`) are read in one pass, not row by row."""
    if hasattr(texts, "take"):
        return texts.take(rows)
    return list(texts) if rows is None else [texts[i] for i in rows]


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _logistic_regression() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000, class_weight="balanced")
