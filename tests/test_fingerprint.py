"""Result settings: the config without paths and memory knobs, data files by their content."""

from __future__ import annotations

import shutil

import longtail.fingerprint as fingerprint
from longtail.config import build_config
from longtail.fingerprint import NOT_AFFECTING_RESULTS, data_fingerprint, result_settings


def _config(tmp_path, train, test=None, **sections):
    data = {"train": str(train)} | ({"test": str(test)} if test else {})
    return build_config(
        {"data": data, "model": {"name": "some/encoder"}, "output": str(tmp_path / "run")}
        | sections
    )


def test_a_name_not_on_disk_is_a_hub_dataset_and_enters_as_written(tmp_path):
    assert data_fingerprint("stanfordnlp/imdb") == "stanfordnlp/imdb"
    folder = tmp_path / "arrow"
    folder.mkdir()
    (folder / "part-0.arrow").write_bytes(b"one")
    first = data_fingerprint(str(folder))
    (folder / "part-0.arrow").write_bytes(b"two")
    assert first.startswith("sha256:") and data_fingerprint(str(folder)) != first


def test_data_keys_left_out_do_not_count_and_paths_never_do(tmp_path):
    train = tmp_path / "train.csv"
    train.write_text("text,label\na,x\nb,y\n", encoding="utf-8")
    test = shutil.copy(train, tmp_path / "test.csv")
    full = result_settings(_config(tmp_path, train, test))
    assert full["data.train"] == full["data.test"] == data_fingerprint(str(train))
    assert not NOT_AFFECTING_RESULTS & full.keys()

    training_only = result_settings(_config(tmp_path, train, test), data_keys=("data.train",))
    assert "data.test" not in training_only and training_only["data.train"] == full["data.train"]
    (tmp_path / "test.csv").write_text("text,label\na,y\nb,y\n", encoding="utf-8")
    assert result_settings(_config(tmp_path, train, test), data_keys=("data.train",)) == (
        training_only
    )
    elsewhere = _config(tmp_path / "moved", shutil.copy(train, tmp_path / "t2.csv"), test)
    assert result_settings(elsewhere, data_keys=("data.train",)) == training_only


def test_a_null_loss_enters_as_the_default_it_resolves_to(tmp_path, monkeypatch):
    default = result_settings(_config(tmp_path, "t.csv"), task="multilabel")
    spelled_out = result_settings(
        _config(tmp_path, "t.csv", loss={"name": "bce"}), task="multilabel"
    )
    assert default == spelled_out and default["train.early_stopping_metric"] == "pr_auc_macro"
    assert default["decision.fbr"] == 0.3
    fbr_set = result_settings(_config(tmp_path, "t.csv", decision={"fbr": 0.3}), task="multilabel")
    assert fbr_set == default
    auto = result_settings(_config(tmp_path, "t.csv"))  # task unknown: every task's default
    assert auto["loss@multilabel.name"] == "bce" and "loss@multilabel.pos_weight" not in auto
    assert auto["loss@binary.weights"] == "effective_number"
    assert (auto["decision.fbr@binary"], auto["decision.fbr@multiclass"]) == (0.0, 0.2)
    assert "decision.fbr" not in auto

    weighted = {"name": "bce", "pos_weight": "sqrt_ratio", "max_weight": 100.0}
    monkeypatch.setitem(fingerprint.TASK_DEFAULTS, "loss", lambda task: weighted)
    after = result_settings(_config(tmp_path, "t.csv"), task="multilabel")
    assert after["loss.pos_weight"] == "sqrt_ratio" and after != default  # a grid retrains
