"""Decoupled classifier re-training (cRT, τ-normalisation, LWS; Kang et al. 2020, arXiv
1910.09217): the phases as data, the head operations against hand computations, and runs on the
tiny model — what each phase trains, the re-initialised head, resume between phases, and the
saved model predicting as the trained one did."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import longtail
import longtail.training.loop as loop
from longtail.cli import main
from longtail.errors import LongtailError
from longtail.models import TextClassifier, load_encoder
from longtail.training import phases as phases_module
from longtail.training.decoupling import (
    attach_scales,
    choose_tau,
    fold_scales,
    reset_head,
    tau_normalise_,
    tau_normalised_logits,
)
from longtail.training.phases import check_phases

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from cli_helpers import fast_train_args, make_rows, write_csv  # noqa: E402

from longtail.training.phase import TAU_GRID, Phase, apply_trainable, phase_loss_spec  # noqa: E402
from longtail.training.strategies import build_strategy, strategies_for  # noqa: E402

# --- phases as data ----------------------------------------------------------------------------


def test_crt_phases():
    first, second = build_strategy("crt", epochs=4)
    assert (first.name, first.trainable, first.epochs, first.sampler) == (
        "representation", "all", 4, "none",
    )  # fmt: skip
    assert (second.name, second.trainable, second.sampler, second.head_init) == (
        "classifier", "classifier", "class_balanced", "reset",
    )  # fmt: skip
    assert (second.epochs, second.head_lr) == (10, 1e-3)
    assert first.loss_weighting == second.loss_weighting == "plain"
    custom = build_strategy(
        {"name": "crt", "head_epochs": 5, "head_lr": 3e-3, "sampler": "sqrt"}, epochs=2
    )
    assert (custom[1].epochs, custom[1].head_lr, custom[1].sampler) == (5, 3e-3, "sqrt")


def test_tau_norm_and_lws_phases():
    first, second = build_strategy("tau_norm", epochs=3)
    assert (first.trainable, first.sampler) == ("all", "none")
    assert (second.name, second.trainable, second.trains) == ("tau_norm", "none", False)
    assert second.tau_grid == TAU_GRID and TAU_GRID[0] == 0.0 and TAU_GRID[-1] == 2.0
    assert build_strategy({"name": "tau_norm", "tau": 0.5}, epochs=3)[1].tau_grid == (0.5,)
    grid = build_strategy({"name": "tau_norm", "tau": [1, 0, 0.5, 1]}, epochs=3)[1].tau_grid
    assert grid == (0.0, 0.5, 1.0)
    scales = build_strategy({"name": "lws", "scale_epochs": 3}, epochs=3)[1]
    assert (scales.trainable, scales.epochs, scales.head_lr, scales.sampler) == (
        "scales", 3, 1e-2, "class_balanced",
    )  # fmt: skip
    assert scales.tasks == ("binary", "multiclass")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "tau_norm", "tau": -0.5}, "tau must be a number >= 0"),
        ({"name": "tau_norm", "tau": [0, -1]}, "tau must be a number >= 0"),
        ({"name": "tau_norm", "tau": []}, "tau must be a number >= 0"),
        ({"name": "tau_norm", "tau": "high"}, "tau must be a number >= 0"),
        ({"name": "crt", "sampler": "none"}, "use class_balanced"),
        ({"name": "crt", "head_epochs": 0}, "head_epochs must be an integer >= 1"),
        ({"name": "crt", "head_lr": -1}, "head_lr must be a number > 0"),
        ({"name": "lws", "scale_lr": 0}, "scale_lr must be a number > 0"),
        ({"name": "lws", "sampler": {"name": "none"}}, "use class_balanced"),
        ({"name": "crt", "tau": 1.0}, "bad parameters for strategy 'crt'"),
    ],
)
def test_bad_parameters_are_one_line_errors(spec, message):
    with pytest.raises(LongtailError, match=message) as caught:
        build_strategy(spec, epochs=2)
    assert "\n" not in str(caught.value)


def test_phase_checks_tau_grid_and_tasks():
    with pytest.raises(LongtailError, match="tau values must be >= 0"):
        Phase("t", trainable="none", tau_grid=(0.0, -1.0))
    with pytest.raises(LongtailError, match="a tau_grid goes with trainable='none'"):
        Phase("t", trainable="none")
    with pytest.raises(LongtailError, match="tasks must be some of"):
        Phase("t", tasks=("regression",))
    assert strategies_for("multilabel") == [
        "auto", "crt", "drw", "linear_probe", "lp_ft", "prefinetune_da", "tau_norm", "vanilla",
    ]  # fmt: skip
    with pytest.raises(LongtailError, match="solver 'lbfgs' solves the final linear layer"):
        Phase("p", trainable="head", solver="lbfgs")
    with pytest.raises(LongtailError, match="keep_start goes with a training sgd phase"):
        Phase("p", trainable="classifier", solver="lbfgs", keep_start=True)
    with pytest.raises(LongtailError, match="not multilabel; pick a --strategy that does.*crt"):
        check_phases(build_strategy("lws", epochs=2), task="multilabel", sampler="none")
    check_phases(build_strategy("lws", epochs=2), task="binary", sampler="none")
    with pytest.raises(LongtailError, match="drop --sampler sqrt"):
        check_phases(build_strategy("crt", epochs=2), task="binary", sampler="sqrt")


def test_plain_loss_weighting_switches_weights_off_where_there_are_any():
    phase = Phase("p", loss_weighting="plain")
    ce = {"name": "ce", "weights": "effective_number", "beta": 0.999}
    assert phase_loss_spec(ce, phase, phases_module.loss_parameters(ce))["weights"] == "none"
    assert phase_loss_spec("ldam", phase, phases_module.loss_parameters("ldam")) == "ldam"


def test_apply_trainable_classifier_scales_none(tiny_model_dir):
    model = TextClassifier(load_encoder(str(tiny_model_dir)), 3)
    start = {n for n, p in model.named_parameters() if p.requires_grad}
    assert set(apply_trainable(model, Phase("p", trainable="classifier"), start)) == {
        "head.weight",
        "head.bias",
    }
    attach_scales(model)
    added = start | {"head.scale"}
    assert apply_trainable(model, Phase("p", trainable="scales"), added) == ["head.scale"]
    none = Phase("p", trainable="none", tau_grid=(0.0,))
    assert apply_trainable(model, none, added) == []
    assert not any(p.requires_grad for p in model.parameters())


# --- head operations against hand computations --------------------------------------------------


def _head(weight_rows: list[list[float]], bias: list[float]) -> nn.Linear:
    head = nn.Linear(len(weight_rows[0]), len(weight_rows))
    with torch.no_grad():
        head.weight.copy_(torch.tensor(weight_rows))
        head.bias.copy_(torch.tensor(bias))
    return head


def test_tau_zero_leaves_logits_unchanged_and_tau_one_gives_unit_norms():
    torch.manual_seed(1)
    head = nn.Linear(8, 5)
    x = torch.randn(16, 8)
    before = head(x).detach()
    zero = copy.deepcopy(head)
    tau_normalise_(zero, 0.0)
    assert torch.equal(zero(x), before)
    one = copy.deepcopy(head)
    tau_normalise_(one, 1.0)
    assert torch.allclose(one.weight.norm(dim=1), torch.ones(5), atol=1e-6)
    assert torch.equal(one.bias, head.bias)  # the bias is kept as trained
    # the logits the grid search predicts are the ones the rescaled head gives
    for tau in (0.0, 0.4, 1.0, 1.7):
        rescaled = copy.deepcopy(head)
        tau_normalise_(rescaled, tau)
        predicted = tau_normalised_logits(
            before.numpy(), head.weight.detach().numpy(), head.bias.detach().numpy(), tau
        )
        assert np.allclose(predicted, rescaled(x).detach().numpy(), atol=1e-5)


def test_tau_grid_picks_the_best_tau_on_a_constructed_validation_set():
    # a head class with a long weight vector wins every tie-ish row: τ = 1 gives both classes
    # unit norm and the balanced validation set is then classified right
    head = _head([[4.0, 0.0], [0.0, 1.0]], [0.0, 0.0])
    features = np.array([[1.0, 0.5], [1.0, 0.2], [0.6, 0.9], [0.3, 1.0]])  # 2 head, 2 tail rows
    y = np.array([0, 0, 1, 1])
    logits = features @ head.weight.detach().numpy().T

    def accuracy(z):
        return float((z.argmax(1) == y).mean())

    assert accuracy(logits) == 0.5
    tau, scores = choose_tau(
        logits, head.weight.detach().numpy(), None, [0.0, 0.5, 1.0, 2.0], accuracy
    )
    brute = {t: accuracy(features @ (np.array([[4.0, 0], [0, 1]]) / np.array([[4.0], [1]]) ** t).T)
             for t in (0.0, 0.5, 1.0, 2.0)}  # fmt: skip
    assert scores == pytest.approx(brute)
    assert scores == {0.0: 0.5, 0.5: 0.75, 1.0: 1.0, 2.0: 0.75} and tau == 1.0
    ties = choose_tau(logits, head.weight.detach().numpy(), None, [2.0, 0.5], lambda z: 1.0)
    assert ties[0] == 0.5  # ties go to the smaller τ, nearer the trained head


def test_scales_multiply_logits_and_fold_into_a_plain_head():
    torch.manual_seed(2)
    head = nn.Linear(6, 3)
    holder = nn.Module()
    holder.head = head
    x = torch.randn(4, 6)
    before = head(x).detach()
    scale = attach_scales(holder)
    assert "head.scale" in holder.state_dict()
    with torch.no_grad():
        scale.copy_(torch.tensor([0.5, 1.0, 2.0]))
    scaled = head(x).detach()
    assert torch.allclose(scaled, before * torch.tensor([0.5, 1.0, 2.0]))
    assert fold_scales(holder).tolist() == [0.5, 1.0, 2.0]
    assert holder.head is head and type(head) is nn.Linear
    assert "head.scale" not in holder.state_dict() and not head._forward_hooks
    assert torch.allclose(head(x), scaled, atol=1e-6)


def test_reset_head_is_seeded_and_leaves_the_global_generator(tiny_model_dir):
    model = TextClassifier(load_encoder(str(tiny_model_dir)), 3)
    state = torch.random.get_rng_state()
    reset_head(model, seed=5)
    first = model.head.weight.detach().clone()
    assert torch.equal(torch.random.get_rng_state(), state)
    reset_head(model, seed=5, positive_rates=np.array([0.5, 0.1, 0.9]))
    assert torch.equal(model.head.weight, first)
    assert model.head.bias.detach().numpy() == pytest.approx([0.0, -2.1972, 2.1972], abs=1e-4)


# --- runs on the tiny model -------------------------------------------------------------------


@pytest.fixture
def snapshots(monkeypatch):
    """The model's weights before and after each training phase."""
    calls = []
    real = phases_module.train_model

    def recording(model, *args, **kwargs):
        before = {k: v.detach().clone() for k, v in model.state_dict().items()}
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        result = real(model, *args, **kwargs)
        after = {k: v.detach().clone() for k, v in model.state_dict().items()}
        rows = args[1].ids
        calls.append({"before": before, "after": after, "trainable": trainable,
                      "module": type(model).__name__, "rows": rows})  # fmt: skip
        return result

    monkeypatch.setattr(phases_module, "train_model", recording)
    return calls


def _train(tmp_path, tiny_model_dir, strategy, *, rows=None, extra=()):
    data = write_csv(tmp_path / "train.csv", rows or make_rows(80, 0.25, seed=3))
    return longtail.train(
        data, output=tmp_path / "run", model=str(tiny_model_dir), epochs=2, verbose=False,
        strategy=strategy,
        overrides=["train.max_steps=3", "train.batch_size=8", "model.max_length=24", *extra],
    )  # fmt: skip


def _same_predictions(classifier, tmp_path):
    texts = ["free cash prize call now", "see you at lunch tomorrow", "urgent offer reply"]
    loaded = longtail.Classifier.load(tmp_path / "run")
    assert np.allclose(loaded.predict_proba(texts), classifier.predict_proba(texts), atol=1e-5)
    assert loaded.predict(texts) == classifier.predict(texts)


def test_crt_reinitialises_the_head_and_keeps_the_encoder(tmp_path, tiny_model_dir, snapshots):
    classifier = _train(tmp_path, tiny_model_dir, "crt")
    first, second = snapshots
    assert second["trainable"] == {"head.weight", "head.bias"}
    # phase 2 trains the head alone on embeddings the frozen encoder computed once
    assert (first["module"], second["module"]) == ("TextClassifier", "FrozenTextModel")
    assert torch.is_tensor(second["rows"]) and second["rows"].shape[1] == 32
    assert not any(k.startswith("encoder.") for k in second["after"])  # head-only checkpoints
    saved = longtail.Classifier.load(tmp_path / "run").model.state_dict()
    encoder = [k for k in first["after"] if k.startswith("encoder.")]
    assert encoder and all(torch.equal(first["after"][k], saved[k]) for k in encoder)
    # phase 2 starts from a fresh head, not phase 1's: the seeded re-initialisation
    assert not torch.equal(second["before"]["head.weight"], first["after"]["head.weight"])
    fresh = TextClassifier(load_encoder(str(tiny_model_dir)), 2)
    reset_head(fresh, seed=0 * 1_009 + 2)  # train.seed 0, phase 2
    assert torch.equal(second["before"]["head.weight"], fresh.head.weight)
    assert not torch.equal(second["after"]["head.weight"], second["before"]["head.weight"])
    phases = classifier.report["training"]["phases"]
    assert [(p["name"], p["sampler"]) for p in phases] == [
        ("representation", "none"), ("classifier", "class_balanced"),
    ]  # fmt: skip
    assert all(p["loss"]["weights"] == "none" for p in phases)  # the default loss, unweighted
    assert "head re-initialised" in phases[1]["applied"]
    _same_predictions(classifier, tmp_path)


def test_tau_norm_records_tau_and_saves_the_rescaled_head(tmp_path, tiny_model_dir, snapshots):
    classifier = _train(tmp_path, tiny_model_dir, {"name": "tau_norm", "tau": [1.0]})
    assert len(snapshots) == 1  # τ-normalisation trains nothing
    tau_phase = classifier.report["training"]["phases"][1]
    assert tau_phase["tau"] == 1.0 and set(tau_phase["tau_scores"]) == {"1"}
    assert tau_phase["best_epoch"] is None and "tau = 1" in tau_phase["applied"]
    saved = longtail.Classifier.load(tmp_path / "run")
    norms = saved.model.head.weight.norm(dim=1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)
    assert torch.equal(saved.model.head.bias, snapshots[0]["after"]["head.bias"])
    _same_predictions(classifier, tmp_path)
    report = (tmp_path / "run" / "report.md").read_text()
    assert "tau = 1" in report


def test_tau_norm_applies_per_label_on_multilabel(tmp_path, tiny_model_dir):
    rows = [(t, "spam;money" if lab == "spam" else "ham") for t, lab in make_rows(80, 0.3, 4)]
    classifier = _train(
        tmp_path, tiny_model_dir, "tau_norm", rows=rows,
        extra=["data.task=multilabel", "data.label_delimiter=;"],
    )  # fmt: skip
    assert classifier.report["task"] == "multilabel"
    assert len(classifier.report["training"]["phases"][1]["tau_scores"]) == len(TAU_GRID)
    _same_predictions(classifier, tmp_path)


def test_lws_learns_scales_and_saves_a_plain_head(tmp_path, tiny_model_dir, snapshots):
    classifier = _train(tmp_path, tiny_model_dir, {"name": "lws", "scale_lr": 0.1})
    first, second = snapshots
    assert second["trainable"] == {"head.scale"}
    assert torch.equal(second["before"]["head.scale"], torch.ones(2))
    scales = torch.tensor(classifier.report["training"]["phases"][1]["scales"])
    assert not torch.equal(scales, torch.ones(2))
    assert torch.equal(second["after"]["head.weight"], first["after"]["head.weight"])  # frozen
    saved = longtail.Classifier.load(tmp_path / "run")
    expected = first["after"]["head.weight"] * scales[:, None]
    assert torch.allclose(saved.model.head.weight, expected, atol=1e-6)
    assert set(json.loads((tmp_path / "run" / "longtail.json").read_text())["architecture"]) == {
        "kind", "num_logits", "pooling", "dropout",
    }  # fmt: skip
    _same_predictions(classifier, tmp_path)


@pytest.mark.parametrize("strategy", ["crt", "tau_norm", "lws"])
def test_resume_after_an_interruption_between_phases(
    strategy, tiny_model_dir, tmp_path, monkeypatch, capsys
):
    data = write_csv(tmp_path / "train.csv", make_rows(120, 0.25, seed=5))
    args = ["train", "--data", str(data), "--strategy", strategy, "--patience", "5"]
    fast = [*fast_train_args(tiny_model_dir, tmp_path / "full")]
    fast[fast.index("--epochs") + 1] = "1"
    assert main([*args, *fast]) == 0
    cut = [*fast[:3], str(tmp_path / "cut"), *fast[4:]]
    real_save = loop.save_checkpoint

    def save_then_die(*a, **kw):
        real_save(*a, **kw)
        raise KeyboardInterrupt  # phase 1 (one epoch) saved, phase 2 not started

    monkeypatch.setattr(loop, "save_checkpoint", save_then_die)
    assert main([*args, *cut]) == 130
    monkeypatch.setattr(loop, "save_checkpoint", real_save)
    capsys.readouterr()
    assert main([*args, *cut, "--resume"]) == 0
    assert "resuming after epoch 1" in capsys.readouterr().out  # phase 1 restored, not retrained
    full = json.loads((tmp_path / "full" / "longtail.json").read_text())
    resumed = json.loads((tmp_path / "cut" / "longtail.json").read_text())
    assert resumed["files"]["head.safetensors"] == full["files"]["head.safetensors"]
    assert resumed["training"]["phases"][1].get("tau") == full["training"]["phases"][1].get("tau")
    assert [h["train_loss"] for h in resumed["training"]["history"]] == pytest.approx(
        [h["train_loss"] for h in full["training"]["history"]], rel=1e-5
    )
