"""Reliability cases: decisions after training (post-hoc logit adjustment, isotonic calibration)."""

from __future__ import annotations

from cases import Case

CASES: list[Case] = []
