"""Path checks shared by the commands and the training run: never write over an input.

``longtail predict --data X --output X`` (and the same with ``make-imbalanced``, ``augment`` or
``evaluate --output MODEL_DIR``) used to replace the input silently. The paths are compared as
the operating system sees them, so a symbolic link, a hard link or ``./x.csv`` against ``x.csv``
is caught too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from longtail.errors import LongtailError


def same_path(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether ``a`` and ``b`` name one file or directory (links resolved; missing paths too)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare where they would be
        return os.path.realpath(a) == os.path.realpath(b)


def refuse_overwriting_inputs(
    output: str | os.PathLike[str], inputs: Mapping[str, str | os.PathLike[str] | None]
) -> None:
    """Fail if ``--output`` is one of ``inputs`` (``{flag: path}``), before anything is read.

    Raises:
        LongtailError: naming both flags and the fix.
    """
    for flag, path in inputs.items():
        if path is not None and same_path(output, path):
            raise LongtailError(
                f"--output {output} is the same file as {flag} {path}: writing it would destroy "
                "the input; choose another --output"
            )


def inside(path: str | os.PathLike[str], directory: str | os.PathLike[str]) -> bool:
    """Whether ``path`` lies inside ``directory`` (links resolved)."""
    resolved, root = Path(os.path.realpath(path)), Path(os.path.realpath(directory))
    return resolved != root and root in resolved.parents
