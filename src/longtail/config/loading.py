"""From YAML, flags and dotted overrides to a validated :class:`ExperimentConfig`, and back;
every bad key or value a one-line error naming it and the valid choices."""

from __future__ import annotations

import difflib
import functools
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)
from pydantic.fields import FieldInfo

from longtail.config.experiment import ExperimentConfig
from longtail.errors import LongtailError


def leaf_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, FieldInfo]]:
    """``(dotted key, pydantic field)`` of every leaf of a config model, sections walked in
    declaration order (``data.train``, ..., ``train.lr``, ..., ``loss``)."""
    leaves: list[tuple[str, FieldInfo]] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            leaves.extend(leaf_fields(annotation, f"{prefix}{name}."))
        else:
            leaves.append((f"{prefix}{name}", field))
    return leaves


def valid_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every dotted leaf key of a config model, in field order: what an override, a flag or a
    keyword may set."""
    return [key for key, _ in leaf_fields(model, prefix)]


def _short_repr(value: Any, limit: int = 80) -> str:
    try:
        text = repr(value)
    except RecursionError:
        text = f"a deeply nested {type(value).__name__}"
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _key_hint(key: str) -> str:
    """The valid keys of the key's section (or all of them), then the closest one."""
    valid = valid_keys(ExperimentConfig)
    section = key.split(".")[0] + "."
    same = [k for k in valid if k.startswith(section)] if "." in key else []
    hint = f"valid keys: {', '.join(same or valid)}"
    close = difflib.get_close_matches(key, valid, n=1)
    return f"{hint}; did you mean {close[0]!r}?" if close else hint


def _unknown_keys(keys: list[str], source: str) -> LongtailError:
    """Every unknown key in one line, each with its closest valid key when there are several."""
    if len(keys) == 1:
        return LongtailError(f"{source}: unknown key {keys[0]!r}; {_key_hint(keys[0])}")
    valid = valid_keys(ExperimentConfig)
    named = []
    for key in keys:
        close = difflib.get_close_matches(key, valid, n=1)
        named.append(f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key))
    sections = tuple(key.split(".")[0] + "." for key in keys)
    same = (
        valid if any("." not in k for k in keys) else [k for k in valid if k.startswith(sections)]
    )
    return LongtailError(
        f"{source}: {len(keys)} unknown keys: {', '.join(named)}; valid keys: {', '.join(same)}"
    )


def _describe(error: ValidationError, source: str) -> LongtailError:
    errors = error.errors()
    unknown = [
        ".".join(str(part) for part in e["loc"]) for e in errors if e["type"] == "extra_forbidden"
    ]
    if unknown:
        return _unknown_keys(list(dict.fromkeys(unknown)), source)
    first = errors[0]
    key = ".".join(str(part) for part in first["loc"])
    if not key:
        return LongtailError(
            f"{source}: the top level must be a mapping of sections (data:, train:, ...), "
            f"got {_short_repr(first.get('input'))}"
        )
    message = first["msg"].removeprefix("Value error, ")
    got = first.get("input")  # a check across a section's keys: the section is not repeated
    cross = first["type"] == "value_error" and isinstance(got, dict)
    got = "" if cross else f" (got {_short_repr(got)})"
    return LongtailError(f"{source}: {key}: {message}{got}")


#: A registered name per component key, for the error when a spec has parameters but no name.
_NAME_EXAMPLES = {
    "loss": "bce (multilabel) or loss.name=ce (single-label)",
    "sampler": "oversample",
    "strategy": "drw",
    "sam": "sam",
    "aux_loss": "supcon",
    "augment.method": "eda",
    "long_documents.aggregator": "attention",
}


def build_config(data: dict[str, Any], source: str = "config") -> ExperimentConfig:
    try:
        config = ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise _describe(exc, source) from None
    except RecursionError:
        raise LongtailError(f"{source}: a value is nested too deeply; flatten it") from None
    _check_spec_names(config, source)
    return config


def _check_spec_names(config: ExperimentConfig, source: str) -> None:
    """A component given as parameters needs its name: ``loss.pos_weight=sqrt_ratio`` on an
    unset loss is not "the default loss with this parameter", since the default depends on the
    task (:mod:`longtail.defaults`). Refused here, before any data or model is loaded."""
    for key in sorted(_spec_keys()):
        value: Any = config
        for part in key.split("."):
            value = getattr(value, part)
        if isinstance(value, dict) and not isinstance(value.get("name"), str):
            params = ", ".join(f"{key}.{k}" for k in value if k != "name") or "no parameters"
            raise LongtailError(
                f"{source}: {key} sets {params} but no {key}.name; name the {key.split('.')[-1]}, "
                f"e.g. {key}.name={_NAME_EXAMPLES.get(key, '<name>')}"
            )


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """`` line 3, column 1: not valid YAML (expected ',' or ']'; ...)`` from a PyYAML error."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
    context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and start is not None and (mark is None or start.line != mark.line):
        problem = f"{problem}; {context} that starts at line {start.line + 1}"
    where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{where}: not valid YAML ({problem})"


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML experiment file into a plain dict (validated later, after overrides)."""
    path = Path(path)
    if path.is_dir():
        raise LongtailError(f"config file {path} is a directory; pass a YAML file")
    if not path.is_file():
        raise LongtailError(f"config file {path} does not exist; check the path")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LongtailError(
            f"{path}: not valid UTF-8 ({exc.reason}); re-save it as UTF-8"
        ) from None
    except OSError as exc:
        raise LongtailError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise LongtailError(f"{path}{_yaml_problem(exc)}; fix the YAML syntax") from None
    except RecursionError:
        raise LongtailError(f"{path}: not valid YAML (nested too deeply)") from None
    except (ValueError, TypeError, AttributeError) as exc:  # bad tagged scalars: !!int abc
        raise LongtailError(f"{path}: not valid YAML ({exc})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise LongtailError(
            f"{path}: the top level must be a mapping of sections (data:, train:, ...)"
        )
    return data


def _is_spec(annotation: Any) -> bool:
    """A registry component: a name or a ``{name: ..., **params}`` mapping (``str | dict``)."""
    args = typing.get_args(annotation)
    return str in args and any(a is dict or typing.get_origin(a) is dict for a in args)


@functools.cache
def _spec_keys(model: type[BaseModel] | None = None, prefix: str = "") -> frozenset[str]:
    """Dotted keys whose value is a component spec: ``loss``, ``augment.method``, ..."""
    keys: set[str] = set()
    for name, field in (model or ExperimentConfig).model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _spec_keys(annotation, f"{prefix}{name}.")
        elif _is_spec(annotation):
            keys.add(f"{prefix}{name}")
    return frozenset(keys)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides; values are parsed as YAML scalars/lists."""
    result = {
        key: (dict(value) if isinstance(value, dict) else value) for key, value in data.items()
    }
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise LongtailError(
                f"override {item!r} must look like section.key=value (e.g. train.epochs=2)"
            )
        try:
            value = yaml.safe_load(raw) if raw else None
        except (yaml.YAMLError, ValueError, TypeError, AttributeError, RecursionError):
            value = raw  # not YAML (or a bad tag like !!int abc): keep the text; validation decides
        node = result
        parts = key.split(".")
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if isinstance(child, str) and ".".join(parts[: depth + 1]) in _spec_keys():
                child = {"name": child}  # "focal" -> {"name": "focal"}, then add the parameter
            if child is None:
                child = {}
            if not isinstance(child, dict):
                raise LongtailError(f"override {item!r}: {part!r} is not a section")
            node[part] = child = dict(child)
            node = child
        node[parts[-1]] = value
    return result


def set_path(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``data['a']['b'] = value`` for ``key='a.b'``, skipping ``None`` (flag not given)."""
    if value is None:
        return
    section, _, name = key.partition(".")
    if not name:
        data[section] = value
        return
    data.setdefault(section, {})
    data[section][name] = value


def dotted_items(values: typing.Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 1e-3}}`` → ``{"train.lr": 1e-3}``, the keys that overrides use.

    Nested mappings become dotted keys (an empty one yields none); other values are kept as is.
    """
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, typing.Mapping):
            out.update(dotted_items(value, f"{name}."))
        else:
            out[name] = value
    return out


def dump_config(config: ExperimentConfig) -> dict[str, Any]:
    return config.model_dump(mode="json")
