"""How the TF-IDF branch's fusion weight is chosen: validation macro-F1 (today), log-loss, or 0.5.

    python benchmarks/fusion_rule_grid.py --workdir benchmarks/results/frozen_grid \\
        r8 r52 20ng_long_tailed 20ng_step imdb reuters_multilabel
    python benchmarks/fusion_rule_grid.py --report --workdir benchmarks/results/frozen_grid ...

For each set and seed this trains the set's default head again as ``benchmarks/lexical_grid.py``
does, fits the branch on the same training split, and lets each rule of :data:`RULES` choose the
weight on validation: ``present`` (``--lexical auto``: the shipped decision's validation score,
:func:`longtail.training.lexical.choose_fusion`), ``log_loss`` (the lowest validation log-loss of
the fused probabilities, :func:`log_loss`) and ``fixed_half`` (0.5, no choice). The default
decision is fitted on the validation logits fused at each chosen weight and scored on test;
records go to ``<workdir>/<set>/fusion_rule.jsonl`` (a rerun skips what is there). The heads are
the lexical grid's, so ``present`` must reproduce that seed's ``lexical.jsonl`` record: checked
before a cell is written. ``--report`` prints per set each rule's test scores, the paired
difference to ``present`` and the verdict of the rule fixed in docs/benchmarks.md ("How the
fusion weight is chosen") before the cells ran.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import frozen_grid as grid  # noqa: E402
import lexical_grid  # noqa: E402
from _common import encoder_or_offline  # noqa: E402

#: Each study: its records file and its rules, the present one first (the others are its
#: candidates). ``rules``: how the weight is chosen (section "How the fusion weight is chosen");
#: ``calibrated``: each side divided by its validation temperature before the present choice
#: (section "Calibrating each side before fusing").
STUDIES = {
    "rules": ("fusion_rule.jsonl", ("present", "log_loss", "fixed_half")),
    "calibrated": ("fusion_calibrated.jsonl", ("present", "calibrated")),
}
RULES = STUDIES["rules"][1]
CANDIDATES = RULES[1:]


def log_loss(task: str, fused: np.ndarray, y: np.ndarray) -> float:
    """The validation log-loss of fused logits: single-label, the mean negative log of the
    softmax probability of each row's class; multilabel, the binary cross-entropy of each
    label's sigmoid, averaged over rows and labels (stable forms, no clipping)."""
    logits = np.asarray(fused, dtype=np.float64)
    if task == "multilabel":
        targets = np.asarray(y, dtype=np.float64)
        # -[t·log σ(z) + (1-t)·log(1-σ(z))] = softplus(z) - t·z
        return float(np.mean(np.logaddexp(0.0, logits) - targets * logits))
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-np.mean(log_probs[np.arange(len(logits)), np.asarray(y, dtype=np.int64)]))


def lowest_log_loss(losses: dict[float, float]) -> float:
    """The weight with the lowest loss; a tie goes to the smaller weight."""
    best = min(losses.values())
    return min(w for w, value in losses.items() if value == best)


def rule_cell(
    runner: grid.SetupRunner, seed: int, branch_cache: dict, study: str = "rules"
) -> dict[str, Any]:
    """One seed of one set: each rule's weight (and, ``calibrated``, the two sides'
    temperatures) and the default decision's scores there."""
    from longtail.decision.calibration import fit_temperature
    from longtail.decision.fit import fit_decision
    from longtail.models.lexical import fuse_logits
    from longtail.training.lexical import WEIGHTS, choose_fusion

    started = time.perf_counter()
    inputs = lexical_grid.fusion_inputs(runner, seed, branch_cache)
    head, data, settings = inputs["head"], inputs["data"], inputs["settings"]
    space, y_val = data.space, data.validation.y
    task = space.task
    branch_val, branch_test = inputs["branch"]
    present = choose_fusion("auto", task, head["val_logits"], branch_val, inputs["score"],
                            head["metric"])  # fmt: skip
    # rule -> (weight, the model's temperature, the branch's temperature)
    choices = {"present": (present.weight, 1.0, 1.0)}
    extra: dict[str, Any] = {"validation_scores": {str(w): s for w, s in present.scores.items()}}
    if study == "rules":
        losses = {
            w: log_loss(task, fuse_logits(task, head["val_logits"], branch_val, w), y_val)
            for w in WEIGHTS
        }
        choices |= {"log_loss": (lowest_log_loss(losses), 1.0, 1.0), "fixed_half": (0.5, 1.0, 1.0)}
        extra["validation_log_loss"] = {str(w): round(v, 6) for w, v in losses.items()}
    else:
        t_model = fit_temperature(head["val_logits"], y_val, task)
        t_branch = fit_temperature(branch_val, y_val, task)
        calibrated = choose_fusion("auto", task, head["val_logits"] / t_model,
                                   branch_val / t_branch, inputs["score"], head["metric"])  # fmt: skip
        choices["calibrated"] = (calibrated.weight, t_model, t_branch)
        extra["temperatures"] = {"model": t_model, "branch": t_branch}
        extra["calibrated_validation_scores"] = {str(w): s for w, s in calibrated.scores.items()}
    scored: dict[tuple, dict[str, Any]] = {}
    for choice in sorted(set(choices.values())):
        weight, t_model, t_branch = choice
        val = fuse_logits(task, head["val_logits"] / t_model, branch_val / t_branch, weight)
        test = fuse_logits(task, head["test_logits"] / t_model, branch_test / t_branch, weight)
        decision = fit_decision(task, val, y_val, space.names, settings, data.counts,
                                len(data.train.y), model_priors=head["trained"].model_priors)  # fmt: skip
        scored[choice] = grid.scored(space, decision, (test, head["test"].y), (val, y_val))
    return {
        "remedy": inputs["remedy"], "decision": inputs["decision"], "seed": seed,
        "weights": {rule: choice[0] for rule, choice in choices.items()},
        "scores": {rule: scored[choice] for rule, choice in choices.items()},
        **extra, "seconds": round(time.perf_counter() - started, 1),
    }  # fmt: skip


def check_against_lexical(cell: dict[str, Any], records: list[dict[str, Any]]) -> str | None:
    """Why ``present`` does not reproduce the lexical grid's record of the same seed (None: it
    does, or that seed has no record)."""
    same = [r for r in records if r["seed"] == cell["seed"]]
    if not same:
        return None
    record = same[0]
    if record["weight"] != cell["weights"]["present"]:
        return f"weight {cell['weights']['present']} against lexical.jsonl's {record['weight']}"
    ours, theirs = cell["scores"]["present"]["f1_macro"], record["scores"]["lexical"]["f1_macro"]
    if not math.isclose(ours, theirs, abs_tol=1e-9):
        return f"test macro-F1 {ours:.6f} against lexical.jsonl's {theirs:.6f}"
    return None


# ----------------------------------------------------------------------------- report


def set_summary(
    cells: list[dict[str, Any]], multilabel: bool, rules: tuple[str, ...] = RULES
) -> dict[str, Any]:
    """Per rule and metric: mean ± SEM, and the paired difference to ``present``."""
    second = "f1_micro" if multilabel else "mcc"
    out: dict[str, Any] = {
        "seeds": len(cells), "second": second,
        "weights": {rule: [c["weights"][rule] for c in cells] for rule in rules},
    }  # fmt: skip
    for metric in ("f1_macro", second):
        present = [c["scores"]["present"][metric] for c in cells]
        out[metric] = {
            rule: lexical_grid.mean_sem([c["scores"][rule][metric] for c in cells])
            for rule in rules
        }
        out[metric]["difference"] = {
            rule: lexical_grid.mean_sem([c["scores"][rule][metric] - p for c, p in zip(cells, present, strict=True)])
            for rule in rules[1:]
        }  # fmt: skip
    return out


def report(work: Path, setups: list[str], seeds: int = 5, study: str = "rules") -> list[str]:
    """The study's table and verdict; a set with fewer than its ``seeds`` cells (IMDB: 3) is
    not yet judged."""

    def fmt(pair: tuple[float, float], sign: str = "") -> str:
        mean, sem = pair
        return f"{mean:{sign}.3f}" + ("" if math.isnan(sem) else f" ± {sem:.3f}")

    records, rules = STUDIES[study]
    candidates = rules[1:]
    per_metric = " | ".join(f"{rule} | Δ" for rule in candidates)
    lines = [
        f"| set | seeds | weights: present / {candidates[0]} | present | {per_metric} | "
        f"MCC or micro-F1: present | {per_metric} |",
        "|---|---:|---|" + "---:|" * (2 + 4 * len(candidates)),
    ]
    summaries = {}
    for setup in setups:
        cells = grid._read_jsonl(work / setup / records)
        if not cells:
            continue
        summary = summaries[setup] = set_summary(cells, setup in grid.MULTILABEL_SETUPS, rules)
        weights = summary["weights"]
        cols = []
        for metric in ("f1_macro", summary["second"]):
            scores, diff = summary[metric], summary[metric]["difference"]
            cols.append(fmt(scores["present"]))
            for rule in candidates:
                cols += [fmt(scores[rule]), fmt(diff[rule], "+")]
        lines.append(
            f"| {setup} | {summary['seeds']} | {', '.join(map(str, weights['present']))} / "
            f"{', '.join(map(str, weights[candidates[0]]))} | " + " | ".join(cols) + " |"
        )
    complete = {
        setup: summary for setup, summary in summaries.items()
        if summary["seeds"] >= min(seeds, lexical_grid.SEEDS.get(setup, seeds))
    }  # fmt: skip
    lines += ["", *verdict(complete, setups, candidates)]
    return lines


def verdict(
    summaries: dict[str, dict[str, Any]],
    setups: list[str],
    candidates: tuple[str, ...] = CANDIDATES,
) -> list[str]:
    """The rule of docs/benchmarks.md, per candidate: (a) a higher mean over the sets of the
    per-set mean test macro-F1 than ``present``; (b) on no set a paired loss of macro-F1 or MCC
    (micro-F1) beyond 2 SEM. Of the candidates that pass, the higher (a) wins."""
    missing = [s for s in setups if s not in summaries]
    if missing:
        return [f"verdict: not yet — too few cells for {', '.join(missing)}"]
    present = statistics.mean(s["f1_macro"]["present"][0] for s in summaries.values())
    lines = [f"present: mean over {len(summaries)} sets of test macro-F1 {present:.4f}"]
    passing = {}
    for rule in candidates:
        mean = statistics.mean(s["f1_macro"][rule][0] for s in summaries.values())
        losses = []
        for setup, summary in summaries.items():
            for metric in ("f1_macro", summary["second"]):
                difference = summary[metric]["difference"][rule]
                if loss := lexical_grid.paired_loss(setup, metric, difference):
                    losses.append(loss)
        lines.append(
            f"{rule}: (a) {mean:.4f}; (b) paired losses beyond 2 SEM: "
            + ("; ".join(losses) if losses else "none")
        )
        if mean > present and not losses:
            passing[rule] = mean
    if passing:
        winner = max(passing, key=passing.get)
        lines.append(f"verdict: {winner} replaces the present fusion")
    else:
        lines.append("verdict: the present fusion stays")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    lexical_grid.add_grid_arguments(
        parser, list(lexical_grid.DEFAULT_HEADS), "seeds per set (IMDB: at most 3)"
    )
    parser.add_argument(
        "--calibrated", action="store_true",
        help="the calibrated-sides study (fusion_calibrated.jsonl) instead of the weight rules",
    )  # fmt: skip
    args = parser.parse_args(argv)
    work = Path(args.workdir)
    study = "calibrated" if args.calibrated else "rules"
    if args.report:
        print("\n".join(report(work, args.setups, args.seeds, study)))
        return 0
    model = encoder_or_offline(args.model)
    with grid.head_training_settings():
        for setup in args.setups:
            runner = grid.open_setup(setup, args, work, model)
            path = work / setup / STUDIES[study][0]
            done = {c["seed"] for c in grid._read_jsonl(path)}
            lexical = grid._read_jsonl(work / setup / "lexical.jsonl")
            branches: dict = {}
            for seed in range(min(args.seeds, lexical_grid.SEEDS.get(setup, args.seeds))):
                if seed in done:
                    continue
                cell = rule_cell(runner, seed, branches, study)
                if why := check_against_lexical(cell, lexical):
                    raise SystemExit(
                        f"{setup} seed {seed}: the head is not the lexical grid's ({why})"
                    )
                grid._append(path, cell)
                print(f"  {setup} seed {seed}: weights {cell['weights']}; {cell['seconds']} s",
                      flush=True)  # fmt: skip
    print("\n".join(report(work, args.setups, args.seeds, study)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
