"""HTML reports in a real headless Chromium: every figure renders, no script error, not blank.

Needs Debian's ``chromium`` (``apt-get install chromium``) or ``LONGTAIL_CHROMIUM`` pointing at a
Chromium/Chrome binary. A missing browser fails these tests: it never skips them silently.
"""

from __future__ import annotations

import html as html_lib
import os
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from longtail.decision import apply_thresholds
from longtail.evaluation import evaluate_predictions
from longtail.evaluation.html_report import (
    RunArrays,
    render_comparison_html,
    render_run_html,
    write_html_report,
)

pytestmark = pytest.mark.slow

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
TIMEOUT_S = 60
LABELS = ["common", "<i>rare</i>", "a&b", "tail $x$"]


def chromium() -> str:
    """The browser binary, or a failing test that says how to get one."""
    candidate = os.environ.get("LONGTAIL_CHROMIUM") or "/usr/bin/chromium"
    found = shutil.which(candidate)
    if found is None:
        pytest.fail(
            f"Chromium not found at {candidate!r}: install Debian's `chromium` package "
            "(apt-get install chromium) or set LONGTAIL_CHROMIUM to a Chromium/Chrome binary"
        )
    return found


def browse(page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "chromium-profile"
    command = [chromium(), *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, f"chromium failed ({result.returncode}): {result.stderr[-2000:]}"
    return result


@pytest.fixture(scope="module")
def run_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A multiclass run report with every optional part, written once for the module."""
    tmp_path = tmp_path_factory.mktemp("run-report")
    rng = np.random.default_rng(0)
    k, n = len(LABELS), 400
    y = rng.choice(k, size=n, p=[0.6, 0.1, 0.2, 0.1])
    logits = rng.normal(size=(n, k)) + 1.8 * np.eye(k)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    pred = apply_thresholds("multiclass", p, np.ones(k))
    report = {
        "task": "multiclass",
        "labels": LABELS,
        "metrics": evaluate_predictions("multiclass", y, p, pred, LABELS),
    }
    history = [
        {"epoch": e, "step": 10 * e, "train_loss": 1 / e, "val_score": 0.5 + 0.1 * e}
        for e in (1, 2, 3)
    ]
    extra = tmp_path / "extra.png"
    matplotlib.image.imsave(extra, rng.random((30, 40)))
    arrays = RunArrays(
        "multiclass",
        LABELS,
        y,
        p,
        None,
        probs_uncalibrated=p,
        train_class_counts={"common": 600, "<i>rare</i>": 10, "a&b": 200, "tail $x$": 40},
        history=history,
        extra_figures={"an <extra> figure": extra.read_bytes()},
    )
    return write_html_report(render_run_html(report, arrays), tmp_path / "run.html")


@pytest.fixture(scope="module")
def comparison_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("comparison-report")
    cell = {"mean": 0.7, "sem": 0.01, "n": 6}
    delta = {
        "mean_difference": 0.02,
        "ci_low": -0.01,
        "ci_high": 0.05,
        "p_value": 0.2,
        "test": "paired t-test",
        "n_pairs": 6,
    }
    variants = [
        {
            "name": name,
            "n": 6,
            "metrics": {"f1_macro": cell, "mcc": cell},
            "per_class_f1": {"a": cell, "<b>b</b>": {**cell, "mean": 0.4 + 0.1 * i}},
            **({"vs_baseline": {"f1_macro": delta, "mcc": delta}} if i else {}),
        }
        for i, name in enumerate(["vanilla", "focal <loss>"])
    ]
    summary = {
        "title": "compare & <check>",
        "baseline": "vanilla",
        "metrics": ["f1_macro", "mcc"],
        "class_counts": {"a": 500, "<b>b</b>": 5},
        "variants": variants,
    }
    return write_html_report(render_comparison_html(summary), tmp_path / "compare.html")


def check_dom(dom: str) -> None:
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    ok = re.search(r'data-figures-ok="(\d+)"', body[1])
    total = re.search(r'data-figures-total="(\d+)"', body[1])
    assert ok and total, f"the onload script did not run: {body[0]}"
    assert int(total[1]) > 0 and ok[1] == total[1], body[0]
    errors = re.search(r'<pre id="js-errors"[^>]*>(.*?)</pre>', dom, re.S)
    assert errors is not None and html_lib.unescape(errors[1]).strip() == ""
    assert "<i>rare</i>" not in dom and "<b>b</b>" not in dom  # labels stayed text


def test_run_report_renders_every_figure_in_chromium(run_page, tmp_path):
    dom = browse(run_page, tmp_path, "--virtual-time-budget=5000", "--dump-dom").stdout
    check_dom(dom)
    assert 'data-figures-total="7"' in dom


def test_comparison_report_renders_every_figure_in_chromium(comparison_page, tmp_path):
    dom = browse(comparison_page, tmp_path, "--virtual-time-budget=5000", "--dump-dom").stdout
    check_dom(dom)
    assert 'data-figures-total="3"' in dom


def test_run_report_screenshot_is_not_blank(run_page, tmp_path):
    shot = tmp_path / "shot.png"
    browse(
        run_page,
        tmp_path,
        "--virtual-time-budget=5000",
        f"--screenshot={shot}",
        "--window-size=1280,2400",
        "--hide-scrollbars",
    )
    assert shot.is_file() and shot.stat().st_size > 10_000
    image = matplotlib.image.imread(shot)
    assert image.shape[:2] == (2400, 1280)
    rgb = image[..., :3]
    assert rgb.std() > 0.05  # not one flat colour
    non_white = np.mean(rgb.min(axis=-1) < 0.95)
    assert 0.03 < non_white < 0.9, non_white


def test_the_page_check_catches_a_broken_figure_and_a_script_error(tmp_path):
    page = render_comparison_html({"variants": [{"name": "x"}]})
    broken = (
        '<figure id="fig-broken"><img src="data:image/png;base64,AAAA" alt="broken"></figure>'
        '<script>throw new Error("boom");</script>'
    )
    path = write_html_report(page.replace("</main>", broken + "</main>"), tmp_path / "broken.html")
    dom = browse(path, tmp_path, "--virtual-time-budget=5000", "--dump-dom").stdout
    assert 'data-figures-ok="0"' in dom and 'data-figures-total="1"' in dom
    assert "boom" in re.search(r'<pre id="js-errors"[^>]*>(.*?)</pre>', dom, re.S)[1]
