"""Every reliability case, in the order of the table in ``docs/reliability.md``.

``cases.py`` holds the machinery and the first set; the ``cases_*`` modules add one topic each.
This module joins them, so the test, the table generator and the golden-file test read one list.
"""

from __future__ import annotations

import cases
import cases_decision
import cases_frozen
import cases_housekeeping
import cases_inputs
import cases_losses
import cases_model_dir
import cases_output
import cases_strategies

ALL_CASES: list[cases.Case] = [
    *cases.CASES,
    *cases_output.CASES,
    *cases_inputs.CASES,
    *cases_model_dir.CASES,
    *cases_housekeeping.CASES,
    *cases_losses.CASES,
    *cases_decision.CASES,
    *cases_frozen.CASES,
    *cases_strategies.CASES,
]
