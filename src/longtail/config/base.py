"""What every config section shares: strict keys, and the one spelling of "off"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


#: How a remedy is switched off in a config (``sampler``, ``sam``, ``aux_loss``,
#: ``augment.method``). ``None`` and ``{"name": "none"}`` are read as it, so code tests one thing:
#: :func:`is_off`.
OFF = "none"


def is_off(spec: Any) -> bool:
    """Whether a remedy spec (a name, a ``{name: ...}`` mapping or ``None``) means "not used"."""
    if isinstance(spec, Mapping):  # parameters without a name are an error, not "off"
        return spec.get("name") == OFF
    return spec is None or (isinstance(spec, str) and spec == OFF)
