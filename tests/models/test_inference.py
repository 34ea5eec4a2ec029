"""Prediction precision: fp32 on the CPU, bf16 (else fp16) autocast on a CUDA GPU."""

from __future__ import annotations

import contextlib

import pytest
import torch

from longtail.models import inference


def test_cpu_predicts_in_full_precision():
    assert isinstance(inference.inference_autocast(torch.device("cpu")), contextlib.nullcontext)


@pytest.mark.filterwarnings("ignore:CUDA is not available")  # this machine has no GPU
def test_cuda_uses_bf16_where_supported_else_fp16(monkeypatch):
    for supported, dtype in ((True, torch.bfloat16), (False, torch.float16)):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda s=supported: s)
        context = inference.inference_autocast(torch.device("cuda"))
        assert isinstance(context, torch.autocast) and context.fast_dtype == dtype
        assert context.device == "cuda"
