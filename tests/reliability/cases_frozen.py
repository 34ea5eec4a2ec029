"""Reliability cases: the frozen-feature path for short texts."""

from __future__ import annotations

from cases import Case

CASES: list[Case] = []
