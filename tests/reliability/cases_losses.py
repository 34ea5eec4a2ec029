"""Reliability cases: the long-tail losses (logit-adjusted, balanced softmax, distribution-balanced)."""

from __future__ import annotations

from cases import Case

CASES: list[Case] = []
