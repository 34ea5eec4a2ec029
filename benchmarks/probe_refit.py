"""How the linear probe picks its L2 strength: on the validation split, refit, or cross-validated.

    python benchmarks/probe_refit.py r8 r52 20ng_long_tailed 20ng_step --seeds 3

The rule this answers was fixed in docs/benchmarks.md ("The probe's L2 choice and refit")
before the runs on R52 and 20 Newsgroups. Three ways to fit the default probe (effective-number
cross-entropy, argmax decision) on the frozen-grid setups' cached MiniLM vectors
(``benchmarks/frozen_grid.py`` writes the data and the cache; this script reuses both):

* ``validation``: λ chosen on the seed's 10 % validation split, the head fitted on the other
  90 % — what ``--strategy linear_probe`` does;
* ``validation_refit``: the same λ, the head refit on training + validation rows;
* ``cv_refit``: λ chosen by 5-fold stratified cross-validation on training + validation (macro-F1
  of the pooled out-of-fold argmax), the head refit on all of them.

Every head is fitted by longtail's own solver (:func:`longtail.training.probe.fit_linear_probe`);
a cross-validation fold walks the whole path (its score callback records each λ's held-out
logits and returns a rising number, so the path never stops early). Loss weights come from the
rows each head is fitted on (document counts, as in training). The grid is
:data:`EXTENDED_GRID`, three values stronger than the product's. Prints one JSON line per setup
and seed, then test macro-F1 mean ± SEM per variant and setup and the mean over setups.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

import frozen_grid  # noqa: E402
from _common import encoder_or_offline, mean_sem  # noqa: E402

VARIANTS = ("validation", "validation_refit", "cv_refit")
FOLDS = 5


def _grid() -> tuple[float, ...]:
    from longtail.training.probe import L2_GRID

    return (30.0, 10.0, 3.0) + L2_GRID


EXTENDED_GRID = _grid()


def _macro_f1(y: np.ndarray, logits: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, np.asarray(logits).argmax(1), average="macro", zero_division=0))


class Probe:
    """Fits a probe head of one setup and seed with the configured loss."""

    def __init__(self, loss_spec, task: str, space, width: int):
        self.loss_spec, self.task, self.space, self.width = loss_spec, task, space, width

    def fit(self, x, y, x_val, score, grid) -> tuple[nn.Linear, float]:
        from longtail.losses import build_loss
        from longtail.training.probe import fit_linear_probe

        loss = build_loss(self.loss_spec, task=self.task, class_counts=self.space.counts(y),
                          num_docs=len(y))  # fmt: skip
        head = nn.Linear(self.width, len(self.space.names))
        nn.init.zeros_(head.bias)
        fit = fit_linear_probe(head, loss, x, y, x_val, score, l2_grid=grid, log=lambda _: None)
        return head, fit.l2

    def cv_l2(self, x: torch.Tensor, y: np.ndarray, seed: int) -> float:
        """λ with the best pooled out-of-fold macro-F1 (ties to the stronger)."""
        from longtail.data.splits import stratified_kfold

        oof = {l2: np.zeros((len(y), len(self.space.names))) for l2 in EXTENDED_GRID}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # classes rarer than the folds
            folds = stratified_kfold(y, self.task, n_splits=FOLDS, seed=seed)
        for train, held_out in folds:
            order = iter(sorted(EXTENDED_GRID, reverse=True))

            def record(logits, held_out=held_out, order=order):
                l2 = next(order)
                oof[l2][held_out] = logits
                return -l2  # rises along the path: it is walked to the end

            self.fit(x[train], y[train], x[held_out], record, EXTENDED_GRID)
        scores = {l2: _macro_f1(y, logits) for l2, logits in oof.items()}
        return max(EXTENDED_GRID, key=lambda l2: (scores[l2], l2))


def run(runner, seed: int) -> dict:
    remedy = frozen_grid.SINGLE_LABEL_REMEDIES["probe_ce_effective_number"]
    config = runner.config(remedy, seed)
    data = runner.prepared(seed)
    space = data.space
    setup = runner.model_setup(config, data, len(space.names), lambda _: None)
    test = runner.test_split(setup, space)
    x, x_val, x_test = (split.ids.float() for split in (setup.train, setup.validation, test))
    y, y_val, y_test = (np.asarray(split.y) for split in (data.train, data.validation, test))
    x_all, y_all = torch.cat([x, x_val]), np.concatenate([y, y_val])
    probe = Probe(config.loss, space.task, space, x.shape[1])
    started = time.perf_counter()

    def on_test(head: nn.Linear) -> float:
        with torch.no_grad():
            return round(_macro_f1(y_test, head(x_test).numpy()), 4)

    head, l2_val = probe.fit(x, y, x_val, lambda logits: _macro_f1(y_val, logits), EXTENDED_GRID)
    refit, _ = probe.fit(x_all, y_all, x_val, lambda logits: 0.0, (l2_val,))
    l2_cv = probe.cv_l2(x_all, y_all, seed)
    cv_head, _ = probe.fit(x_all, y_all, x_val, lambda logits: 0.0, (l2_cv,))
    return {
        "setup": runner.setup, "seed": seed, "validation": on_test(head), "l2_validation": l2_val,
        "validation_refit": on_test(refit), "cv_refit": on_test(cv_head), "l2_cv": l2_cv,
        "seconds": round(time.perf_counter() - started, 1),
    }  # fmt: skip


def summary(rows: list[dict], setups: list[str]) -> list[str]:
    lines = []
    for variant in VARIANTS:
        means = []
        for setup in setups:
            values = [r[variant] for r in rows if r["setup"] == setup]
            means.append(statistics.mean(values))
            lines.append(
                f"{variant} {setup}: test macro-F1 {mean_sem(values)} ({len(values)} seeds)"
            )
        lines.append(f"{variant} mean over setups: {statistics.mean(means):.4f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("setups", nargs="*", default=["r8", "r52", "20ng_long_tailed", "20ng_step"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workdir", default="runs/frozen_grid")
    parser.add_argument("--cache", default="runs/frozen_grid/cache")
    parser.add_argument("--model", help="encoder (default: the offline all-MiniLM-L6-v2)")
    parser.add_argument("--max-length", type=int, default=frozen_grid.MAX_LENGTH)
    parser.add_argument("--rows", type=int, default=0, help="sample per split, for smoke runs")
    args = parser.parse_args(argv)
    model = encoder_or_offline(args.model)
    rows = []
    with frozen_grid.head_training_settings():
        for setup in args.setups:
            runner = frozen_grid.open_setup(setup, args, Path(args.workdir), model)
            for seed in range(args.seeds):
                rows.append(run(runner, seed))
                print(json.dumps(rows[-1]), flush=True)
    print("\n".join(summary(rows, args.setups)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
