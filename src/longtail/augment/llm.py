"""LLM augmentation: ask a chat model for new texts like a source text, few-shot from its class.

For each source text the prompt shows up to ``num_examples`` other texts of the same class (when
called through :func:`~longtail.augment.augment_minority`) and asks for ``n`` rephrasings, one per
line (the AugGPT recipe). The reply is split into lines; list markers and quotes are removed.
Lines that merely echo the prompt's instructions are dropped by the filters (``echo_texts``).

Backends: ``"openai"`` (any OpenAI-compatible chat endpoint, see
:class:`~longtail.augment.llm_backends.OpenAIBackend`) and ``"local"`` (a Hugging Face causal LM,
optionally from a GGUF file, see :class:`~longtail.augment.llm_backends.LocalBackend`).

Reference:
    Dai et al., 2023. "AugGPT: Leveraging ChatGPT for Text Data Augmentation." arXiv:2302.13007.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from typing import Any

from longtail.augment.back_translation import check_number
from longtail.augment.llm_backends import LocalBackend, Messages, OpenAIBackend
from longtail.errors import LongtailError

SYSTEM_PROMPT = "You rewrite short texts to create training data for a text classifier."
PROMPT_TEMPLATE = (
    "Here are example texts of one category:\n{examples}\n\n"
    "Rephrase the following text of the same category {n} times, keeping its meaning, tone and "
    "style. Answer with one rephrased text per line and nothing else.\n"
    "Text: {text}"
)
_MARKER = re.compile(r"^\s*(?:\d+\s*[.):-]|[-*•]|text\s*\d*\s*:)\s*", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
_BACKENDS = ("openai", "local")


class LLMAugmenter:
    """New texts from a chat LLM, few-shot prompted with same-class examples (Dai et al., 2023).

    Args:
        backend: ``"openai"`` or ``"local"``.
        model: Endpoint model name (openai) or local directory / hub name (local).
        base_url: openai: endpoint root (default ``$OPENAI_BASE_URL``).
        api_key_env: openai: environment variable with the key (the key itself never leaves it).
        max_retries: openai: retries on 429, 5xx and connection errors (>= 0).
        requests_per_minute: openai: rate limit (``None`` or 0: none).
        timeout: openai: seconds per request (> 0).
        retry_backoff: openai: base seconds of the exponential backoff (>= 0).
        gguf_file: local: GGUF file inside ``model`` (or an absolute path).
        model_cache_dir: local: keep dequantised GGUF models here for faster reloads.
        device: local: torch device.
        batch_size: Prompts per call (local: per ``generate``; openai requests are sequential).
        max_new_tokens: Completion length limit (>= 1).
        temperature: Sampling temperature (>= 0; 0: greedy for the local backend).
        num_examples: Same-class few-shot examples per prompt (0: none, a zero-shot prompt).
        prompt: Template with ``{examples}``, ``{n}`` and ``{text}``.
        system: System message.

    Example:
        >>> llm = LLMAugmenter("openai", model="gpt-4o-mini")
        >>> llm.augment(["Win a free phone now"], 3, seed=0, examples=["Claim your prize"])
    """

    name = "llm"
    uses_examples = True

    def __init__(
        self,
        backend: str = "openai",
        model: str | None = None,
        *,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        max_retries: int = 5,
        requests_per_minute: float | None = None,
        timeout: float = 60.0,
        retry_backoff: float = 1.0,
        gguf_file: str | None = None,
        model_cache_dir: str | None = None,
        device: str | None = None,
        batch_size: int = 8,
        max_new_tokens: int = 128,
        temperature: float = 0.9,
        num_examples: int = 3,
        prompt: str = PROMPT_TEMPLATE,
        system: str = SYSTEM_PROMPT,
    ) -> None:
        if backend not in _BACKENDS:
            raise LongtailError(f"unknown llm backend {backend!r}; valid: {', '.join(_BACKENDS)}")
        if not model:
            what = (
                "an endpoint model name" if backend == "openai" else "a local directory or hub name"
            )
            raise LongtailError(f"llm backend {backend!r} needs model=<{what}>")
        if "{text}" not in prompt:
            raise LongtailError("llm prompt template must contain {text}")
        # every number is checked here, whatever the backend: a bad value fails before any use
        max_retries = check_number(max_retries, "max_retries", self.name, integer=True, low=0)
        requests_per_minute = check_number(
            requests_per_minute, "requests_per_minute", self.name, low=0, none_ok=True
        )
        timeout = check_number(timeout, "timeout", self.name, low=0, low_open=True)
        retry_backoff = check_number(retry_backoff, "retry_backoff", self.name, low=0)
        batch_size = check_number(batch_size, "batch_size", self.name, integer=True, low=1)
        self.backend_name, self.model = backend, str(model)
        self.max_new_tokens = check_number(
            max_new_tokens, "max_new_tokens", self.name, integer=True, low=1
        )
        self.temperature = check_number(temperature, "temperature", self.name, low=0)
        self.num_examples = check_number(
            num_examples, "num_examples", self.name, integer=True, low=0
        )
        self.prompt, self.system = prompt, system
        if backend == "openai":
            self.backend: Any = OpenAIBackend(
                self.model,
                base_url,
                api_key_env,
                max_retries,
                requests_per_minute,
                timeout,
                retry_backoff,
            )
            self.batch_size = 1  # one request per cache transaction: a failure loses nothing
            self._identity = {"base_url": self.backend.url, "api_key_env": api_key_env}
        else:
            self.backend = LocalBackend(self.model, gguf_file, model_cache_dir, batch_size, device)
            self.batch_size = batch_size
            self._identity = {"gguf_file": gguf_file}
        self.usage: dict[str, int] = {"rows": 0, **self.backend.usage}
        self.echo_texts = _fixed_parts(prompt) + [system]

    def cache_params(self) -> dict[str, Any]:
        """Everything that shapes the output, minus secrets (only the key's variable name)."""
        return {
            "backend": self.backend_name,
            "model": self.model,
            **self._identity,
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "num_examples": self.num_examples,
            "prompt": self.prompt,
            "system": self.system,
        }

    def augment(
        self,
        texts: list[str],
        n_per_text: int,
        *,
        seed: int,
        examples: Sequence[str] | None = None,
    ) -> list[list[str]]:
        """Up to ``n_per_text`` new texts per text (the model may answer with fewer lines)."""
        if n_per_text <= 0 or not texts:
            return [[] for _ in texts]
        prompts = [self.messages(t, n_per_text, examples or (), seed) for t in texts]
        replies = self.backend.complete(
            prompts, seed=seed, max_new_tokens=self.max_new_tokens, temperature=self.temperature
        )
        out = [parse_lines(reply)[:n_per_text] for reply in replies]
        self.usage.update(self.backend.usage)
        self.usage["rows"] += sum(len(o) for o in out)
        return out

    def messages(self, text: str, n: int, examples: Sequence[str], seed: int) -> Messages:
        """The chat messages for one source text (examples drawn reproducibly, never itself)."""
        pool = [e for e in dict.fromkeys(examples) if e != text]
        digest = hashlib.sha256(f"{seed}\x00{text}".encode()).digest()
        shots = random.Random(int.from_bytes(digest[:8], "little")).sample(
            pool, min(self.num_examples, len(pool))
        )
        block = "\n".join(f"- {' '.join(e.split())}" for e in shots) or "- (none)"
        user = self.prompt.format(examples=block, n=n, text=" ".join(text.split()))
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]


def parse_lines(reply: str) -> list[str]:
    """One text per non-empty line, without list markers, quotes, or preamble lines (``...:``)."""
    lines = []
    for raw in reply.splitlines():
        line = _MARKER.sub("", raw).strip().strip('"“”').strip()
        if line and not line.endswith(":"):
            lines.append(line)
    return lines


def _fixed_parts(template: str) -> list[str]:
    """The template's own words, split at placeholders and lines: what an echo would repeat."""
    parts = []
    for line in template.splitlines():
        parts += [p.strip(" :-") for p in _PLACEHOLDER.split(line)]
    return [p for p in parts if len(p.split()) >= 3]
