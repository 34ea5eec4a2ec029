"""Reliability cases: bad input that used to be accepted silently: labels, columns, delimiters, regression targets, CSV quoting, config keys."""

from __future__ import annotations

from cases import Case

CASES: list[Case] = []
