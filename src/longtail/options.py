"""Every setting of a run as one option: its ``longtail train`` flag and its ``longtail.train``
keyword, generated from the config model.

:class:`~longtail.config.ExperimentConfig` is the one source. Walking it gives one
:class:`Option` per leaf (``train.lr``, ``long_documents.mode``, ``loss``, ...): the flag and the
keyword that set it, how argparse reads it (from the annotation: a ``Literal`` gives choices,
``bool`` a switch, ``int`` / ``float`` a type, ``list[str]`` a comma-separated list), and its
help (the field's ``description``; for a registered component, followed by the names registered
when the help is printed). A new config field, or a newly registered loss, sampler, strategy,
..., shows up in the CLI, in ``--help``, in ``longtail.train``'s keywords and in
``ExperimentConfig.model_json_schema()`` at once.

The flag is ``--field-name``; :data:`FLAG_NAMES` keeps the flags whose name is not the field's
(``--data`` sets ``data.train``, ``--threshold-objective`` sets ``decision.objective``), and a
field name that several sections share becomes ``--section-field-name``. The keyword is the
flag's argparse dest (``--threshold-objective`` → ``threshold_objective``).
"""

from __future__ import annotations

import argparse
import difflib
import functools
import importlib
import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from longtail.config import ExperimentConfig, set_path
from longtail.config.loading import _spec_keys, leaf_fields
from longtail.errors import LongtailError
from longtail.registry import Registry

#: Help sections of ``longtail train`` (``GENERAL``: the parser's own options).
GENERAL = ""
REMEDIES = "strategies and augmentation (parameters: KEY=VALUE overrides)"
LONG_DOCUMENTS = "long documents (hierarchical model over chunks)"

#: Config key → flag, where the flag is not ``--field-name``: flags older than this module, kept
#: as they were, and names that would be unclear on their own (``--chunk-checkpointing``).
FLAG_NAMES: dict[str, str] = {
    "data.train": "--data",
    "data.validation": "--validation-data",
    "data.test": "--test-data",
    "model.name": "--model",
    "long_documents.enabled": "--long-documents",
    "long_documents.mode": "--long-mode",
    "long_documents.checkpoint": "--chunk-checkpointing",
    "long_documents.cache_dir": "--cache-dir",
    "augment.method": "--augment",
    "augment.target_ratio": "--augment-ratio",
    "augment.cache_dir": "--augment-cache-dir",
    "augment.min_words": "--augment-min-words",
    "augment.quality_plot": "--augment-quality-plot",
    "decision.objective": "--threshold-objective",
    "decision.beta": "--threshold-beta",
    "decision.floor": "--threshold-floor",
}

#: Config key (or section) → help section, where it is not :data:`GENERAL`.
GROUPS: dict[str, str] = {
    "strategy": REMEDIES,
    "sam": REMEDIES,
    "aux_loss": REMEDIES,
    "augment": REMEDIES,
    "long_documents": LONG_DOCUMENTS,
    "data.extra_features": LONG_DOCUMENTS,
    "data.extra_features_from": LONG_DOCUMENTS,
    "data.extra_features_folds": LONG_DOCUMENTS,
}

#: Config key → the placeholder ``--help`` shows for its value (default: the dest in capitals).
METAVARS: dict[str, str] = {
    "decision.logit_adjust": "TAU",
    "long_documents.activation_memory_mb": "MB",
    "data.extra_features_from": "MODEL",
    "data.extra_features_folds": "K",
    "lexical": "{auto,off,W}",
}


def _lazy(where: str) -> Callable[[], Registry[Any]]:
    """``"module:NAME"`` → a function that imports the registry ``NAME`` of ``module`` when called."""
    module, _, name = where.partition(":")
    return lambda: getattr(importlib.import_module(module), name)


#: Registered-component key → its registry, loaded when first asked for (the registries import
#: torch, which parsing flags or ``import longtail`` should not pay for).
REGISTRIES: dict[str, Callable[[], Registry[Any]]] = {
    "loss": _lazy("longtail.losses:LOSSES"),
    "sampler": _lazy("longtail.sampling:SAMPLERS"),
    "strategy": _lazy("longtail.training.strategies:STRATEGIES"),
    "sam": _lazy("longtail.training.sam:SAM_WRAPPERS"),
    "aux_loss": _lazy("longtail.losses.contrastive:AUX_LOSSES"),
    "long_documents.aggregator": _lazy("longtail.models.aggregators:AGGREGATORS"),
    "augment.method": _lazy("longtail.augment:AUGMENTERS"),
}


def config_annotation(key: str) -> Any:
    """The type annotation of a dotted config key in :class:`~longtail.config.ExperimentConfig`
    (``KeyError`` naming the part that does not exist)."""
    annotation: Any = ExperimentConfig
    for part in key.split("."):
        annotation = annotation.model_fields[part].annotation
    return annotation


def config_choices(key: str) -> list[str]:
    """The values a dotted config key allows, read from its ``Literal`` annotation in
    :class:`~longtail.config.ExperimentConfig` (through ``| None`` and ``list[...]``), so a
    flag's ``choices`` never drift from what the config accepts."""
    found: list[str] = []

    def collect(tp: Any) -> None:
        if get_origin(tp) is Literal:
            found.extend(str(arg) for arg in get_args(tp))
        else:
            for arg in get_args(tp):
                collect(arg)

    collect(config_annotation(key))
    if not found:
        raise TypeError(f"config key {key!r} is not a Literal")
    return found


def split_list(value: str) -> list[str]:
    """``"a, b,"`` → ``["a", "b"]``: a list option given as one comma-separated string."""
    return [item.strip() for item in value.split(",") if item.strip()]


@dataclass(frozen=True)
class Option:
    """One config leaf as a ``longtail train`` flag and a ``longtail.train`` keyword."""

    key: str  #: dotted config key (``train.lr``)
    dest: str  #: argparse dest and ``longtail.train`` keyword (``lr``)
    flag: str  #: ``--lr``
    group: str  #: help section: GENERAL, REMEDIES or LONG_DOCUMENTS
    description: str  #: the field's description
    annotation: Any  #: the field's type
    kind: Mapping[str, Any]  #: how argparse reads it: type / choices / action / default / metavar

    @property
    def registry(self) -> Callable[[], Registry[Any]] | None:
        """The registry of a registered-component key (``loss``, ``augment.method``, ...)."""
        return REGISTRIES.get(self.key)

    def add_to(self, target: Any) -> argparse.Action:
        """``target.add_argument`` for this option (a parser or an argument group). The help is
        the description; a registry's names are added when the help is printed
        (:class:`RegisteredNamesHelp`)."""
        action = target.add_argument(
            self.flag, dest=self.dest, help=self.description.replace("%", "%%"), **self.kind
        )
        action.registry = self.registry  # type: ignore[attr-defined]
        return action

    def python_value(self, value: Any) -> Any:
        """A keyword's value as the config reads it: a path as text, and a comma-separated
        string as the list a list option holds (as its flag reads it)."""
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        if isinstance(value, str) and get_origin(_plain(self.annotation)[0]) is list:
            return split_list(value)
        return value


class RegisteredNamesHelp(argparse.HelpFormatter):
    """Adds the registered names to a component flag's help when the help is printed, so a
    newly registered loss, sampler, strategy, ... is listed without editing the CLI, and a
    command that only parses its flags does not import the registries (torch)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = super()._get_help_string(action)
        registry = getattr(action, "registry", None)
        if registry is None or text is None:
            return text
        names = ", ".join(registry().names()).replace("%", "%%")
        return f"{text}; registered: {names}"


def _plain(annotation: Any) -> list[Any]:
    """The members of a union other than ``None`` (the annotation itself when not a union)."""
    if get_origin(annotation) in (typing.Union, types.UnionType):
        return [arg for arg in get_args(annotation) if arg is not type(None)]
    return [annotation]


def _kind(key: str, annotation: Any, default: Any) -> dict[str, Any]:
    """argparse keywords for a field: a switch, choices, a type, a list, or text (``{}``: a
    path, a name, a registered component, or a value the config's validator reads)."""
    parts = _plain(annotation)
    kind: dict[str, Any] = {}
    if bool in parts:
        if parts == [bool] and default is False:
            kind = {"action": "store_true", "default": None}
        else:  # on by default, or bool | Literal["auto"]: --x / --no-x, unset leaves the config
            kind = {"action": argparse.BooleanOptionalAction, "default": None}
    elif all(get_origin(part) is Literal for part in parts):
        kind = {"choices": config_choices(key)}
    elif len(parts) == 1 and get_origin(parts[0]) is list:
        [item] = get_args(parts[0])
        if get_origin(item) is Literal:
            kind = {"action": "append", "choices": config_choices(key)}
        else:
            kind = {"type": split_list}
    elif parts == [int]:
        kind = {"type": int}
    elif parts == [float]:
        kind = {"type": float}
    if key in METAVARS:
        kind["metavar"] = METAVARS[key]
    return kind


def _flags(keys: list[str]) -> dict[str, str]:
    """Config key → flag: :data:`FLAG_NAMES`, else ``--field-name``, section-prefixed where the
    field name is shared by another leaf or taken by a renamed flag."""
    taken = set(FLAG_NAMES.values())
    names = [key.rpartition(".")[2] for key in keys]
    flags: dict[str, str] = {}
    for key, name in zip(keys, names, strict=True):
        flag = FLAG_NAMES.get(key) or "--" + name.replace("_", "-")
        if key not in FLAG_NAMES and (names.count(name) > 1 or flag in taken) and "." in key:
            flag = "--" + key.replace(".", "-").replace("_", "-")
        flags[key] = flag
    return flags


@functools.cache
def options() -> tuple[Option, ...]:
    """One :class:`Option` per leaf of :class:`~longtail.config.ExperimentConfig`, in the
    config's order. Raises when two share a flag (a :data:`FLAG_NAMES` entry to add)."""
    leaves = leaf_fields(ExperimentConfig)
    flags = _flags([key for key, _ in leaves])
    built = []
    for key, field in leaves:
        flag = flags[key]
        built.append(
            Option(
                key=key,
                dest=flag.removeprefix("--").replace("-", "_"),
                flag=flag,
                group=GROUPS.get(key, GROUPS.get(key.partition(".")[0], GENERAL)),
                description=field.description or "",
                annotation=field.annotation,
                kind=_kind(key, field.annotation, field.default),
            )
        )
    dests = [option.dest for option in built]
    if len(set(dests)) != len(dests):
        shared = sorted({dest for dest in dests if dests.count(dest) > 1})
        raise RuntimeError(f"config options share the names {shared}; add them to FLAG_NAMES")
    missing = sorted(set(REGISTRIES) ^ _spec_keys())
    if missing:
        raise RuntimeError(f"registered-component keys without a registry in REGISTRIES: {missing}")
    return tuple(built)


@functools.cache
def options_by_dest() -> dict[str, Option]:
    """Keyword (flag dest) → :class:`Option`."""
    return {option.dest: option for option in options()}


def option_keys(*dests: str) -> dict[str, str]:
    """Keyword → config key for the given keywords (``KeyError`` for one that is no option)."""
    by_dest = options_by_dest()
    return {dest: by_dest[dest].key for dest in dests}


def unknown_keywords(names: list[str], source: str) -> LongtailError:
    """One line naming each unknown keyword and the closest valid ones."""
    valid = list(options_by_dest())
    named = []
    for name in names:
        close = [repr(c) for c in difflib.get_close_matches(name, valid, n=3)]
        hint = " or ".join([", ".join(close[:-1]), close[-1]] if len(close) > 1 else close)
        named.append(f"{name!r} (did you mean {hint}?)" if close else repr(name))
    noun = "keyword" if len(names) == 1 else "keywords"
    return LongtailError(
        f"{source}: unknown {noun} {', '.join(named)}; the keywords are the flags of `longtail "
        f"train` without the dashes (max_length for --max-length); help({source}) lists all "
        f"{len(valid)}"
    )


def apply_options(data: dict[str, Any], values: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Set each option given by keyword at its config key in ``data`` (nested sections, as a
    YAML file holds them); ``None`` leaves the key as it is. Unknown keywords fail in one line."""
    by_dest = options_by_dest()
    unknown = [name for name in values if name not in by_dest]
    if unknown:
        raise unknown_keywords(unknown, source)
    for dest, value in values.items():
        option = by_dest[dest]
        set_path(data, option.key, option.python_value(value))
    return data
