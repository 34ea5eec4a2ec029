"""The experiment files under benchmarks/experiments/ are valid ``longtail compare`` grids whose
variants mean what their names say (the fine-tuned evidence in docs/benchmarks.md runs them)."""

from pathlib import Path

import pytest

from longtail.config import ExperimentConfig
from longtail.defaults import default_loss
from longtail.experiments.spec import load_experiment

EXPERIMENTS = sorted(
    (Path(__file__).resolve().parents[2] / "benchmarks" / "experiments").glob("*.yaml")
)


def test_there_are_experiment_files():
    assert EXPERIMENTS


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_experiment_validates_and_its_variants_are_what_they_are_called(path):
    spec = load_experiment(path)
    assert spec.folds is None, "the converged evidence scores a fixed test file"
    defaults = ExperimentConfig(data={"train": "x.jsonl"})
    for name in spec.variants:
        config = spec.variant_config(name, **{"train.seed": spec.seeds[0]})
        assert config.data.test, f"{name}: no test file"
        if name == "vanilla":
            assert config.loss == "ce"  # registry name, no parameters: unweighted
        if name == "vanilla" or name.endswith("_argmax"):
            assert not config.decision.tune_thresholds
            assert config.decision.calibrate == "none"
        if name.startswith("ce_inverse"):
            assert config.loss == {"name": "ce", "weights": "inverse"}
        if name.startswith("ce_effective_number"):
            assert config.loss is None  # longtail's default, which on R8 (multiclass) is:
            assert default_loss("multiclass")["weights"] == "effective_number"
        if name == "default":  # nothing but the data and the encoder's length differs
            assert config.loss == defaults.loss and config.decision == defaults.decision
            assert config.train == defaults.train.model_copy(update={"seed": spec.seeds[0]})
