"""The one exception type users see.

Every problem with user input (files, columns, labels, config values, model directories) raises
:class:`LongtailError` with a single line that names the file, the row or field, and the fix. The
CLI prints it as ``error: <message>`` and exits with code 2; it never shows a traceback for these.
"""

from __future__ import annotations


class LongtailError(Exception):
    """A user-facing error: one line naming what is wrong, where, and how to fix it."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
