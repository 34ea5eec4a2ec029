"""The experiment file of ``longtail compare``: a base config, variants, seeds, folds.

.. code-block:: yaml

    base:                      # an ordinary training config, shared by every variant
      data: {train: data/train.csv, test: data/test.csv}
      train: {epochs: 3}
    variants:                  # name -> what differs from the base (nested or dotted keys)
      vanilla: {}
      oversample: {sampler: oversample}
      lp_ft: {strategy: lp_ft}
      focal_en: {loss: {name: focal, weights: effective_number}}
    baseline: vanilla          # default: the first variant
    seeds: [0, 1, 2]
    folds: 5                   # stratified k-fold of data.train; null: the fixed train/val/test
    fold_seed: 0               # the folds are the same for every seed and variant
    test: auto                 # paired test vs the baseline: auto | corrected_t | t | bootstrap
                               # | permutation (auto: corrected_t with folds, t on a fixed split)
    metrics: [f1_macro, pr_auc_macro, mcc, micro_f1_without_majority]
    keep_models: false         # keep each cell's model directory (large) or only its report
    output: runs/compare

Every cell (variant × seed × fold) is validated up front, so a typo in the last variant fails
before the first cell trains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from longtail.config import ExperimentConfig, apply_overrides, build_config, load_config
from longtail.errors import LongtailError

DEFAULT_METRICS = (
    "f1_macro",
    "pr_auc_macro",
    "mcc",
    "micro_f1_without_majority",
    "balanced_accuracy",
)
TESTS = ("auto", "corrected_t", "t", "bootstrap", "permutation")
_KEYS = {
    "base",
    "variants",
    "baseline",
    "seeds",
    "folds",
    "fold_seed",
    "test",
    "metrics",
    "keep_models",
    "output",
}


@dataclass(frozen=True)
class Cell:
    """One training run of the grid."""

    variant: str
    seed: int
    fold: int | None

    @property
    def key(self) -> str:
        """The pairing key: the same (fold, seed) across variants."""
        return f"seed{self.seed}" if self.fold is None else f"fold{self.fold}-seed{self.seed}"

    @property
    def name(self) -> str:
        return f"{self.variant}/{self.key}"


@dataclass
class ExperimentSpec:
    source: str
    base: dict[str, Any]
    variants: dict[str, dict[str, Any]]
    baseline: str
    seeds: list[int]
    folds: int | None
    fold_seed: int = 0
    test: str = "t"
    metrics: list[str] = field(default_factory=lambda: list(DEFAULT_METRICS))
    keep_models: bool = False
    output: Path = Path("runs/compare")

    def cells(self) -> list[Cell]:
        """Seed-major, then fold, then variant: partial grids are balanced across variants."""
        folds = [None] if self.folds is None else list(range(self.folds))
        return [
            Cell(variant, seed, fold)
            for seed in self.seeds
            for fold in folds
            for variant in self.variants
        ]

    def variant_config(self, variant: str, **updates: Any) -> ExperimentConfig:
        """The validated config of one variant, with cell-specific ``section.key`` updates."""
        data = _merge(self.base, self.variants[variant])
        overrides = [f"{key}={_yaml(value)}" for key, value in updates.items()]
        return build_config(
            apply_overrides(data, overrides), source=f"{self.source}: variant {variant!r}"
        )


def _yaml(value: Any) -> str:
    import yaml

    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def _merge(base: dict[str, Any], variant: dict[str, Any]) -> dict[str, Any]:
    """Variant keys replace base keys; nested sections merge; dotted keys are overrides."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    dotted = []
    for key, value in variant.items():
        if "." in key:
            dotted.append(f"{key}={_yaml(value)}")
        elif (
            isinstance(value, dict)
            and isinstance(out.get(key), dict)
            and key not in ("loss", "sampler", "strategy", "sam", "aux_loss")
        ):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return apply_overrides(out, dotted)


def _int_list(value: Any, key: str, source: str) -> list[int]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise LongtailError(
            f"{source}: {key} must be an integer or a list of integers, got {value!r}"
        )
    if len(set(values)) != len(values):
        raise LongtailError(f"{source}: {key} has duplicates: {values}")
    return values


def load_experiment(
    path: str | Path, *, output: str | None = None, baseline: str | None = None
) -> ExperimentSpec:
    """Read and validate an experiment file (every variant's config is built once here).

    ``output`` and ``baseline`` override the file's ``output:`` and ``baseline:`` (the CLI's
    ``--output`` / ``--baseline``). The baseline only decides what the summary pairs against;
    it is not part of any cell, so changing it on a finished grid retrains nothing.
    """
    raw = load_config(path)
    source = str(path)
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise LongtailError(
            f"{source}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(_KEYS))}"
        )
    base = raw.get("base") or {}
    if not isinstance(base, dict):
        raise LongtailError(
            f"{source}: base must be a mapping of config sections (data:, train:, ...)"
        )
    variants = raw.get("variants")
    if not isinstance(variants, dict) or not variants:
        raise LongtailError(
            f"{source}: variants must be a mapping of name -> overrides, e.g. {{vanilla: {{}}}}"
        )
    variants = {str(k): (v or {}) for k, v in variants.items()}
    for name, value in variants.items():
        if not isinstance(value, dict):
            raise LongtailError(
                f"{source}: variant {name!r} must be a mapping of overrides, got {value!r}"
            )
        if "/" in name or name.startswith("."):
            raise LongtailError(
                f"{source}: variant name {name!r} cannot contain '/' or start with '.'"
            )
    if baseline is not None and baseline not in variants:
        raise LongtailError(
            f"--baseline {baseline!r} is not a variant of {source}; variants: {', '.join(variants)}"
        )
    baseline = baseline or str(raw.get("baseline", next(iter(variants))))
    if baseline not in variants:
        raise LongtailError(
            f"{source}: baseline {baseline!r} is not a variant; variants: {', '.join(variants)}"
        )
    folds = raw.get("folds", 5)
    if folds is not None and (isinstance(folds, bool) or not isinstance(folds, int) or folds < 2):
        raise LongtailError(
            f"{source}: folds must be an integer >= 2, or null for the fixed split (got {folds!r})"
        )
    test = str(raw.get("test", "auto"))
    if test not in TESTS:
        raise LongtailError(f"{source}: test {test!r} is not one of {', '.join(TESTS)}")
    if test == "auto":  # folds share training rows: only the corrected test is not optimistic
        test = "t" if folds is None else "corrected_t"
    if test == "corrected_t" and folds is None:
        raise LongtailError(
            f"{source}: test corrected_t corrects for folds that share training rows; the fixed "
            "split has none (folds: null): use t, bootstrap or permutation"
        )
    metrics = raw.get("metrics", list(DEFAULT_METRICS))
    if not isinstance(metrics, list) or not metrics or not all(isinstance(m, str) for m in metrics):
        raise LongtailError(
            f"{source}: metrics must be a list of metric names, e.g. [f1_macro, mcc]"
        )
    spec = ExperimentSpec(
        source=source, base=base, variants=variants, baseline=baseline,
        seeds=_int_list(raw.get("seeds", [0]), "seeds", source), folds=folds,
        fold_seed=_int_list(raw.get("fold_seed", 0), "fold_seed", source)[0], test=test,
        metrics=list(metrics), keep_models=bool(raw.get("keep_models", False)),
        output=Path(output or raw.get("output") or base.get("output") or "runs/compare"),
    )  # fmt: skip
    for name in variants:
        config = spec.variant_config(name)
        if not config.data.train:
            raise LongtailError(f"{source}: variant {name!r} has no data.train")
        if folds is None and not config.data.test:
            raise LongtailError(
                f"{source}: variant {name!r} has no data.test; a fixed split needs a test file "
                "(or set folds: 5 to cross-validate data.train)"
            )
        if config.data.arrow:
            raise LongtailError(
                f"{source}: variant {name!r}: compare runs in memory; drop data.arrow"
            )
    return spec
