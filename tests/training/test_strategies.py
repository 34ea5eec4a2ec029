"""Strategies as data: the phases each strategy returns, what each phase trains, and contract runs
of every strategy / wrapper / auxiliary loss for two steps per phase on the tiny model."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import longtail
from longtail.errors import LongtailError
from longtail.models import TextClassifier, load_encoder
from longtail.models.aggregators import AGGREGATORS
from longtail.models.hierarchical import HierarchicalClassifier
from longtail.training import phases as phases_module
from longtail.training.phase import Phase, apply_trainable, balanced_rows, phase_loss_spec
from longtail.training.phases import loss_parameters
from longtail.training.strategies import STRATEGIES, build_strategy

TOPICS = {
    "sports": "actor film great movie plot screen story".split(),
    "politics": "bank money account fraud alert urgent".split(),
    "science": "document chunk long short text reply".split(),
}


def _write_data(path: Path, sizes: dict[str, int], seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for label, size in sizes.items():
            for _ in range(size):
                words = list(rng.choice(TOPICS[label], size=6)) + ["the", "and", "of"]
                rng.shuffle(words)
                writer.writerow([" ".join(words), label])
    return path


#: Strategies that never train the encoder, by design.
PROBE_ONLY = {"linear_probe"}


@pytest.mark.parametrize("name", sorted(set(STRATEGIES.names()) - PROBE_ONLY))
def test_every_strategy_trains_everything_on_the_training_data_in_some_phase(name):
    phases = build_strategy(name, epochs=3)
    assert phases and all(isinstance(p, Phase) for p in phases)
    assert len({p.name for p in phases}) == len(phases)
    assert phases[-1].data == "train"
    assert any(p.trainable == "all" and p.data == "train" for p in phases)
    # a phase after the full training only re-balances the classifier (decoupling)
    last_full = max(i for i, p in enumerate(phases) if p.trainable == "all")
    assert all(p.trainable in ("classifier", "scales", "none") for p in phases[last_full + 1 :])


def test_strategy_parameters_and_bad_names():
    phases = build_strategy({"name": "prefinetune_da", "top_layers": 2, "lr": 3e-4}, epochs=3)
    assert (phases[0].trainable, phases[0].top_layers, phases[0].lr) == ("top_layers", 2, 3e-4)
    assert phases[0].data == "balanced_augmented" and phases[0].epochs == 1
    drw = build_strategy({"name": "drw", "reweight_epochs": 2}, epochs=5)
    assert [(p.epochs, p.loss_weighting) for p in drw] == [(3, "none"), (2, "class_balanced")]
    with pytest.raises(
        LongtailError,
        match="valid names: auto, crt, drw, linear_probe, lp_ft, lws, prefinetune_da, tau_norm, vanilla",
    ):
        build_strategy("warmup", epochs=3)
    with pytest.raises(LongtailError, match="train.epochs > reweight_epochs"):
        build_strategy("drw", epochs=1)
    # train.epochs unset: a phase that takes "the rest of train.epochs" trains to convergence
    drw = build_strategy("drw", epochs=None)
    assert [(p.epochs, p.loss_weighting) for p in drw] == [(None, "none"), (1, "class_balanced")]
    with pytest.raises(LongtailError, match="top_layers must be an integer >= 1"):
        build_strategy({"name": "prefinetune_da", "top_layers": 0}, epochs=3)
    with pytest.raises(LongtailError, match="bad parameters for strategy 'lp_ft'"):
        build_strategy({"name": "lp_ft", "probe_epoch": 2}, epochs=3)


def _trainable(model, phase, start):
    return set(apply_trainable(model, phase, start))


def test_apply_trainable_head_top_layers_and_all(tiny_model_dir):
    model = TextClassifier(load_encoder(str(tiny_model_dir)), 3)
    start = {n for n, p in model.named_parameters() if p.requires_grad}
    assert not any("pooler" in n for n in start)  # frozen by construction, never re-enabled
    head = _trainable(model, Phase("p", trainable="head"), start)
    assert head == {"head.weight", "head.bias"}
    top = _trainable(model, Phase("p", trainable="top_layers", top_layers=1), start)
    assert head < top
    assert all(n.startswith("encoder.encoder.layer.1.") for n in top - head)
    assert not any("embeddings" in n or "layer.0." in n for n in top)
    both = _trainable(model, Phase("p", trainable="top_layers", top_layers=2), start)
    assert any("layer.0." in n for n in both) and not any("embeddings" in n for n in both)
    assert _trainable(model, Phase("p"), start) == start
    for name, param in model.named_parameters():  # requires_grad follows the returned names
        assert param.requires_grad == (name in start)


def test_head_phase_keeps_a_transformer_aggregator_trainable(tiny_model_dir):
    encoder = load_encoder(str(tiny_model_dir))
    aggregator = AGGREGATORS.build("transformer", hidden_size=32)
    model = HierarchicalClassifier(encoder, 2, aggregator)
    start = {n for n, p in model.named_parameters() if p.requires_grad}
    head = _trainable(model, Phase("p", trainable="head"), start)
    aggregator_params = {n for n in start if n.startswith("aggregator.")}
    assert aggregator_params and aggregator_params <= head
    assert not any(n.startswith("encoder.") for n in head)


def test_phase_loss_spec_switches_weighting():
    ce = {"name": "ce", "weights": "effective_number", "beta": 0.999}
    plain, reweighted = build_strategy("drw", epochs=3)
    accepts = loss_parameters(ce)
    assert "weights" in accepts and "pos_weight" not in accepts
    assert phase_loss_spec(ce, plain, accepts)["weights"] == "none"
    assert phase_loss_spec(ce, reweighted, accepts) == ce  # configured weights kept
    unweighted = phase_loss_spec("focal", reweighted, loss_parameters("focal"))
    assert unweighted == {"name": "focal", "weights": "effective_number", "beta": 0.9999}
    bce = {"name": "bce", "pos_weight": "sqrt_ratio"}
    off = phase_loss_spec(bce, plain, loss_parameters(bce))
    assert off["pos_weight"] == "none" and off["weights"] == "none"
    with pytest.raises(LongtailError, match="ldam has deferred re-weighting built in"):
        phase_loss_spec("ldam", plain, loss_parameters("ldam"))


def test_balanced_rows_take_equal_counts_and_small_groups_whole():
    groups = np.array([0] * 50 + [1] * 10 + [2] * 4)
    rows = balanced_rows(groups, None, seed=0)
    assert np.bincount(groups[rows]).tolist() == [4, 4, 4]
    rows = balanced_rows(groups, 8, seed=0)
    assert np.bincount(groups[rows]).tolist() == [8, 8, 4]
    assert np.array_equal(rows, balanced_rows(groups, 8, seed=0))
    assert not np.array_equal(rows, balanced_rows(groups, 8, seed=1))


# --- contract runs: two steps per phase on the tiny model ------------------------------------

EXPECTED_TRAINABLE = {
    "vanilla": ["all"],
    "lp_ft": ["head", "all"],
    "prefinetune_da": ["top_layers", "all"],
    "drw": ["all", "all"],
    "crt": ["all", "head"],
    "tau_norm": ["all"],  # τ-normalisation trains nothing
    "lws": ["all", "head"],
    "linear_probe": [],  # solved by L-BFGS: no training-loop phase
    "auto": ["all"],  # the probe is solved, then fine-tuning starts from it
}


def _kind(names: set[str], all_names: set[str]) -> str:
    encoder = {n for n in names if n.startswith("encoder.")}
    if names == all_names:
        return "all"
    if not encoder:
        return "head"
    assert all("layer.1." in n for n in encoder), encoder  # only the top layer
    return "top_layers"


@pytest.fixture
def recorded_phases(monkeypatch):
    calls = []
    real = phases_module.train_model

    def recording(model, loss_fn, split, *args, **kwargs):
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        result = real(model, loss_fn, split, *args, **kwargs)
        calls.append(
            {"trainable": trainable, "rows": len(split.ids), "result": result, "loss": loss_fn}
        )
        return result

    monkeypatch.setattr(phases_module, "train_model", recording)
    return calls


def _train(tmp_path, tiny_model_dir, overrides, **kwargs):
    data = _write_data(tmp_path / "train.csv", {"sports": 40, "politics": 12, "science": 8})
    return longtail.train(
        data, output=tmp_path / "run", model=str(tiny_model_dir), epochs=2, verbose=False,
        overrides=["train.max_steps=2", "train.batch_size=8", "model.max_length=24",
                   "augment.quality_plot=pca", *overrides],
        **kwargs,
    )  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED_TRAINABLE))
def test_strategy_contract(tmp_path, tiny_model_dir, recorded_phases, name):
    classifier = _train(tmp_path, tiny_model_dir, [], strategy=name)
    all_names = {
        n
        for n, p in TextClassifier(load_encoder(str(tiny_model_dir)), 3).named_parameters()
        if p.requires_grad
    }
    kinds = [_kind(call["trainable"], all_names) for call in recorded_phases]
    assert kinds == EXPECTED_TRAINABLE[name]
    history = classifier.report["training"]["history"]
    phases = classifier.report["training"]["phases"]
    assert [p["name"] for p in phases] == [p.name for p in build_strategy(name, epochs=2)]
    assert all(math.isfinite(h["train_loss"]) for h in history)
    assert {h["phase"] for h in history} == {p["name"] for p in phases if p["trainable"] != "none"}
    assert all(h["step"] <= 2 for h in history if "l2" not in h)  # two steps per phase
    if name == "prefinetune_da":  # an equal-per-class sample (8 each) plus 4 augmented copies
        assert recorded_phases[0]["rows"] > 3 * 8 and recorded_phases[1]["rows"] == 54
        assert "prefinetune" in classifier.report["augmentation"]
        assert (tmp_path / "run" / "augmentation_quality_prefinetune.png").stat().st_size > 1000
        # the default's class weights come from each phase's own counts: near-equal on the
        # balanced sample (re-weighting is not applied twice), 40/12/8 in fine-tuning
        balanced, natural = (call["loss"].class_weights for call in recorded_phases)
        assert balanced is not None and float(balanced.max() / balanced.min()) < 1.2
        assert float(natural.max() / natural.min()) > 2.0
    if name == "drw":
        weights = [call["loss"].class_weights for call in recorded_phases]
        assert weights[0] is None and weights[1] is not None
    if name in ("linear_probe", "auto"):
        probe = phases[0]
        assert probe["stop"] == "solved" and probe["applied"].startswith("linear head solved")
        path = [h for h in history if h["phase"] == "linear_probe"]
        assert path and all("l2" in h for h in path)
        assert probe["best_score"] == max(h["val_score"] for h in path)


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_every_strategy_builds_for_training_to_convergence(name):
    phases = build_strategy(name, epochs=None)
    fixed = build_strategy(name, epochs=4)
    for converging, given in zip(phases, fixed, strict=True):
        # a phase with its own epochs keeps them; one that follows train.epochs converges
        assert converging.epochs == (None if given.epochs in (None, 4, 3) else given.epochs)


@pytest.mark.parametrize("name", ["drw", "lp_ft", "crt"])
def test_phases_with_and_without_their_own_epochs_train_to_convergence(
    tmp_path, tiny_model_dir, recorded_phases, name
):
    classifier = _train(
        tmp_path, tiny_model_dir, ["train.max_epochs=2", "train.min_steps=0", "train.epochs=null"],
        strategy=name,
    )  # fmt: skip
    phases = classifier.report["training"]["phases"]
    own = {p.name: p.epochs for p in build_strategy(name, epochs=None)}
    for phase in phases:
        expected = {None: ("max_steps", "early_stopping", "perfect_score")}.get(
            own[phase["name"]], ("max_steps", "epochs", "early_stopping")
        )
        assert phase["stop"] in expected and phase["steps"] <= 2
    assert classifier.report["training"]["stop"] == phases[-1]["stop"]
    assert classifier.report["model"]["stopped"].startswith(f"{phases[-1]['best_epoch']}") or (
        "steps" in classifier.report["model"]["stopped"]
    )


@pytest.mark.parametrize(
    "overrides",
    [
        ["sam=sam"],
        ["sam=asymmetric_sam"],
        ["aux_loss=simcse"],
        ["aux_loss=supcon", "aux_loss.weight=0.5"],
    ],
    ids=["sam", "asymmetric_sam", "simcse", "supcon"],
)
def test_wrapper_and_auxiliary_loss_contract(tmp_path, tiny_model_dir, recorded_phases, overrides):
    classifier = _train(tmp_path, tiny_model_dir, overrides)
    history = classifier.report["training"]["history"]
    assert history and all(math.isfinite(h["train_loss"]) for h in history)
    key, _, value = overrides[0].partition("=")
    assert classifier.report["model"][key] in (value, {"name": value, "weight": 0.5})


def test_negative_aux_weight_is_refused(tmp_path, tiny_model_dir):
    with pytest.raises(LongtailError, match=r"aux_loss.weight \(λ\) must be >= 0"):
        _train(tmp_path, tiny_model_dir, ["aux_loss=supcon", "aux_loss.weight=-1"])


def test_a_phase_that_keeps_its_start_keeps_it_unless_an_epoch_beats_it(tmp_path, tiny_model_dir):
    from longtail.config import build_config
    from longtail.data.tokenized import TokenizedSplit
    from longtail.training.loop import train_model

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 2))
    x = torch.randn(32, 4)
    y = (x[:, 0] > 0).long().numpy()
    split = TokenizedSplit(x, y)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    scores = iter([0.9, 0.5, 0.6, 0.7])  # the start scores best
    config = build_config({"train": {"epochs": 3, "batch_size": 8, "lr": 0.1, "head_lr": 0.1}})

    class Rows:
        def set_epoch(self, epoch):
            pass

        def __call__(self, split, rows, *, training):
            return {"input": split.ids[rows]}

    class Wrapped(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input, return_embedding=False):
            return self.inner(input)

    wrapped = Wrapped(model)
    result = train_model(wrapped, nn.CrossEntropyLoss(), split, split, config.train,
                         batcher=Rows(), score=lambda logits: next(scores), keep_start=True,
                         log=lambda line: None)  # fmt: skip
    assert result.best_epoch == 0 and result.best_score == 0.9
    for key, value in model.state_dict().items():
        assert torch.equal(value, start[key])
