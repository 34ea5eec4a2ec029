"""Validated experiment configuration: YAML files, CLI flags and dotted overrides.

One :class:`ExperimentConfig` describes a training run. It comes from a YAML file
(``longtail train --config exp.yaml``), from CLI flags, and from dotted overrides
(``longtail train --config exp.yaml train.epochs=2 loss.name=focal``); all three end up here and are
validated once. Every bad key or value becomes a one-line :class:`~longtail.errors.LongtailError`
naming the key and the valid choices.

The package reads in the order a run needs it: :mod:`~longtail.config.base` (strict sections,
the one spelling of "off"), :mod:`~longtail.config.sections` (``data``, ``model``,
``long_documents``), :mod:`~longtail.config.training` (``train``, ``decision``, ``augment``),
:mod:`~longtail.config.experiment` (the whole run and its cross-section defaults) and
:mod:`~longtail.config.loading` (YAML, overrides, errors). Everything is importable from
``longtail.config``.
"""

from __future__ import annotations

from longtail.config.base import OFF, is_off
from longtail.config.experiment import (
    FROZEN_TRAIN_DEFAULTS,
    ExperimentConfig,
    solves_frozen_documents,
    solves_frozen_head,
)
from longtail.config.loading import (
    apply_overrides,
    build_config,
    dotted_items,
    dump_config,
    load_config,
    set_path,
    valid_keys,
)
from longtail.config.sections import (
    DataConfig,
    LongDocumentConfig,
    ModelConfig,
)
from longtail.config.training import (
    CONVERGENCE_PATIENCE,
    AugmentConfig,
    DecisionConfig,
    TrainConfig,
)

__all__ = [
    "AugmentConfig",
    "CONVERGENCE_PATIENCE",
    "DataConfig",
    "DecisionConfig",
    "ExperimentConfig",
    "FROZEN_TRAIN_DEFAULTS",
    "LongDocumentConfig",
    "ModelConfig",
    "OFF",
    "TrainConfig",
    "apply_overrides",
    "build_config",
    "dotted_items",
    "dump_config",
    "is_off",
    "load_config",
    "set_path",
    "solves_frozen_documents",
    "solves_frozen_head",
    "valid_keys",
]
