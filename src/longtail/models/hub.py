"""Hugging Face hub names without a network: fail in a second, not after a minute of retries.

``from_pretrained("bert-base-uncased")`` on a machine without network retries each file with
back-off (huggingface_hub 1.x/2.x: about 50 s and 20 log lines) before it gives up. Before
loading a hub name, :func:`hub_load_options` asks the hub once, with a short timeout and no
retry, for the model's ``config.json``:

* reachable (or any HTTP answer, e.g. a 404 for a misspelt name): load as usual, so users with
  internet get the usual download, update check and error messages;
* unreachable, but the model is in the local hub cache: load from the cache
  (``local_files_only=True``), as ``transformers`` itself would after its retries;
* unreachable and not cached: one :class:`~longtail.errors.LongtailError` naming the fix.

``HF_HUB_OFFLINE=1`` (or ``TRANSFORMERS_OFFLINE=1``), read when the model is loaded, skips the
question: the model must come from the cache. ``HF_HUB_ETAG_TIMEOUT`` sets the probe's timeout
(default 5 s here, where huggingface_hub's own default is 10 s per try).
"""

from __future__ import annotations

import os
from typing import Any

from longtail.errors import LongtailError

PROBE_TIMEOUT_S = 5.0
_TRUE = {"1", "ON", "YES", "TRUE"}
#: Where the HTTP clients of huggingface_hub versions keep their network errors.
_NETWORK_MODULES = {"httpx", "httpx2", "httpcore", "requests", "urllib3"}


def offline_mode() -> bool:
    """``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` as they are now (not at import)."""
    from huggingface_hub import constants

    names = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    return any(os.environ.get(n, "").upper() in _TRUE for n in names) or constants.HF_HUB_OFFLINE


def is_cached(name: str) -> bool:
    """Whether the hub cache holds ``name``'s ``config.json`` (its other files come with it)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:  # an id the hub would refuse (e.g. with spaces): not in the cache
        return False


def _unreachable(exc: BaseException) -> bool:
    """A network failure (DNS, refused, timeout, offline mode), not an HTTP answer."""
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(exc, HfHubHTTPError):
        return False
    module = type(exc).__module__.split(".")[0]
    return isinstance(exc, OSError) or module in _NETWORK_MODULES


def _probe(name: str) -> BaseException | None:
    """One HEAD request for ``name``'s config.json: the network error, or ``None``."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    timeout = float(os.environ.get("HF_HUB_ETAG_TIMEOUT") or PROBE_TIMEOUT_S)
    try:
        get_hf_file_metadata(hf_hub_url(name, "config.json"), timeout=timeout)
    except Exception as exc:  # HTTP errors and odd names are from_pretrained's to explain
        return exc if _unreachable(exc) else None
    return None


def hub_load_options(name: str) -> dict[str, Any]:
    """Extra ``from_pretrained`` keywords for hub name ``name`` (see the module docstring).

    Raises:
        LongtailError: the hub cannot be reached (or offline mode is on) and the cache lacks it.
    """
    fix = (
        "pass a local model directory with --model, or set HF_HUB_OFFLINE=1 on a machine whose "
        "hub cache holds the model (download it once where there is network)"
    )
    if offline_mode():
        if not is_cached(name):
            raise LongtailError(
                f"model {name!r} is not in the Hugging Face cache and HF_HUB_OFFLINE is set; "
                f"{fix.replace('or set HF_HUB_OFFLINE=1 on a machine whose', 'or use a machine whose')}"
            )
        return {"local_files_only": True}
    error = _probe(name)
    if error is None:
        return {}
    if is_cached(name):
        return {"local_files_only": True}
    reason = " ".join(str(error).split())[:120] or type(error).__name__
    raise LongtailError(
        f"model {name!r} is not a local directory and could not be downloaded from the Hugging Face "
        f"hub (no network? {reason}); {fix}"
    )
