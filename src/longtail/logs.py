"""longtail's log: the ``"longtail"`` logger, which the command line prints and a library user
configures like any other.

Library functions take a ``log`` callable for their progress lines (``chunk embeddings: ...``,
``epoch 3/20 ...``); its default is :func:`info`, a line on ``logging.getLogger("longtail")`` at
INFO, so a notebook that imports longtail sees nothing unless it asks
(``logging.basicConfig(level=logging.INFO)``, or ``verbose=True`` where a function offers it).
The ``longtail`` command shows the lines on stdout (:func:`to_stdout`), as it always has.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

LOGGER = logging.getLogger("longtail")


def info(message: str) -> None:
    """One progress line on the ``longtail`` logger (level INFO)."""
    LOGGER.info(message)


class _CurrentStdout(logging.Handler):
    """Writes each record to ``sys.stdout`` as it is at the time (so ``redirect_stdout`` and
    test capture see the lines), the message alone, as ``print`` did."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=sys.stdout)
        except Exception:  # a closed stream: logging's own rule is to never raise
            self.handleError(record)


@contextlib.contextmanager
def to_stdout() -> Iterator[None]:
    """Print the ``longtail`` logger's INFO lines on stdout for the duration (the CLI; a
    ``verbose`` library call), without passing them on to the root logger meanwhile."""
    handler = _CurrentStdout(logging.INFO)
    previous = LOGGER.level, LOGGER.propagate
    LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.INFO)
    LOGGER.propagate = False
    try:
        yield
    finally:
        LOGGER.removeHandler(handler)
        LOGGER.setLevel(previous[0])
        LOGGER.propagate = previous[1]
