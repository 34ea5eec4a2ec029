"""A trained tiny run's decision, saved in longtail.json, gives at predict time the probabilities
it was tuned on; a longtail.json from before isotonic and logit adjustment still loads."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))

from cli_helpers import FILLER, HAM, SPAM, write_csv  # noqa: E402

from longtail.cli import main  # noqa: E402
from longtail.config import build_config  # noqa: E402
from longtail.decision import probabilities  # noqa: E402
from longtail.decision.fit import fit_decision  # noqa: E402
from longtail.predictor import Classifier  # noqa: E402
from longtail.training.run import run_training  # noqa: E402

RARE = "sports politics science music movie film".split()


def _rows(sizes: dict[str, int], seed: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    vocab = {"spam": SPAM, "ham": HAM, "rare": RARE}
    rows = [
        (" ".join([*rng.choice(vocab[label], 6), *rng.choice(FILLER, 3)]), label)
        for label, n in sizes.items()
        for _ in range(n)
    ]
    return [rows[i] for i in rng.permutation(len(rows))]


@pytest.fixture(scope="module")
def trained(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("saved-decision")
    train = write_csv(tmp / "train.csv", _rows({"ham": 40, "spam": 15, "rare": 5}, 0))
    val = write_csv(tmp / "val.csv", _rows({"ham": 20, "spam": 8, "rare": 3}, 1))
    config = build_config(
        {
            "data": {"train": str(train), "validation": str(val)},
            "model": {"name": str(tiny_model_dir), "max_length": 32},
            "train": {"epochs": 1, "batch_size": 16, "lr": 1e-3, "head_lr": 1e-2},
            "decision": {"calibrate": "isotonic", "logit_adjust": "tuned"},
            "output": str(tmp / "run"),
        },
        source="test",
    )
    result = run_training(config, log=lambda _: None)
    return config, result, val, tmp


def test_predict_gives_the_probabilities_tuned_at_training_time(trained):
    config, result, val, _ = trained
    meta = json.loads((result.output / "longtail.json").read_text(encoding="utf-8"))
    assert meta["calibration"] == "isotonic" and meta["logit_adjust"]["tuned"]
    inputs = result.decision_inputs
    counts = np.array([meta["training"]["train_class_counts"][n] for n in meta["labels"]["names"]])
    at_training = fit_decision(
        "multiclass", inputs.val_logits, inputs.val_y, meta["labels"]["names"], config.decision,
        counts, 60,
    )  # fmt: skip
    expected = at_training.probabilities("multiclass", inputs.val_logits)
    classifier = Classifier.load(result.output)
    texts = [line.split(",")[0] for line in val.read_text(encoding="utf-8").splitlines()[1:]]
    np.testing.assert_allclose(classifier.predict_proba(texts), expected, atol=1e-5)
    np.testing.assert_allclose(classifier.thresholds, at_training.thresholds)


def test_evaluate_on_validation_repeats_the_training_report(trained, capsys):
    _, result, val, tmp = trained
    assert main(["evaluate", "--model", str(result.output), "--data", str(val),
                 "--output", str(tmp / "eval")]) == 0  # fmt: skip
    evaluated = json.loads((tmp / "eval" / "report.json").read_text(encoding="utf-8"))
    for key in ("f1_macro", "accuracy", "ece", "pr_auc_macro"):
        assert evaluated["metrics"][key] == pytest.approx(result.report["validation_metrics"][key])
    assert evaluated["calibration"] == "isotonic" and evaluated["logit_adjust"]["tuned"]
    report = (tmp / "eval" / "report.md").read_text(encoding="utf-8")
    assert "post-hoc logit adjustment" in report and "isotonic per class" in report
    html = (result.output / "report.html").read_text(encoding="utf-8")
    assert "post-hoc logit adjustment" in html and "isotonic per class" in html


def test_a_longtail_json_without_the_new_fields_still_loads(trained, tmp_path):
    import shutil

    _, result, val, _ = trained
    old = tmp_path / "old"
    shutil.copytree(result.output, old)
    path = old / "longtail.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    for key in ("calibration", "isotonic", "logit_adjust"):
        del meta[key]
    meta["temperature"] = 1.7
    meta["config"]["decision"]["calibrate"] = True  # as older longtail wrote it
    meta["config"]["decision"].pop("logit_adjust")
    path.write_text(json.dumps(meta), encoding="utf-8")
    classifier = Classifier.load(old)
    texts = ["free cash now", "see you at lunch"]
    logits = classifier.predict_logits(texts)
    np.testing.assert_allclose(
        classifier.predict_proba(texts), probabilities(logits, "multiclass", temperature=1.7)
    )
    assert classifier.probability_map.calibration == "temperature"


def test_a_damaged_isotonic_map_is_one_line(trained, tmp_path):
    import shutil

    from longtail.errors import LongtailError

    _, result, _, _ = trained
    bad = tmp_path / "bad"
    shutil.copytree(result.output, bad)
    meta = json.loads((bad / "longtail.json").read_text(encoding="utf-8"))
    meta["isotonic"]["y"][0] = list(reversed(meta["isotonic"]["y"][0])) + [2.0]
    meta["isotonic"]["x"][0] = meta["isotonic"]["x"][0] + [1.0]
    (bad / "longtail.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(LongtailError, match="isotonic") as error:
        Classifier.load(bad)
    assert "\n" not in str(error.value)
