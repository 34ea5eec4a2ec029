"""Loading a model quiets transformers while it loads, and gives the caller's logging back."""

from __future__ import annotations

from transformers.utils import logging as hf_logging

from longtail.models import encoder as encoder_module


def test_loading_leaves_the_callers_transformers_logging_as_it_was(tiny_model_dir, monkeypatch):
    seen = []
    real = encoder_module._load_quietly

    def spy(*args, **kwargs):
        seen.append((hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()))
        return real(*args, **kwargs)

    monkeypatch.setattr(encoder_module, "_load_quietly", spy)
    before = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_info()
    hf_logging.enable_progress_bar()
    try:
        encoder_module.load_encoder(str(tiny_model_dir))
        assert seen == [(hf_logging.ERROR, False)]  # quiet while loading
        assert hf_logging.get_verbosity() == hf_logging.INFO  # the notebook's choice, back
        assert hf_logging.is_progress_bar_enabled()
    finally:
        hf_logging.set_verbosity(before[0])
        (hf_logging.enable_progress_bar if before[1] else hf_logging.disable_progress_bar)()
