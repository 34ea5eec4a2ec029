"""Reliability cases: decoupled classifier re-training strategies (cRT, tau-normalisation, LWS)."""

from __future__ import annotations

from cases import Case

CASES: list[Case] = []
