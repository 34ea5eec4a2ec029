"""The loop's length: to convergence (min_steps, patience, the maximum) or fixed epochs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import longtail.training.loop as loop
from longtail.config import TrainConfig
from longtail.data.tokenized import TokenizedSplit
from longtail.evaluation.convergence import still_improving
from longtail.training.frozen import FeatureBatcher
from longtail.training.loop import train_model

ROWS, BATCH = 40, 8  # 5 optimizer steps per epoch


class _Head(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(4, 2)

    def forward(self, features: torch.Tensor, return_embedding: bool = False):
        logits = self.head(features)
        return (logits, features) if return_embedding else logits


def _split(seed: int) -> TokenizedSplit:
    x = torch.from_numpy(np.random.default_rng(seed).normal(size=(ROWS, 4)).astype(np.float32))
    return TokenizedSplit(x, (x[:, 0] + 0.3 * x[:, 1] > 0).long().numpy())


class _Scripted:
    """Validation scores from a list, one per epoch, and the head's weights at each epoch."""

    def __init__(self, model: _Head, scores: list[float]) -> None:
        self.model, self.scores, self.weights = model, list(scores), []

    def __call__(self, logits: np.ndarray) -> float:
        self.weights.append(self.model.head.weight.detach().clone())
        return self.scores[len(self.weights) - 1]


def _train(scores: list[float], **train):
    model = _Head()
    score = _Scripted(model, scores)
    config = TrainConfig(batch_size=BATCH, mixed_precision="no", **train)
    result = train_model(
        model, nn.CrossEntropyLoss(), _split(0), _split(1), config, batcher=FeatureBatcher(),
        score=score, log=lambda _m: None,
    )  # fmt: skip
    return result, score, model


def test_convergence_trains_a_small_set_past_its_first_epochs_until_min_steps():
    result, _, _ = _train([0.5] * 40, min_steps=50)  # flat from epoch 1: patience 3 is met early
    assert len(result.history) == 10 and result.steps == 50
    assert (result.stop, result.best_epoch, result.stopped_early) == ("early_stopping", 1, True)


def test_once_min_steps_are_done_patience_stops_it_and_the_best_weights_come_back():
    scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.55, 0.5, 0.58, 0.4, 0.3]
    result, score, model = _train(scores, min_steps=10)
    assert [e["epoch"] for e in result.history] == list(range(1, 10))  # 3 epochs after the best
    assert (result.best_epoch, result.stop, result.steps) == (6, "early_stopping", 45)
    assert torch.equal(model.head.weight, score.weights[5])
    assert not torch.equal(model.head.weight, score.weights[-1])


def test_the_maximum_budget_ends_a_run_that_still_improves_and_says_so():
    rising = [0.1 * i for i in range(1, 30)]
    result, _, _ = _train(rising, max_epochs=4)
    assert (len(result.history), result.stop, result.steps) == (4, "max_epochs", 20)
    assert still_improving(result.history, "f1_macro") is not None
    result, _, _ = _train(rising, max_steps=12)
    assert [e["step"] for e in result.history] == [5, 10, 12]
    assert result.stop == "max_steps"


def test_fixed_epochs_run_as_before():
    result, _, _ = _train([0.1 * i for i in range(1, 9)], epochs=4, min_steps=500)
    assert (len(result.history), result.stop, result.steps) == (4, "epochs", 20)
    result, _, _ = _train([0.5] * 8, epochs=6, min_steps=500)  # patience 2, no min_steps
    assert (len(result.history), result.stop) == (3, "early_stopping")


def _real_score(validation: TokenizedSplit):
    y = torch.as_tensor(validation.y)

    def score(logits: np.ndarray) -> float:
        return -float(nn.functional.cross_entropy(torch.from_numpy(logits), y))

    return score


def _resumable(checkpoint_dir, resume: bool = False):
    validation = _split(1)
    config = TrainConfig(batch_size=BATCH, mixed_precision="no", min_steps=20, max_epochs=12)
    return train_model(
        _Head(), nn.CrossEntropyLoss(), _split(0), validation, config, batcher=FeatureBatcher(),
        score=_real_score(validation), checkpoint_dir=checkpoint_dir, resume=resume,
        fingerprint="f", log=lambda _m: None,
    )  # fmt: skip


def test_resume_to_convergence_gives_the_uninterrupted_history(tmp_path, monkeypatch):
    torch.manual_seed(0)
    full = _resumable(tmp_path / "full")
    real_save, saves = loop.save_checkpoint, []

    def save_then_die(*args, **kwargs):
        real_save(*args, **kwargs)
        saves.append(1)
        if len(saves) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_checkpoint", save_then_die)
    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):
        _resumable(tmp_path / "cut")
    monkeypatch.setattr(loop, "save_checkpoint", real_save)
    torch.manual_seed(0)
    resumed = _resumable(tmp_path / "cut", resume=True)
    assert len(full.history) > 3
    for mine, theirs in zip(resumed.history, full.history, strict=True):
        assert mine["step"] == theirs["step"]
        assert mine["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-6)
        assert mine["val_score"] == pytest.approx(theirs["val_score"], rel=1e-6)
    assert (resumed.best_epoch, resumed.stop, resumed.steps) == (
        full.best_epoch, full.stop, full.steps,
    )  # fmt: skip


class _NanAfter(nn.Module):
    """Cross-entropy that turns NaN from its ``after``-th call on."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after, self.calls = after, 0

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        loss = nn.functional.cross_entropy(logits, target)
        return loss * float("nan") if self.calls >= self.after else loss


def test_a_non_finite_loss_stops_the_run_in_one_line_naming_the_steps(monkeypatch):
    from longtail.errors import LongtailError

    # the loss is read back every 3 steps
    config = TrainConfig(batch_size=BATCH, mixed_precision="no", epochs=2, logging_steps=3)
    with pytest.raises(
        LongtailError, match=r"the loss became nan at epoch 1, steps 1-3; lower train\.lr"
    ):
        train_model(
            _Head(), _NanAfter(2), _split(0), _split(1), config, batcher=FeatureBatcher(),
            score=_Scripted(_Head(), [0.5] * 4), log=lambda _m: None,
        )  # fmt: skip


def test_the_running_loss_is_read_back_every_few_batches_not_every_step(monkeypatch):
    reads = []
    real = loop._finite_sum
    monkeypatch.setattr(loop, "_finite_sum", lambda *a: reads.append(a[4]) or real(*a))
    result, _, _ = _train([0.5, 0.6], epochs=2, logging_steps=2)
    assert reads == [2, 4, 5, 6, 8, 10]  # every 2nd step and each epoch's last (5 per epoch)
    assert all(np.isfinite(h["train_loss"]) for h in result.history)


class _DropHead(_Head):
    """A head with dropout: a resumed run must draw the masks an uninterrupted one draws."""

    def __init__(self) -> None:
        super().__init__()
        self.drop = nn.Dropout(0.5)

    def forward(self, features: torch.Tensor, return_embedding: bool = False):
        logits = self.head(self.drop(features))
        return (logits, features) if return_embedding else logits


def _saving_every(checkpoint_dir, save_steps, resume=False, on_step=None):
    validation = _split(1)
    config = TrainConfig(
        batch_size=BATCH, mixed_precision="no", epochs=3, save_steps=save_steps, patience=None
    )
    torch.manual_seed(0)
    model = _DropHead()
    result = train_model(
        model, nn.CrossEntropyLoss(), _split(0), validation, config, batcher=FeatureBatcher(),
        score=_real_score(validation), checkpoint_dir=checkpoint_dir, resume=resume,
        fingerprint="f", log=lambda _m: None, on_step=on_step,
    )  # fmt: skip
    return result, model


# saves at steps 2, 4, 5 (epoch 1's end), 6, 8, 10...: killed after batch 2 of epoch 1 / 1 of 2
@pytest.mark.parametrize("killed_at", [1, 4])
def test_a_run_killed_inside_an_epoch_resumes_from_its_last_step_checkpoint(
    tmp_path, monkeypatch, killed_at
):
    full, full_model = _saving_every(tmp_path / "full", None)
    real_save, saved = loop.save_checkpoint, []

    def save_then_die(*args, **kwargs):
        real_save(*args, **kwargs)
        saved.append(kwargs["state"])
        if len(saved) == killed_at:
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        _saving_every(tmp_path / "cut", 2)
    assert saved[-1]["epoch_batches"] in (1, 2), "the last save was inside an epoch"
    assert (tmp_path / "cut" / "random.safetensors").is_file()
    monkeypatch.setattr(loop, "save_checkpoint", real_save)
    messages = []
    validation = _split(1)
    config = TrainConfig(batch_size=BATCH, mixed_precision="no", epochs=3, save_steps=2,
                         patience=None)  # fmt: skip
    torch.manual_seed(123)  # whatever the global generator holds, the checkpoint's comes back
    resumed_model = _DropHead()
    resumed = train_model(
        resumed_model, nn.CrossEntropyLoss(), _split(0), validation, config,
        batcher=FeatureBatcher(), score=_real_score(validation),
        checkpoint_dir=tmp_path / "cut", resume=True, fingerprint="f", log=messages.append,
    )  # fmt: skip
    step = saved[-1]["step"]
    assert messages[0] == (
        f"resuming in epoch {saved[-1]['epoch'] + 1} after batch "
        f"{saved[-1]['epoch_batches']} (step {step})"
    )
    for mine, theirs in zip(resumed.history, full.history, strict=True):
        assert mine["step"] == theirs["step"]
        assert mine["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-9)
        assert mine["val_score"] == pytest.approx(theirs["val_score"], rel=1e-9)
    assert torch.equal(resumed_model.head.weight, full_model.head.weight)


def test_save_steps_change_nothing_but_the_checkpoints(tmp_path):
    plain, plain_model = _saving_every(tmp_path / "a", None)
    saving, saving_model = _saving_every(tmp_path / "b", 1)
    assert [e["train_loss"] for e in saving.history] == [e["train_loss"] for e in plain.history]
    assert torch.equal(saving_model.head.weight, plain_model.head.weight)


def test_a_step_checkpoint_without_its_generators_is_refused_in_one_line(tmp_path, monkeypatch):
    from longtail.errors import LongtailError

    real_save = loop.save_checkpoint

    def save_once_then_die(*args, **kwargs):
        real_save(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_checkpoint", save_once_then_die)
    with pytest.raises(KeyboardInterrupt):
        _saving_every(tmp_path / "cut", 2)
    monkeypatch.setattr(loop, "save_checkpoint", real_save)
    (tmp_path / "cut" / "random.safetensors").unlink()
    with pytest.raises(
        LongtailError, match=r"random\.safetensors is damaged \(the file is missing\)"
    ):
        _saving_every(tmp_path / "cut", 2, resume=True)


def test_the_training_loss_reaches_the_tracker_every_logging_steps():
    logged = []
    validation = _split(1)
    config = TrainConfig(batch_size=BATCH, mixed_precision="no", epochs=2, logging_steps=2,
                         lr=1e-2, head_lr=1e-2)  # fmt: skip
    result = train_model(
        _Head(), nn.CrossEntropyLoss(), _split(0), validation, config, batcher=FeatureBatcher(),
        score=_real_score(validation), log=lambda _m: None, on_step=logged.append,
    )  # fmt: skip
    # 5 steps per epoch: reads at steps 2 and 4, and at each epoch's end (5, then 6, 8, 10)
    assert [entry["step"] for entry in logged] == [2, 4, 5, 6, 8, 10]
    first_epoch = logged[:3]
    rows = [2 * BATCH, 2 * BATCH, BATCH]
    mean = sum(e["train_loss"] * n for e, n in zip(first_epoch, rows, strict=True)) / ROWS
    assert mean == pytest.approx(result.history[0]["train_loss"], rel=1e-9)
    lrs = [entry["lr"] for entry in logged]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] == 0.0  # warm-up is < 1 step: decay only


def test_compile_runs_the_training_steps_through_torch_compile(monkeypatch):
    """Dynamo's ``eager`` backend traces as ``torch.compile`` does without inductor's C++ build
    (the benchmark measures inductor): same numbers, the plain module for validation."""
    real_compile, compiled = torch.compile, []

    def traced(module):
        compiled.append(module)
        return real_compile(module, backend="eager")

    monkeypatch.setattr(torch, "compile", traced)
    torch.manual_seed(0)
    plain, _, plain_model = _train([0.5] * 3, epochs=2)
    assert compiled == []
    torch.manual_seed(0)
    result, _, model = _train([0.5] * 3, epochs=2, compile=True)
    assert len(compiled) == 1 and compiled[0] is model  # accelerate's prepare keeps it on CPU
    assert [e["train_loss"] for e in result.history] == pytest.approx(
        [e["train_loss"] for e in plain.history], rel=1e-6
    )
    assert torch.allclose(model.head.weight, plain_model.head.weight, atol=1e-6)
    assert not hasattr(model, "_orig_mod")  # the caller's module, not the compiled wrapper
