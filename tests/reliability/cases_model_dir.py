"""Reliability cases: model directories and checkpoints (longtail.json / state.json schema), and messages that used to mislead."""

from __future__ import annotations

from cases import Case

CASES: list[Case] = []
