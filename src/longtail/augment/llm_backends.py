"""Backends that turn chat prompts into completions: an OpenAI-compatible HTTP endpoint, or a
local Hugging Face causal LM (optionally from a GGUF file).

Both expose ``complete(prompts, *, seed, max_new_tokens, temperature) -> list[str]`` (one
completion per prompt) and a ``usage`` counter (requests, prompt and completion tokens).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Any

from longtail.augment.back_translation import check_model_source, check_number
from longtail.errors import LongtailError
from longtail.io_utils import make_staging_directory

Messages = list[dict[str, str]]
DEFAULT_BASE_URL = "https://api.openai.com/v1"
_RETRY_STATUS = {408, 409, 425, 429}


class OpenAIBackend:
    """Chat completions from an OpenAI-compatible endpoint, with stdlib ``urllib`` only.

    Retries 429, 5xx, timeouts and connection errors with exponential backoff
    (``retry_backoff · 2^attempt`` seconds, or the server's ``Retry-After``), spaces requests
    to at most ``requests_per_minute``, and never writes the API key anywhere but the
    ``Authorization`` header (errors name the URL and the environment variable only).

    Args:
        model: Model name the endpoint serves.
        base_url: Endpoint root (default ``$OPENAI_BASE_URL``, else the OpenAI API).
        api_key_env: Environment variable holding the key; unset → no ``Authorization`` header
            (fine for local servers).
        max_retries: Retries after the first attempt.
        requests_per_minute: Rate limit (``None`` or 0: none).
        timeout: Seconds per request.
        retry_backoff: Base of the exponential backoff, seconds.
    """

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        max_retries: int = 5,
        requests_per_minute: float | None = None,
        timeout: float = 60.0,
        retry_backoff: float = 1.0,
    ) -> None:
        root = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        self.url = root.rstrip("/") + "/chat/completions"
        self.model, self.api_key_env = model, api_key_env
        self.max_retries = check_number(max_retries, "max_retries", "llm", integer=True, low=0)
        self.timeout = check_number(timeout, "timeout", "llm", low=0, low_open=True)
        self.retry_backoff = check_number(retry_backoff, "retry_backoff", "llm", low=0)
        rate = check_number(requests_per_minute, "requests_per_minute", "llm", low=0, none_ok=True)
        self.min_interval = 60.0 / rate if rate else 0.0
        self._last_request = -float("inf")
        self.usage = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0}

    def complete(
        self, prompts: list[Messages], *, seed: int, max_new_tokens: int, temperature: float
    ) -> list[str]:
        return [self._one(m, seed, max_new_tokens, temperature) for m in prompts]

    def _one(self, messages: Messages, seed: int, max_new_tokens: int, temperature: float) -> str:
        body = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_new_tokens,
            "temperature": temperature,
            "seed": seed,
        }
        reply = self._post(json.dumps(body).encode("utf-8"))
        usage = reply.get("usage") or {}
        self.usage["requests"] += 1
        self.usage["prompt_tokens"] += int(usage.get("prompt_tokens") or 0)
        self.usage["completion_tokens"] += int(usage.get("completion_tokens") or 0)
        try:
            return str(reply["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError, TypeError) as exc:
            raise LongtailError(
                f"LLM endpoint {self.url} returned no choices[0].message.content"
            ) from exc

    def _post(self, data: bytes) -> dict[str, Any]:
        key = os.environ.get(self.api_key_env, "")
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        last = "no attempt"
        for attempt in range(self.max_retries + 1):
            self._wait_for_rate_limit()
            request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            delay = self.retry_backoff * 2**attempt
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    payload = response.read()
                try:
                    return dict(json.loads(payload))
                except (ValueError, TypeError) as exc:
                    raise LongtailError(f"LLM endpoint {self.url} did not return JSON") from exc
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
                if exc.code not in _RETRY_STATUS and exc.code < 500:
                    detail = _scrub(exc.read()[:200].decode("utf-8", "replace"), key)
                    raise LongtailError(
                        f"LLM endpoint {self.url} answered HTTP {exc.code} ({detail}); check the "
                        f"model name, the URL and the key in ${self.api_key_env}"
                    ) from None
                delay = _retry_after(exc.headers.get("Retry-After"), delay)
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                last = _scrub(str(getattr(exc, "reason", exc)) or type(exc).__name__, key)
            if attempt < self.max_retries:
                time.sleep(min(delay, 60.0))
        raise LongtailError(
            f"LLM endpoint {self.url} unreachable after {self.max_retries + 1} attempts ({last}); "
            "rows generated so far are kept in the cache; check --cache-dir, the URL and rerun"
        )

    def _wait_for_rate_limit(self) -> None:
        wait = self._last_request + self.min_interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_request = time.monotonic()


def _retry_after(value: str | None, default: float) -> float:
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


def _scrub(text: str, secret: str) -> str:
    text = " ".join(text.split())
    return text.replace(secret, "***") if secret else text


class LocalBackend:
    """A local causal LM via ``AutoModelForCausalLM`` (optionally from a GGUF file).

    GGUF weights are dequantised on load (~30 s for SmolLM2-135M on 2 CPU cores); with
    ``model_cache_dir`` the dequantised model is saved once (``save_pretrained``, safetensors)
    and later runs load that copy, which is much faster.

    Args:
        model: Local directory or hub name.
        gguf_file: A GGUF file name inside ``model`` (or an absolute path to one).
        model_cache_dir: Where to keep dequantised GGUF models.
        batch_size: Prompts per ``generate`` call.
        device: ``"cpu"``, ``"cuda"``, ... (default: CUDA when available).
    """

    def __init__(
        self,
        model: str,
        gguf_file: str | None = None,
        model_cache_dir: str | None = None,
        batch_size: int = 8,
        device: str | None = None,
    ) -> None:
        if gguf_file and Path(gguf_file).is_absolute():
            model, gguf_file = str(Path(gguf_file).parent), Path(gguf_file).name
        self.source = check_model_source(model, "model", "llm")
        self.gguf_file, self.model_cache_dir = gguf_file, model_cache_dir
        self.batch_size = check_number(batch_size, "batch_size", "llm", integer=True, low=1)
        self.device = device
        self._loaded: tuple[Any, Any] | None = None
        self.usage = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0}

    def complete(
        self, prompts: list[Messages], *, seed: int, max_new_tokens: int, temperature: float
    ) -> list[str]:
        import torch

        model, tokenizer = self._load()
        out: list[str] = []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for start in range(0, len(prompts), self.batch_size):
                out += self._generate(
                    model,
                    tokenizer,
                    prompts[start : start + self.batch_size],
                    max_new_tokens,
                    temperature,
                )
        return out

    def _generate(
        self, model: Any, tokenizer: Any, prompts: list[Messages], max_new: int, temperature: float
    ) -> list[str]:
        import torch

        chat = bool(getattr(tokenizer, "chat_template", None))
        texts = [
            tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True)
            if chat
            else "\n\n".join(x["content"] for x in m) + "\n"
            for m in prompts
        ]
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=not chat)
        enc.pop("token_type_ids", None)
        enc = enc.to(model.device)
        sampling = (
            {"do_sample": True, "temperature": temperature}
            if temperature > 0
            else {"do_sample": False}
        )
        with torch.inference_mode():
            ids = model.generate(
                **enc, max_new_tokens=max_new, pad_token_id=tokenizer.pad_token_id, **sampling
            )
        new = ids[:, enc["input_ids"].shape[1] :]
        self.usage["requests"] += len(prompts)
        self.usage["prompt_tokens"] += int(enc["attention_mask"].sum())
        self.usage["completion_tokens"] += int((new != tokenizer.pad_token_id).sum())
        return tokenizer.batch_decode(new, skip_special_tokens=True)

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            self._loaded = _load_causal_lm(
                self.source, self.gguf_file, self.model_cache_dir, self.device
            )
        return self._loaded


def _load_causal_lm(
    source: str, gguf_file: str | None, cache_dir: str | None, device: str | None
) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cached = None
    if gguf_file and cache_dir:
        digest = hashlib.sha256(f"{source}\x00{gguf_file}".encode()).hexdigest()[:16]
        cached = Path(cache_dir) / f"{Path(gguf_file).stem}-{digest}"
    try:
        if cached is not None and (cached / "config.json").is_file():
            tokenizer = AutoTokenizer.from_pretrained(cached)
            model = AutoModelForCausalLM.from_pretrained(cached, use_safetensors=True)
        else:
            extra = {"gguf_file": gguf_file} if gguf_file else {}
            tokenizer = AutoTokenizer.from_pretrained(source, **extra)
            # a GGUF file is parsed, not unpickled; anything else must be safetensors
            safe = {} if gguf_file else {"use_safetensors": True}
            model = AutoModelForCausalLM.from_pretrained(source, **extra, **safe)
            if cached is not None:
                _save_atomically(model, tokenizer, cached)
    except (OSError, ValueError, ImportError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LongtailError(
            f"cannot load LLM {source!r} (gguf_file={gguf_file!r}): {first}"
        ) from exc
    tokenizer.padding_side = "left"  # decoder-only models generate after the prompt
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval(), tokenizer


def _save_atomically(model: Any, tokenizer: Any, target: Path) -> None:
    """Save the dequantised model into a temporary sibling, then rename it into place.

    GGUF weights that transformers dequantised on load are plain float tensors, but the model
    still carries its GGUF quantizer, which refuses ``save_pretrained``: it is dropped first.
    Weights left in GGUF blocks (a GGUF kernel was used) cannot be cached: a warning says so.
    """
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        if not all(p.is_floating_point() for p in model.parameters()):
            warnings.warn(
                f"GGUF weights stay quantised; not caching them in {target}", stacklevel=3
            )
            return
        quantizer.remove_quantization_config(model)
    tmp = make_staging_directory(target)  # umask modes, unlike mkdtemp's private 0700
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)
    except (OSError, ValueError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "config.json").is_file():  # another run may have won the race
            warnings.warn(f"could not cache the dequantised model in {target}: {exc}", stacklevel=3)
