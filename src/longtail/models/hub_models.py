"""longtail model directories on the Hugging Face hub: resolve a hub id, push a directory.

A model directory (``longtail.json``, ``head.safetensors``, ``encoder/``, the model card
``README.md``) is an ordinary hub repository; no remote code, safetensors only.

- :func:`resolve_model_dir`: a local directory as it is; anything else is a hub id fetched
  through ``huggingface_hub.snapshot_download`` into its cache (``revision``, ``cache_dir`` and
  ``HF_HUB_OFFLINE`` honoured: offline, the cached snapshot is used or a one-line error says it
  is missing). Only the files a model directory holds are fetched — never a pickle.
- :func:`push_model_dir`: create the repository if needed and upload the directory's files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from longtail.errors import LongtailError

#: What a model directory is made of (``snapshot_download`` / ``upload_folder`` patterns).
MODEL_FILES = ("longtail.json", "head.safetensors", "README.md", "encoder/*")
#: Never fetched or pushed, whatever a repository holds.
NEVER = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl", "checkpoint/*")


def resolve_model_dir(
    name_or_path: str | os.PathLike[str],
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    token: str | bool | None = None,
) -> Path:
    """A local model directory for ``name_or_path``: itself if it exists, else the hub's copy."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    name = str(name_or_path)
    if name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise LongtailError(
            f"{name}: no such model directory, and not a hub id (owner/name); pass the folder "
            "`longtail train --output` wrote, or a hub repository id"
        )
    from huggingface_hub import snapshot_download

    try:
        local = snapshot_download(
            repo_id=name, revision=revision, cache_dir=cache_dir, token=token,
            allow_patterns=list(MODEL_FILES), ignore_patterns=list(NEVER),
        )  # fmt: skip
    except Exception as exc:  # offline and not cached, no such repo, no access, no network
        detail = " ".join(str(exc).split())[:240]
        raise LongtailError(
            f"cannot fetch the model {name!r} from the hub ({type(exc).__name__}: {detail}); "
            "check the id and your access, or unset HF_HUB_OFFLINE to download it"
        ) from None
    return Path(local)


def push_model_dir(
    directory: str | os.PathLike[str],
    repo_id: str,
    *,
    token: str | bool | None = None,
    private: bool | None = None,
    commit_message: str = "Upload longtail model",
    api: Any = None,
) -> str:
    """Upload a model directory to the hub repository ``repo_id`` (made if missing); returns
    the commit's URL. ``api``: an ``HfApi`` (default: a new one with ``token``)."""
    directory = Path(directory)
    if not (directory / "longtail.json").is_file():
        raise LongtailError(f"{directory}: not a model directory (no longtail.json)")
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    api.create_repo(repo_id=repo_id, private=private, exist_ok=True, repo_type="model")
    commit = api.upload_folder(
        folder_path=str(directory), repo_id=repo_id, repo_type="model",
        allow_patterns=list(MODEL_FILES), ignore_patterns=list(NEVER),
        commit_message=commit_message,
    )  # fmt: skip
    return str(getattr(commit, "commit_url", commit))
