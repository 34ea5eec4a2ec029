"""Back-translation: translate into a pivot language and back to get paraphrases.

Any pair of sequence-to-sequence models loads through ``AutoModelForSeq2SeqLM`` and
``AutoTokenizer``, e.g. MarianMT ``Helsinki-NLP/opus-mt-en-de`` (forward) and
``Helsinki-NLP/opus-mt-de-en`` (backward), given as hub names or local directories. For
diversity the forward pass *samples* ``n_per_text`` pivots per text (Edunov et al., 2018 found
sampled back-translations beat beam search for augmentation); the backward pass uses beam search
(``num_beams``). Generation is batched, seeded, and never touches the global RNG state.

References:
    Sennrich, Haddow & Birch, 2016. "Improving Neural Machine Translation Models with Monolingual
    Data." ACL. arXiv:1511.06709.
    Edunov, Ott, Auli & Grangier, 2018. "Understanding Back-Translation at Scale." EMNLP.
    arXiv:1808.09381.
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import Any

from longtail.errors import LongtailError


def looks_like_path(name: str) -> bool:
    """True for local paths (``/x``, ``./x``, ``~/x``, ``a/b/c``); hub names are ``org/name``."""
    return (
        name.startswith(("/", ".", "~"))
        or "\\" in name
        or name.count("/") > 1
        or Path(name).expanduser().exists()
    )


def check_model_source(name: str | os.PathLike[str] | None, option: str, method: str) -> str:
    """Validate a model given as a local path or hub name; fail early on a missing path."""
    if name is None or not str(name).strip():
        raise LongtailError(f"{method} needs {option}=<local model directory or hub name>")
    name = str(name)
    if looks_like_path(name) and not Path(name).expanduser().exists():
        raise LongtailError(
            f"{method} {option} {name!r}: no such model directory; pass an existing directory "
            "or a Hugging Face hub name"
        )
    return str(Path(name).expanduser()) if looks_like_path(name) else name


def check_number(
    value: Any,
    option: str,
    method: str,
    *,
    integer: bool = False,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    none_ok: bool = False,
) -> Any:
    """A numeric option as ``int`` (``integer``) or ``float``, checked against its range.

    Text that reads as a number (``"0.5"``, from a config file) is parsed; anything else — other
    text, a bool, NaN, an infinity, a fraction for an integer option, a value below ``low`` (or
    equal to it with ``low_open``) or above ``high`` — is one :class:`LongtailError` line naming
    the method, the option, the value and what is allowed, e.g. ``eda: alpha_sr must be a number
    in [0, 1], got 'abc'``. ``None`` passes through with ``none_ok``.
    """
    if value is None and none_ok:
        return None
    number = _as_number(value, integer)
    if (
        number is None
        or (low is not None and (number < low or (low_open and number == low)))
        or (high is not None and number > high)
    ):
        allowed = "an integer" if integer else "a number"
        if low is not None and high is not None:
            allowed += f" in {'(' if low_open else '['}{low:g}, {high:g}]"
        elif low is not None:
            allowed += f" {'>' if low_open else '>='} {low:g}"
        elif high is not None:
            allowed += f" <= {high:g}"
        if none_ok:
            allowed += " (or None)"
        raise LongtailError(f"{method}: {option} must be {allowed}, got {value!r}")
    return number


def _as_number(value: Any, integer: bool) -> int | float | None:
    """``value`` as a finite ``int`` / ``float`` (integral for ``integer``), else ``None``."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    if integer and isinstance(value, numbers.Integral):
        return int(value)
    try:
        number = float(value)
    except OverflowError:
        return None
    if not math.isfinite(number):
        return None
    if integer:
        return int(number) if number.is_integer() else None
    return number


class BackTranslationAugmenter:
    """Paraphrases by round-trip translation (Sennrich et al., 2016).

    Args:
        forward_model: Source → pivot seq2seq model (local directory or hub name).
        backward_model: Pivot → source model.
        num_beams: Beams for the backward translation.
        sample: Sample the pivots (``top_k``, ``temperature``); ``False`` uses beam search with
            ``max(num_beams, n)`` beams and ``n`` returned sequences.
        temperature: Sampling temperature of the forward pass (> 0).
        top_k: Top-k sampling of the forward pass (0: no top-k cut).
        max_new_tokens: Length limit of each translation.
        batch_size: Texts per generation batch (and per cache transaction).
        device: ``"cpu"``, ``"cuda"``, ... (default: CUDA when available).

    Example:
        >>> bt = BackTranslationAugmenter("Helsinki-NLP/opus-mt-en-de", "Helsinki-NLP/opus-mt-de-en")
        >>> bt.augment(["Call now to claim your prize"], 2, seed=0)
    """

    name = "back_translation"

    def __init__(
        self,
        forward_model: str | None = None,
        backward_model: str | None = None,
        num_beams: int = 4,
        sample: bool = True,
        temperature: float = 1.0,
        top_k: int = 50,
        max_new_tokens: int = 128,
        batch_size: int = 16,
        device: str | None = None,
    ) -> None:
        self.forward_model = check_model_source(forward_model, "forward_model", self.name)
        self.backward_model = check_model_source(backward_model, "backward_model", self.name)
        self.num_beams = check_number(num_beams, "num_beams", self.name, integer=True, low=1)
        self.sample = bool(sample)
        self.temperature = check_number(temperature, "temperature", self.name, low=0, low_open=True)
        self.top_k = check_number(top_k, "top_k", self.name, integer=True, low=0)
        self.max_new_tokens = check_number(
            max_new_tokens, "max_new_tokens", self.name, integer=True, low=1
        )
        self.batch_size = check_number(batch_size, "batch_size", self.name, integer=True, low=1)
        self.device = device
        self._models: dict[str, tuple[Any, Any]] = {}

    def cache_params(self) -> dict[str, Any]:
        return {
            "forward_model": self.forward_model,
            "backward_model": self.backward_model,
            "num_beams": self.num_beams,
            "sample": self.sample,
            "temperature": self.temperature,
            "top_k": self.top_k,
            "max_new_tokens": self.max_new_tokens,
        }

    def augment(self, texts: list[str], n_per_text: int, *, seed: int) -> list[list[str]]:
        """``n_per_text`` round-trip paraphrases per text (duplicates are left to the filters)."""
        import torch

        if n_per_text <= 0 or not texts:
            return [[] for _ in texts]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            pivots = self._translate(self.forward_model, texts, n_per_text, forward=True)
            back = self._translate(self.backward_model, pivots, 1, forward=False)
        return [back[i * n_per_text : (i + 1) * n_per_text] for i in range(len(texts))]

    def _translate(self, source: str, texts: list[str], n: int, *, forward: bool) -> list[str]:
        """``n`` translations per text, in order (text 0's n, then text 1's, ...)."""
        import torch

        model, tokenizer = self._load(source)
        if forward and self.sample:
            options = {"do_sample": True, "top_k": self.top_k, "temperature": self.temperature}
        else:
            beams = max(self.num_beams, n)
            options = {"do_sample": False, "num_beams": beams}
        out: list[str] = []
        for start in range(0, len(texts), self.batch_size):
            batch = tokenizer(
                texts[start : start + self.batch_size],
                return_tensors="pt",
                padding=True,
                truncation=True,
            ).to(model.device)
            batch.pop("token_type_ids", None)
            with torch.inference_mode():
                ids = model.generate(
                    **batch,
                    num_return_sequences=n,
                    max_new_tokens=self.max_new_tokens,
                    **options,
                )
            out += [t.strip() for t in tokenizer.batch_decode(ids, skip_special_tokens=True)]
        return out

    def _load(self, source: str) -> tuple[Any, Any]:
        if source not in self._models:
            self._models[source] = load_seq2seq(source, self.device)
        return self._models[source]


def load_seq2seq(source: str, device: str | None = None) -> tuple[Any, Any]:
    """Load any seq2seq model + tokenizer; a failure is one line naming the model."""
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForSeq2SeqLM.from_pretrained(source, use_safetensors=True)  # no pickle
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LongtailError(
            f"cannot load translation model {source!r}: {first}; pass a local directory or a "
            "reachable hub name"
        ) from exc
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval(), tokenizer
