"""LongtailClassifier: longtail's training behind scikit-learn's interface, on in-memory data
that is never written to a file; clone, cross_val_score, GridSearchCV and Pipeline work."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "cli"))
from cli_helpers import make_rows  # noqa: E402

from longtail import LongtailClassifier  # noqa: E402
from longtail.errors import LongtailError  # noqa: E402


@pytest.fixture(scope="module")
def data():
    rows = make_rows(120, 0.25, seed=1)
    return [t for t, _ in rows], [1 if label == "spam" else 0 for _, label in rows]


@pytest.fixture
def make(tiny_model_dir, tmp_path_factory):
    cache = str(tmp_path_factory.getbasetemp() / "estimator-cache")

    def build(**params):
        defaults = {"model": str(tiny_model_dir), "encoder": "frozen", "max_length": 32,
                    "epochs": 4, "config": {"long_documents.cache_dir": cache}}  # fmt: skip
        return LongtailClassifier(**{**defaults, **params})

    return build


@pytest.fixture(scope="module")
def no_files():
    """Reading or writing a data file fails: the estimator's data must stay in memory."""
    import longtail.data.readers as readers
    import longtail.datasets as datasets

    def refuse(*args, **kwargs):
        raise AssertionError("a data file was read or written")

    patch = pytest.MonkeyPatch()
    patch.setattr(readers, "_read_records", refuse)
    patch.setattr(datasets, "write_table", refuse)
    yield
    patch.undo()


def test_fit_predict_keeps_the_label_values_and_scores_macro_f1(make, data, no_files):
    from sklearn.metrics import f1_score

    X, y = data
    est = make().fit(X, y)
    assert est.classes_.tolist() == [0, 1] and est.task_ == "binary"
    predicted = est.predict(X)
    assert predicted.dtype.kind == "i" and set(predicted.tolist()) <= {0, 1}
    proba = est.predict_proba(X[:7])
    assert proba.shape == (7, 2) and np.allclose(proba.sum(1), 1.0, atol=1e-5)
    assert est.decision_function(X[:7]).shape == (7,)
    assert est.score(X, y) == pytest.approx(f1_score(y, predicted, average="macro"))
    assert est.report_["split"].startswith("validation")


def test_validation_data_is_used_when_given(make, data, no_files):
    X, y = data
    est = make().fit(X[:90], y[:90], X_val=X[90:], y_val=y[90:])
    assert est.report_["data"]["validation_rows"] == 30
    assert est.report_["data"]["train_rows"] == 90


def test_clone_cross_validation_grid_search_and_pipeline(make, data):
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, y = data
    est = make(loss={"name": "focal", "gamma": 2.0})
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert copy.set_params(epochs=2).epochs == 2 and est.epochs == 4
    scores = cross_val_score(est, X, y, cv=2)
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))
    search = GridSearchCV(make(), {"epochs": [1, 3]}, cv=2).fit(X, y)
    assert search.best_params_["epochs"] in (1, 3) and hasattr(search.best_estimator_, "classes_")
    lower = FunctionTransformer(lambda texts: [t.lower() for t in texts])
    pipeline = make_pipeline(lower, make()).fit([t.upper() for t in X], y)
    assert pipeline.predict([X[0].upper()]).shape == (1,)


def test_tables_in_and_multilabel_out(make, data):
    import datasets
    import pandas as pd

    X, y = data
    frame = pd.DataFrame({"message": X, "kind": ["spam" if v else "ham" for v in y]})
    est = make(text_column="message", label_column="kind").fit(frame)
    assert est.classes_.tolist() == ["ham", "spam"]
    assert est.predict(frame.head(3)).tolist() == est.predict(frame["message"].head(3)).tolist()
    dataset = datasets.Dataset.from_pandas(frame)
    assert make(text_column="message", label_column="kind").fit(dataset).task_ == "binary"

    tags = [["money"] + (["spam"] if v else []) if i % 3 else ["spam"] * v for i, v in enumerate(y)]
    multi = make().fit(X, tags)
    assert multi.task_ == "multilabel" and multi.classes_.tolist() == ["money", "spam"]
    indicator = multi.predict(X[:4])
    assert indicator.shape == (4, 2) and set(np.unique(indicator)) <= {0, 1}
    assert 0.0 <= multi.score(X, tags) <= 1.0


def test_save_writes_a_model_directory_the_cli_loads(make, data, tmp_path):
    from longtail.predictor import Classifier

    X, y = data
    est = make().fit(X, y)
    est.save(tmp_path / "saved")
    loaded = Classifier.load(tmp_path / "saved", log=lambda line: None)
    assert loaded.predict(X[:6]) == [str(v) for v in est.predict(X[:6]).tolist()]


def test_bad_input_is_one_line(make, data):
    from sklearn.exceptions import NotFittedError

    X, y = data
    with pytest.raises(LongtailError, match="X: 120 texts but 119 labels; give one label per text"):
        make().fit(X, y[:-1])
    with pytest.raises(
        LongtailError, match=r"memory:X-[0-9a-f]+: 1 row\(s\) have no value .*rows 3"
    ):
        make().fit(X, [*y[:3], None, *y[4:]])
    with pytest.raises(LongtailError, match="X is one string"):
        make().fit("free prize", [1])
    with pytest.raises(NotFittedError):
        make().predict(X)
