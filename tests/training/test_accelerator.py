"""accelerate's objects: precision per hardware, and several models trained in one process."""

from __future__ import annotations

import pytest
import torch

from longtail.config import TrainConfig
from longtail.training.accelerator import (
    distributed_state,
    make_accelerator,
    resolve_mixed_precision,
)


@pytest.mark.parametrize("requested", ["no", "bf16", "fp16"])
def test_an_explicit_precision_is_kept(requested: str) -> None:
    assert resolve_mixed_precision(requested) == requested


def test_auto_is_full_precision_without_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_mixed_precision("auto") == "no"


@pytest.mark.parametrize("bf16", [True, False])
def test_auto_on_a_gpu_prefers_bf16(monkeypatch: pytest.MonkeyPatch, bf16: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: bf16)
    assert resolve_mixed_precision("auto") == ("bf16" if bf16 else "fp16")


def test_models_with_different_precisions_train_in_one_process() -> None:
    """accelerate refuses a second Accelerator with another precision unless its state is reset
    (a compare grid trains many models in one Python process)."""
    first = make_accelerator(TrainConfig(mixed_precision="bf16", grad_accum=2))
    assert first.mixed_precision == "bf16" and first.gradient_accumulation_steps == 2
    second = make_accelerator(TrainConfig(mixed_precision="no"))
    assert second.mixed_precision == "no" and second.gradient_accumulation_steps == 1
    assert distributed_state().num_processes == 1
    assert distributed_state().is_main_process
