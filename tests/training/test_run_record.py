"""What a finished run records: model metadata, report header and log lines."""

from __future__ import annotations

import json

import numpy as np

from longtail.config import build_config
from longtail.data import LabelSpace
from longtail.decision.fit import FittedDecision
from longtail.registry import spec_name
from longtail.training.loop import TrainingResult
from longtail.training.phases import PhasesResult
from longtail.training.run_record import describe_task, model_meta, report_header


def _record(task: str = "multiclass", scores: tuple = (0.4, 0.5)) -> tuple[dict, dict, dict]:
    names = ["neg", "pos"] if task == "binary" else ["a", "b", "c"]
    space = LabelSpace(task, names)
    config = build_config({"data": {"train": "train.csv"}, "loss": {"name": "focal", "gamma": 2.0}})
    trained = PhasesResult(
        final=TrainingResult(best_epoch=2, best_score=0.5),
        model_priors=None if task != "multiclass" else np.array([0.5, 0.25, 0.25]),
        history=[
            {"epoch": i, "step": 20 * i, "val_score": s, "phase": "fine_tune"}
            for i, s in enumerate(scores, start=1)
        ],
        phases=[
            {"name": "probe", "seconds": 1.25, "steps": 3, "stop": "epochs"},
            {
                "name": "fine_tune",
                "seconds": 2.5,
                "steps": 20 * len(scores),
                "stopped_early": True,
                "stop": "early_stopping",
            },
        ],  # fmt: skip
    )
    decision = FittedDecision(1.5, np.full(len(names), 0.3), fallback=[], untuned=["a"])
    counts = np.arange(10, 10 + len(names))
    meta = model_meta(
        config, space, counts, decision, trained, model_name="some/encoder", max_length=128,
        long_documents=None, early_stopping_metric="f1_macro",
    )  # fmt: skip
    header = report_header(
        meta, config, config.loss, train_rows=40, validation_rows=9,
        validation_metrics={"f1_macro": 0.5},
    )  # fmt: skip
    return meta, header, {"names": names, "counts": counts}


def test_model_meta_keeps_the_decision_the_counts_by_name_and_the_summed_phase_time():
    meta, _, given = _record()
    assert meta["thresholds"] == [0.3, 0.3, 0.3] and meta["temperature"] == 1.5
    assert meta["threshold_untuned"] == ["a"]
    assert meta["training"]["train_class_counts"] == {"a": 10, "b": 11, "c": 12}
    assert meta["training"]["seconds"] == 3.8  # 1.25 + 2.5, rounded to one decimal
    assert meta["training"]["best_epoch"] == 2 and meta["base_model"] == "some/encoder"
    assert meta["labels"]["names"] == given["names"]
    assert json.loads(json.dumps(meta)) == meta  # longtail.json is plain JSON


def test_the_steps_and_why_training_stopped_are_recorded_and_reported():
    meta, header, _ = _record(scores=(0.4, 0.5, 0.45))
    training = meta["training"]
    assert (training["steps"], training["stop"]) == (63, "early_stopping")  # 3 + 60 steps
    assert training["stopped"] == (
        "3 epochs, 60 steps: early stopping (no better validation score in 3 epochs, after at "
        "least 500 steps); weights of epoch 2 kept (validation score 0.5000)"
    )
    assert header["model"]["stopped"] == training["stopped"]  # the report's Model section


def test_report_header_leaves_the_config_to_the_model_directory_without_touching_meta():
    meta, header, given = _record()
    assert header["training"]["config"] is None
    assert "config" not in meta["training"]  # the header copied, it did not edit meta
    assert meta["config"]["loss"] == {"name": "focal", "gamma": 2.0}  # the full config stays
    assert header["labels"] == given["names"]
    assert header["model"]["loss"] == {"name": "focal", "gamma": 2.0}
    assert header["data"] == {
        "train": "train.csv",
        "train_rows": 40,
        "validation_rows": 9,
        "train_class_counts": {"a": 10, "b": 11, "c": 12},
        "model_priors": {"a": 0.5, "b": 0.25, "c": 0.25},
    }
    assert header["validation_metrics"] == {"f1_macro": 0.5}


def test_a_run_still_learning_at_its_last_epoch_is_recorded_for_the_report():
    meta, header, _ = _record(scores=(0.4, 0.5))
    rise = {"metric": "f1_macro", "phase": "fine_tune", "epochs": 2, "best_before": 0.4,
            "last": 0.5}  # fmt: skip
    assert meta["training"]["still_improving"] == rise == header["training"]["still_improving"]
    meta, header, _ = _record(scores=(0.4, 0.5, 0.45))
    assert meta["training"]["still_improving"] is None is header["training"]["still_improving"]


def test_describe_task_names_the_largest_classes_first_and_counts_the_rest():
    names = [f"class{i}" for i in range(10)]
    counts = np.array([5, 50, 1, 2, 3, 4, 6, 7, 8, 9])
    line = describe_task(LabelSpace("multiclass", names), counts, 95, 10, "stratified 10 %")
    assert line.startswith("task: multiclass (10 classes); train 95 rows [class1 50, class9 9,")
    assert "class2 1" not in line and "… 2 more" in line
    assert line.endswith("validation 10 rows (stratified 10 %)")


def test_describe_task_names_the_binary_positive_class():
    line = describe_task(LabelSpace("binary", ["ham", "spam"]), np.array([90, 10]), 100, 0, "none")
    assert "positive class 'spam'" in line and "more" not in line


def test_spec_name_shows_parameters_and_objects_by_class():
    class MyLoss:
        pass

    assert spec_name("oversample") == "oversample"
    assert spec_name({"name": "focal", "gamma": 2.0}) == "focal(gamma=2.0)"
    assert spec_name({"name": "ce"}) == "ce"
    assert spec_name(MyLoss()) == "MyLoss"
