"""Quiet third-party logging while longtail works, and give the caller's settings back.

Kept free of torch and transformers imports (they happen inside the function), so the command
line can use it without loading either for commands that need neither.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """No per-file progress bars or info logs from transformers while longtail loads or saves
    (the CLI prints its own progress); the caller's verbosity and progress bars are put back
    afterwards, so a notebook that loads a longtail model keeps its own transformers logging."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()  # the level of the "transformers" logger
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
