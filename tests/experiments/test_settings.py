"""A cell's recorded settings: what decides its result is in, paths and memory knobs are out."""

from __future__ import annotations

import shutil

import yaml

import longtail.fingerprint as fingerprint
from longtail.defaults import default_loss
from longtail.experiments import load_experiment
from longtail.experiments.settings import cell_settings, changed_settings, saved_settings
from longtail.fingerprint import NOT_AFFECTING_RESULTS, data_fingerprint


def _spec(tmp_path, train, **base_changes):
    base = {
        "data": {"train": str(train)},
        "model": {"name": "some/encoder", "max_length": 24},
        "train": {"epochs": 1},
    }
    for dotted, value in base_changes.items():
        section, key = dotted.split("__")
        base.setdefault(section, {})[key] = value
    path = tmp_path / "experiment.yaml"
    spec = {
        "base": base,
        "variants": {"vanilla": {}, "focal": {"loss": {"name": "focal", "gamma": 2.0}}},
        "seeds": [0, 1],
        "folds": 2,
        "output": str(tmp_path / "grid"),
    }
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return load_experiment(path)


def _train(path, rows=("a b c,x", "d e f,y")):
    path.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_data_enters_by_content_not_by_path(tmp_path):
    train = _train(tmp_path / "train.csv")
    spec = _spec(tmp_path, train)
    cell = spec.cells()[0]
    before = cell_settings(spec, cell)
    assert before["data.train"] == data_fingerprint(str(train)) and before["data.train"].startswith(
        "sha256:"
    )
    moved = shutil.copy(train, tmp_path / "elsewhere.csv")
    assert cell_settings(_spec(tmp_path, moved), cell) == before
    _train(train, rows=("a b c,x", "d e f,x"))  # one label edited in place
    assert changed_settings(before, cell_settings(_spec(tmp_path, train), cell)) == ["data.train"]


def test_what_changes_results_is_recorded_and_memory_knobs_are_not(tmp_path):
    train = _train(tmp_path / "train.csv")
    spec = _spec(tmp_path, train)
    vanilla, focal = spec.cells()[:2]
    settings = cell_settings(spec, focal)
    assert settings["loss.gamma"] == 2.0 and settings["train.seed"] == 0
    assert settings["grid.folds"] == 2 and settings["grid.fold_seed"] == 0
    assert not NOT_AFFECTING_RESULTS & settings.keys()
    changed = changed_settings(cell_settings(spec, vanilla), settings)  # vanilla: the default loss
    assert {"loss.gamma", "loss.name", "loss@multilabel.name"} <= set(changed)
    assert all(key.startswith("loss") for key in changed)
    assert changed_settings(settings, cell_settings(spec, spec.cells()[4 + 1])) == ["train.seed"]
    roomy = _spec(
        tmp_path,
        train,
        model__gradient_checkpointing=True,
        train__eval_batch_size=8,
        long_documents__chunk_batch_size=2,
    )
    assert cell_settings(roomy, focal) == settings
    slower = _spec(tmp_path, train, train__lr=1e-5)
    assert changed_settings(settings, cell_settings(slower, focal)) == ["train.lr"]


def test_a_default_saved_as_null_reads_as_the_default_of_its_time(tmp_path, monkeypatch):
    train = _train(tmp_path / "train.csv")
    specs = {task: _spec(tmp_path, train, data__task=task) for task in ("multiclass", "multilabel")}
    saved, current = {}, {}
    for task, spec in specs.items():
        vanilla = spec.cells()[0]  # leaves loss and the early-stopping metric to the defaults
        current[task] = cell_settings(spec, vanilla)
        saved[task] = {
            k: v
            for k, v in current[task].items()
            if not k.startswith(("loss.", "train.early_stopping", "decision.fbr"))
        } | {"loss": None, "train.early_stopping_metric": None, "decision.fbr": None}

    # saved as null before the multilabel default dropped pos_weight (2026-11-24): read as the
    # weighted BCE of that time, so today's default (plain BCE) retrains the multilabel cells only
    for task, retrains in [
        ("multiclass", []),
        ("multilabel", ["loss.max_weight", "loss.pos_weight"]),
    ]:
        assert changed_settings(saved_settings(saved[task]), current[task]) == retrains
    weighted = {"name": "bce", "pos_weight": "sqrt_ratio", "max_weight": 100.0}
    monkeypatch.setitem(
        fingerprint.TASK_DEFAULTS,
        "loss",
        lambda task: weighted if task == "multilabel" else default_loss(task),
    )
    for task, spec in specs.items():  # under the default of their time, nothing retrains
        now = cell_settings(spec, spec.cells()[0])
        assert changed_settings(saved_settings(saved[task]), now) == []

    # the fall-back rate is a default too: moving it retrains the cells that left it unset
    monkeypatch.setitem(fingerprint.TASK_DEFAULTS, "decision.fbr", lambda task: 0.5)
    multiclass = specs["multiclass"]
    now = cell_settings(multiclass, multiclass.cells()[0])
    assert changed_settings(saved_settings(saved["multiclass"]), now) == ["decision.fbr"]


def test_an_option_added_after_a_cell_was_saved_retrains_it_only_when_set_off_its_default(
    tmp_path,
):
    """A cell saved before ``decision.tuning_check`` existed ran what its default does now."""
    train = _train(tmp_path / "train.csv")
    cell = _spec(tmp_path, train).cells()[0]
    current = cell_settings(_spec(tmp_path, train), cell)
    older = {k: v for k, v in current.items() if k != "decision.tuning_check"}
    assert changed_settings(saved_settings(older), current) == []
    unchecked = cell_settings(_spec(tmp_path, train, decision__tuning_check="none"), cell)
    assert changed_settings(saved_settings(older), unchecked) == ["decision.tuning_check"]
    # a key no config has (a removed option, or a typo) is still a change either way
    assert changed_settings(older | {"train.removed": 1}, current) == ["train.removed"]
    assert changed_settings(older, current | {"grid.new": 1}) == ["grid.new"]


def test_an_option_whose_default_moved_since_it_was_added_retrains_the_older_cells(tmp_path):
    """Cells saved before ``decision.tuning_confidence`` existed kept tuned weights on any gain
    (``None``); today's default is 0.9, so they retrain, and a file asking ``null`` keeps them."""
    train = _train(tmp_path / "train.csv")
    cell = _spec(tmp_path, train).cells()[0]
    current = cell_settings(_spec(tmp_path, train), cell)
    assert current["decision.tuning_confidence"] == 0.9
    older = {k: v for k, v in current.items() if k != "decision.tuning_confidence"}
    assert changed_settings(saved_settings(older), current) == ["decision.tuning_confidence"]
    any_gain = cell_settings(_spec(tmp_path, train, decision__tuning_confidence=None), cell)
    assert changed_settings(saved_settings(older), any_gain) == []


def test_keys_read_only_while_tuning_do_not_retrain_an_argmax_cell(tmp_path):
    train = _train(tmp_path / "train.csv")
    cell = _spec(tmp_path, train).cells()[0]
    argmax = cell_settings(_spec(tmp_path, train, decision__tune_thresholds=False), cell)
    older = {k: v for k, v in argmax.items() if k != "decision.tuning_confidence"}
    assert changed_settings(saved_settings(older), argmax) == []  # a 0.9 that is never read
    moved = cell_settings(
        _spec(tmp_path, train, decision__tune_thresholds=False, decision__fbr=0.5), cell
    )
    assert changed_settings(argmax, moved) == []
    tuned = cell_settings(_spec(tmp_path, train), cell)
    assert "decision.tune_thresholds" in changed_settings(argmax, tuned)
    assert "decision.tuning_confidence" in changed_settings(saved_settings(older), tuned)
