"""The paper-reproduction script's own logic: label-covering samples and the Figure-3 export."""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from longtail.data import TextTable
from longtail.errors import LongtailError
from longtail.experiments import load_experiment
from longtail.experiments.redecide import plan_decisions

_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "reproduce_papers.py"
_spec = importlib.util.spec_from_file_location("reproduce_papers", _SCRIPT)
assert _spec and _spec.loader
reproduce = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reproduce)


def _long_tailed_multilabel(rows: int, rare: int) -> TextTable:
    labels = [["common"] for _ in range(rows)]
    for i in range(rare):  # each rare topic sits on exactly one document
        labels[7 * i + 3] = ["common", f"rare{i}"]
    return TextTable(
        texts=[f"doc {i}" for i in range(rows)],
        labels=labels,
        row_numbers=list(range(1, rows + 1)),
        source="synthetic.jsonl",
    )


def test_multilabel_sample_keeps_every_label_even_the_singletons():
    table = _long_tailed_multilabel(rows=500, rare=12)
    for seed in range(5):
        sample = reproduce._sample_multilabel(table, 30, seed)
        assert len(sample.texts) == 30
        assert len(set(sample.texts)) == 30  # no row drawn twice
        present = {label for labels in sample.labels for label in labels}
        assert present == {"common", *(f"rare{i}" for i in range(12))}


def test_multilabel_sample_of_zero_or_more_rows_is_the_whole_table():
    table = _long_tailed_multilabel(rows=50, rare=2)
    assert reproduce._sample_multilabel(table, 0) is table
    assert reproduce._sample_multilabel(table, 50) is table


def test_f1_vs_frequency_figure_is_written_from_a_comparison(tmp_path):
    comparison = tmp_path / "comparison.json"
    comparison.write_text(
        json.dumps(
            {
                "labels": ["big", "small", "absent"],
                "class_counts": {"big": 900, "small": 9, "absent": 0},
                "variants": [
                    {"name": "vanilla", "per_class_f1": {"big": {"mean": 0.9}, "small": None}},
                    {
                        "name": "remedy",
                        "per_class_f1": {"big": {"mean": 0.9}, "small": {"mean": 0.4}},
                    },
                ],
            }
        ),
        encoding="utf-8",
    )
    png = reproduce.write_f1_vs_frequency(comparison, tmp_path / "figure.png")
    assert png is not None
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    comparison.write_text(json.dumps({"labels": [], "variants": []}), encoding="utf-8")
    assert reproduce.write_f1_vs_frequency(comparison, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def _args(**overrides):
    defaults = {"max_length": 128, "epochs": 2, "batch_size": 32, "model": None, "seeds": 2}
    return argparse.Namespace(**(defaults | overrides))


def _grid(setup: str, tmp_path: Path, variants: list[str] | None) -> dict:
    return reproduce.experiment(
        setup, _args(variants=variants), tmp_path, tmp_path / "train.jsonl", tmp_path / "t.jsonl"
    )


def test_opt_in_variant_runs_only_when_named(tmp_path):
    default = _grid("r8", tmp_path, None)
    assert "oversampling_tuned" not in default["variants"]
    chosen = _grid("gutenberg", tmp_path, ["oversampling_tuned", "vanilla"])
    assert list(chosen["variants"]) == ["vanilla", "oversampling_tuned"]
    assert chosen["baseline"] == "vanilla"
    assert chosen["variants"]["oversampling_tuned"]["sampler"] == "oversample"
    assert "decision" not in chosen["variants"]["oversampling_tuned"]  # the default's decision
    combined = _grid("20ng_long_tailed", tmp_path, ["vanilla", "prefinetune_da_default"])
    on_top = combined["variants"]["prefinetune_da_default"]
    # the default's loss and decision, plus pre-FT DA
    assert on_top == {"strategy": "prefinetune_da"}
    assert "class_balanced" not in default["variants"]
    balanced = _grid("r8", tmp_path, ["vanilla", "class_balanced"])["variants"]["class_balanced"]
    # the balance without oversampling's longer epochs, decided by argmax like vanilla
    assert balanced["sampler"] == "class_balanced"
    assert balanced["decision"] == default["variants"]["vanilla"]["decision"]
    tuned = _grid("r8", tmp_path, ["class_balanced_tuned"])["variants"]["class_balanced_tuned"]
    assert tuned == {k: v for k, v in balanced.items() if k != "decision"}
    square_root = _grid("r52", tmp_path, ["sqrt_sampling_tuned", "sqrt_sampling"])["variants"]
    assert square_root["sqrt_sampling"]["sampler"] == "sqrt"
    assert square_root["sqrt_sampling"]["decision"] == default["variants"]["vanilla"]["decision"]
    assert square_root["sqrt_sampling_tuned"] == {"loss": {"name": "ce"}, "sampler": "sqrt"}


def test_unknown_or_inapplicable_variant_is_a_one_line_error(tmp_path):
    with pytest.raises(LongtailError, match="vanila is not a variant of r8; choose from vanilla"):
        _grid("r8", tmp_path, ["vanila"])
    with pytest.raises(LongtailError, match="lp_ft is not a variant of gutenberg"):
        _grid("gutenberg", tmp_path, ["lp_ft"])
    with pytest.raises(LongtailError, match="prefinetune_da_default is not a variant of gutenberg"):
        _grid("gutenberg", tmp_path, ["prefinetune_da_default"])
    with pytest.raises(LongtailError, match="oversampling_tuned is not a variant"):
        _grid("reuters_multilabel", tmp_path, ["oversampling_tuned"])


def test_a_setup_without_a_test_split_is_cross_validated_and_the_file_loads(tmp_path):
    (tmp_path / "train.jsonl").write_text(
        '{"text": "hi", "label": ["Gunther"]}\n{"text": "yo", "label": []}\n', encoding="utf-8"
    )
    grid = _grid("friends_multilabel", tmp_path, None)
    assert grid["folds"] == 5 and "test" not in grid["base"]["data"]
    assert grid["base"]["data"]["task"] == "multilabel"
    assert grid["base"]["long_documents"]["mode"] == "frozen"
    assert list(grid["variants"]) == list(reproduce.MULTILABEL_VARIANTS)
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(grid, sort_keys=False), encoding="utf-8")
    spec = load_experiment(path)
    assert spec.folds == 5 and spec.test == "corrected_t"  # folds share training rows
    assert _grid("reuters_multilabel", tmp_path, None)["folds"] is None


def _single_label_table(counts: dict[str, int]) -> TextTable:
    labels = [label for label, n in counts.items() for _ in range(n)]
    return TextTable(
        texts=[f"doc {i}" for i in range(len(labels))],
        labels=labels,
        row_numbers=list(range(1, len(labels) + 1)),
        source="synthetic.jsonl",
    )


def test_matched_steps_epochs_follow_the_oversampled_epoch_length():
    # oversampling draws 3 classes x 10 rows = 30 per epoch from 20 rows: 1.5x vanilla's steps
    skewed = _single_label_table({"a": 10, "b": 5, "c": 5})
    assert reproduce.oversampling_epochs(skewed, 2) == 3
    assert reproduce.oversampling_epochs(skewed, 4) == 6
    # R8-like: 4 of 5 rows in one of 2 classes -> an oversampled epoch is 8 / 5 = 1.6x
    assert reproduce.oversampling_epochs(_single_label_table({"x": 80, "y": 20}), 5) == 8
    balanced = _single_label_table({"a": 7, "b": 7})
    assert reproduce.oversampling_epochs(balanced, 2) == 2


def test_matched_steps_variants_are_opt_in_and_differ_from_their_twin_only_in_epochs(tmp_path):
    default_grid = _grid("20ng_step", tmp_path, None)["variants"]
    assert not set(reproduce.MATCHED_STEPS) & set(default_grid)
    twins = {
        "longtail_default_matched_steps": "longtail_default",
        "class_balanced_matched_steps": "class_balanced",
        "vanilla_matched_steps": "vanilla",
    }
    assert set(twins) == set(reproduce.MATCHED_STEPS)
    chosen = _grid("20ng_step", tmp_path, [*twins.values(), *twins])
    table = _single_label_table({"a": 10, "b": 5, "c": 5})  # oversampled epoch: 1.5x
    assert reproduce.match_steps(chosen, table, 2) == (
        "longtail_default_matched_steps, class_balanced_matched_steps, vanilla_matched_steps: "
        "3 epochs, as many steps as 2 of oversampling"
    )
    for matched, twin in twins.items():
        # nothing but the epochs (filled in from the data) differs from the twin
        assert chosen["variants"][matched] == chosen["variants"][twin] | {"train": {"epochs": 3}}
    assert "train" not in chosen["variants"]["class_balanced"]  # the twin is left as it was
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(chosen, sort_keys=False), encoding="utf-8")
    loaded = load_experiment(path).variants["class_balanced_matched_steps"]
    assert loaded["train"] == {"epochs": 3} and loaded["sampler"] == "class_balanced"


def test_match_steps_leaves_a_grid_without_matched_variants_alone(tmp_path):
    grid = _grid("20ng_step", tmp_path, ["vanilla", "oversampling"])
    before = yaml.safe_dump(grid)
    assert reproduce.match_steps(grid, _single_label_table({"a": 10, "b": 5}), 2) is None
    assert yaml.safe_dump(grid) == before


def test_decision_only_variants_train_since_a_tuned_decision_scores_the_epochs(tmp_path):
    twins = {
        "vanilla_tuned": "vanilla",
        "longtail_default_argmax": "longtail_default",
        "focal_effective_number_tuned": "focal_effective_number",
        "longtail_default_mcc": "longtail_default",
    }
    assert not set(twins) & set(_grid("r52", tmp_path, None)["variants"])  # opt-in
    chosen = _grid("r52", tmp_path, [*twins.values(), *twins])
    variants = chosen["variants"]
    assert variants["vanilla_tuned"] == {"loss": {"name": "ce"}}  # the default's decision
    assert variants["longtail_default_argmax"] == {"decision": variants["vanilla"]["decision"]}
    assert variants["focal_effective_number_tuned"]["loss"]["name"] == "focal"
    assert variants["longtail_default_mcc"] == {"decision": {"objective": "mcc"}}
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(chosen, sort_keys=False), encoding="utf-8")
    spec = load_experiment(path)
    # what `compare` (and its --dry-run) will do: each pair has a tuned decision on one side (or
    # two objectives), which chooses the epoch kept, so none is decided from its twin's logits
    plan = plan_decisions(spec, spec.cells(), {}, lambda cell: tmp_path / "cells" / cell.variant)
    assert plan.decided == {}
