"""Reliability cases: the output location: data loss, same-file outputs, locks, inputs checked before training."""

from __future__ import annotations

from cases import Case

CASES: list[Case] = []
