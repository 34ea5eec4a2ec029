"""The TF-IDF branch fused into longtail's default frozen head, against the same head without it.

    python benchmarks/lexical_grid.py --workdir benchmarks/results/frozen_grid \\
        r8 r52 20ng_long_tailed 20ng_step imdb reuters_multilabel
    python benchmarks/lexical_grid.py --report --workdir benchmarks/results/frozen_grid ...

For each set of ``benchmarks/frozen_grid.py`` and each seed, this trains the set's default head
(:data:`DEFAULT_HEADS`) exactly as the grid does, fits the lexical branch
(:func:`longtail.evaluation.anchor.fit_anchor`: the anchor's TF-IDF + balanced logistic
regression) on the same seed's training split, chooses the fusion weight on validation as
``longtail train --lexical auto`` does (:func:`longtail.training.lexical.choose_fusion`, scored
by the shipped decision), and scores the default decision on the test rows with and without the
branch: a paired comparison on one head. Records go to ``<workdir>/<set>/lexical.jsonl`` (a
rerun skips what is there). ``--report`` prints per set the two rows, their paired difference
and the anchors, then the verdict of the rule fixed in docs/benchmarks.md ("A TF-IDF branch fused
into the model") before the cells ran.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import frozen_grid as grid  # noqa: E402
from _common import encoder_or_offline  # noqa: E402

#: Each set's default head and default decision (longtail's defaults on 2026-12-07).
DEFAULT_HEADS = {
    "r8": ("class_balanced_sampler", "tuned_confident"),
    "r52": ("class_balanced_sampler", "tuned_confident"),
    "20ng_long_tailed": ("class_balanced_sampler", "tuned_confident"),
    "20ng_step": ("class_balanced_sampler", "tuned_confident"),
    "imdb": ("probe_ce_effective_number", "tuned_confident"),
    "reuters_multilabel": ("bce", "tuned"),
}
#: Seeds per set (IMDB: 3, as its grid records).
SEEDS = {"imdb": 3}


def fusion_inputs(
    runner: grid.SetupRunner, seed: int, branch_cache: dict, remedy: str | None = None
) -> dict[str, Any]:
    """What fusing one seed's head takes: the set's default head (or the grid's ``remedy`` head)
    trained as the grid does, with the default decision (``settings``) and its validation
    ``score``; the branch fitted on the same training split and its ``(validation, test)``
    logits (``branch_cache`` keeps one seed's)."""
    from longtail.config import DecisionConfig
    from longtail.data.prepare import read_labelled
    from longtail.evaluation.anchor import fit_anchor
    from longtail.models.lexical import gather_texts
    from longtail.training.scoring import validation_scorer

    default_remedy, decision_name = DEFAULT_HEADS[runner.setup]
    remedy = remedy or default_remedy
    remedies = grid.remedies_for(runner.setup)
    head = runner.train_head(remedy, remedies[remedy], seed, lambda line: None)
    config, data = head["config"], head["data"]
    space, y_val = data.space, data.validation.y
    settings = DecisionConfig(**(config.decision.model_dump() | grid.DECISIONS[decision_name]))
    if seed not in branch_cache:
        fit_started = time.perf_counter()
        branch, about = fit_anchor(space.task, space.names, data.texts()[0], data.train.y,
                                   seed=seed)  # fmt: skip
        test_texts = read_labelled(runner.base["data"]["test"], config.data).texts
        branch_cache.clear()  # one seed's branch at a time: 20 Newsgroups' is 16 MB
        branch_cache[seed] = (
            branch.logits(gather_texts(data.texts()[1])), branch.logits(test_texts),
            about, round(time.perf_counter() - fit_started, 1),
        )  # fmt: skip
    branch_val, branch_test, about, fit_seconds = branch_cache[seed]
    score = validation_scorer(space.task, space, y_val, head["metric"], settings, data.counts,
                              len(data.train.y))  # fmt: skip
    return {
        "remedy": remedy, "decision": decision_name, "head": head, "data": data,
        "settings": settings, "score": score, "branch": (branch_val, branch_test),
        "branch_about": about, "branch_seconds": fit_seconds,
    }  # fmt: skip


def lexical_cell(
    runner: grid.SetupRunner, seed: int, branch_cache: dict, remedy: str | None = None
) -> dict[str, Any]:
    """One seed of one set: the default head (or the grid's ``remedy`` head, with the default
    decision), scored with and without the fused branch."""
    from longtail.training.lexical import choose_fusion

    started = time.perf_counter()
    inputs = fusion_inputs(runner, seed, branch_cache, remedy)
    head, data = inputs["head"], inputs["data"]
    trained, (branch_val, branch_test) = head["trained"], inputs["branch"]
    fusion = choose_fusion("auto", data.space.task, head["val_logits"], branch_val,
                           inputs["score"], head["metric"])  # fmt: skip
    scores = with_and_without(
        data, inputs["settings"], (head["val_logits"], head["test_logits"]),
        (branch_val, branch_test), head["test"].y, fusion.weight,
        model_priors=trained.model_priors,
    )  # fmt: skip
    final = trained.history[-1] if trained.history else {}
    return {
        "remedy": inputs["remedy"], "decision": inputs["decision"], "seed": seed,
        "scores": scores, "weight": fusion.weight,
        "validation_scores": {str(w): s for w, s in fusion.scores.items()},
        "branch_train_rows": inputs["branch_about"]["train_rows"],
        "branch_seconds": inputs["branch_seconds"],
        "steps": final.get("step"), "epochs": len(trained.history),
        "stopped_early": trained.final.stopped_early,
        "seconds": round(time.perf_counter() - started, 1),
    }  # fmt: skip


def with_and_without(
    data: Any,
    settings: Any,
    logits: tuple,
    branch: tuple,
    y_test: Any,
    weight: float,
    model_priors: Any = None,
) -> dict[str, dict[str, Any]]:
    """The decision ``settings``, fitted on the validation logits and scored on test and
    validation, for the model alone (``default``) and fused with the branch at ``weight``
    (``lexical``). ``logits`` and ``branch``: ``(validation, test)`` each."""
    from longtail.decision.fit import fit_decision
    from longtail.models.lexical import fuse_logits

    space, y_val = data.space, data.validation.y
    scores = {}
    for name, at in (("default", 0.0), ("lexical", weight)):
        val, test = (fuse_logits(space.task, m, b, at) for m, b in zip(logits, branch, strict=True))
        decision = fit_decision(space.task, val, y_val, space.names, settings, data.counts,
                                len(data.train.y), model_priors=model_priors)  # fmt: skip
        scores[name] = grid.scored(space, decision, (test, y_test), (val, y_val))
    return scores


# ----------------------------------------------------------------------------- report


def paired_loss(setup: str, metric: str, difference: tuple[float, float]) -> str | None:
    """The rules' (b): a paired per-seed difference whose mean is below 0 by more than 2 SEM
    (or by anything, with one seed), as the verdicts print it; ``None`` otherwise."""
    mean, sem = difference
    if mean < 0 and (math.isnan(sem) or -mean > 2 * sem):
        return f"{setup} {metric} {mean:+.4f} (SEM {sem:.4f})"
    return None


def add_grid_arguments(parser: argparse.ArgumentParser, setups: list[str], seeds_help: str) -> None:
    """The options every paired grid over ``benchmarks/frozen_grid.py``'s sets takes."""
    parser.add_argument("setups", nargs="*", default=setups)
    parser.add_argument("--seeds", type=int, default=5, help=seeds_help)
    parser.add_argument("--workdir", default="runs/frozen_grid")
    parser.add_argument("--cache", default="runs/frozen_grid/cache", help="embedding cache root")
    parser.add_argument("--model", help="encoder (default: the offline all-MiniLM-L6-v2)")
    parser.add_argument("--max-length", type=int, default=grid.MAX_LENGTH)
    parser.add_argument("--rows", type=int, default=0, help="stratified sample (smoke runs)")
    parser.add_argument("--report", action="store_true", help="only print what has run")


def mean_sem(values: list[float]) -> tuple[float, float]:
    sem = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else math.nan
    return statistics.mean(values), sem


def set_summary(cells: list[dict[str, Any]], multilabel: bool) -> dict[str, Any]:
    """Per metric: the default's and the fused model's mean ± SEM, and the paired difference."""
    second = "f1_micro" if multilabel else "mcc"
    out: dict[str, Any] = {"seeds": len(cells), "second": second,
                           "weights": [c["weight"] for c in cells]}  # fmt: skip
    for metric in ("f1_macro", second):
        base = [c["scores"]["default"][metric] for c in cells]
        fused = [c["scores"]["lexical"][metric] for c in cells]
        out[metric] = {
            "default": mean_sem(base),
            "lexical": mean_sem(fused),
            "difference": mean_sem([f - b for f, b in zip(fused, base, strict=True)]),
        }
    return out


def report(work: Path, setups: list[str]) -> list[str]:
    def fmt(pair: tuple[float, float], sign: str = "") -> str:
        mean, sem = pair
        return f"{mean:{sign}.3f}" + ("" if math.isnan(sem) else f" ± {sem:.3f}")

    lines = [
        "| set | seeds | weights chosen | default macro-F1 | + lexical macro-F1 | Δ (paired) | "
        "default MCC / micro-F1 | + lexical | Δ (paired) | TF-IDF + LR | LR on the same vectors |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    summaries = {}
    for setup in setups:
        cells = grid._read_jsonl(work / setup / "lexical.jsonl")
        if not cells:
            continue
        summary = summaries[setup] = set_summary(cells, setup in grid.MULTILABEL_SETUPS)
        second = summary["second"]
        anchor = json.loads((work / setup / "anchors.json").read_text(encoding="utf-8"))
        tfidf = anchor["TF-IDF + LR (balanced)"]
        frozen = anchor["LR on the same frozen vectors (balanced)"]
        first, other = summary["f1_macro"], summary[second]
        lines.append(
            f"| {setup} | {summary['seeds']} | {', '.join(map(str, summary['weights']))} | "
            f"{fmt(first['default'])} | {fmt(first['lexical'])} | {fmt(first['difference'], '+')} | "
            f"{fmt(other['default'])} | {fmt(other['lexical'])} | {fmt(other['difference'], '+')} | "
            f"{tfidf['f1_macro']:.3f} ({tfidf[second]:.3f}) | {frozen['f1_macro']:.3f} "
            f"({frozen[second]:.3f}) |"
        )
    lines += ["", *verdict(summaries, setups)]
    return lines


def verdict(summaries: dict[str, dict[str, Any]], setups: list[str]) -> list[str]:
    """The rule of docs/benchmarks.md: (a) a higher mean over the sets of the per-set mean test
    macro-F1; (b) on no set a paired loss of macro-F1 or MCC (micro-F1) beyond 2 SEM."""
    missing = [s for s in setups if s not in summaries]
    if missing:
        return [f"verdict: not yet — no cells for {', '.join(missing)}"]
    with_branch = statistics.mean(s["f1_macro"]["lexical"][0] for s in summaries.values())
    without = statistics.mean(s["f1_macro"]["default"][0] for s in summaries.values())
    losses = []
    for setup, summary in summaries.items():
        for metric in ("f1_macro", summary["second"]):
            if loss := paired_loss(setup, metric, summary[metric]["difference"]):
                losses.append(loss)
    passes = with_branch > without and not losses
    return [
        f"(a) mean over {len(summaries)} sets of test macro-F1: with the branch {with_branch:.4f}, "
        f"without {without:.4f}",
        "(b) paired losses beyond 2 SEM: " + ("; ".join(losses) if losses else "none"),
        "verdict: " + ("lexical auto becomes the default for short texts" if passes
                       else "lexical stays opt-in"),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_grid_arguments(parser, list(DEFAULT_HEADS), "seeds per set (IMDB: at most 3)")
    args = parser.parse_args(argv)
    work = Path(args.workdir)
    if args.report:
        print("\n".join(report(work, args.setups)))
        return 0
    model = encoder_or_offline(args.model)
    with grid.head_training_settings():
        for setup in args.setups:
            runner = grid.open_setup(setup, args, work, model)
            path = work / setup / "lexical.jsonl"
            done = {c["seed"] for c in grid._read_jsonl(path)}
            branches: dict = {}
            for seed in range(min(args.seeds, SEEDS.get(setup, args.seeds))):
                if seed in done:
                    continue
                cell = lexical_cell(runner, seed, branches)
                grid._append(path, cell)
                d, f = cell["scores"]["default"], cell["scores"]["lexical"]
                print(f"  {setup} seed {seed}: weight {cell['weight']}; test macro-F1 "
                      f"{d['f1_macro']:.4f} -> {f['f1_macro']:.4f}; {cell['seconds']} s "
                      f"(branch {cell['branch_seconds']} s)", flush=True)  # fmt: skip
    print("\n".join(report(work, args.setups)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
