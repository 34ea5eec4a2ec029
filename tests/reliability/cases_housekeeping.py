"""Reliability cases: housekeeping and safety: permissions, temporary files, escaping."""

from __future__ import annotations

from cases import Case

CASES: list[Case] = []
