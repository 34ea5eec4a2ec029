"""Hub names without network fail in seconds with one line; a filled cache still loads; pickled
weights are refused with the reason and the conversion.

Network: only the loopback address (``HF_ENDPOINT=http://127.0.0.1:9``, nothing listens there).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from longtail.errors import LongtailError
from longtail.models import load_encoder, load_tokenizer

UNREACHABLE = "http://127.0.0.1:9"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE", "HF_HOME")}  # fmt: skip
    return env | {"HF_HOME": str(tmp_path / "hf-home"), "HF_ENDPOINT": UNREACHABLE} | extra


def _fill_cache(cache: Path, repo: str, model_dir: Path) -> None:
    """The hub cache's layout for ``repo``, as a download would leave it."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    root = cache / f"models--{repo.replace('/', '--')}"
    shutil.copytree(model_dir, root / "snapshots" / commit)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(commit, encoding="utf-8")


def test_offline_mode_without_the_model_in_the_cache_fails_at_once(monkeypatch):
    from transformers import AutoTokenizer  # noqa: F401  (import time is not what is measured)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(LongtailError) as info:
        load_tokenizer("longtail-tests/not-in-any-cache")
    assert time.perf_counter() - started < 2.0
    message = str(info.value)
    assert "is not in the Hugging Face cache and HF_HUB_OFFLINE is set" in message
    assert "local model directory" in message and "\n" not in message


def test_unreachable_hub_fails_fast_in_one_line(tmp_path):
    """Before: ~50 s of back-off and ~20 'Retrying' lines (huggingface_hub 2.x, no network)."""
    data = tmp_path / "train.csv"
    data.write_text("text,label\nfree cash,spam\nhi,ham\n" * 5, encoding="utf-8")
    argv = [sys.executable, "-m", "longtail", "train", "--data", str(data),
            "--model", "longtail-tests/no-such-model", "--output", str(tmp_path / "run")]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(argv, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - started
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "could not be downloaded from the Hugging Face hub (no network?" in lines[0]
    assert "HF_HUB_OFFLINE=1" in lines[0]
    assert elapsed < 30, f"took {elapsed:.1f} s (Python start and imports included)"


@pytest.mark.parametrize("offline", ["1", ""], ids=["HF_HUB_OFFLINE=1", "network-down"])
def test_model_in_the_hub_cache_loads_without_network(tiny_model_dir, tmp_path, offline):
    cache = tmp_path / "hub-cache"
    _fill_cache(cache, "longtail-tests/tiny", tiny_model_dir)
    env = _env(tmp_path, HF_HUB_CACHE=str(cache))
    if offline:
        env["HF_HUB_OFFLINE"] = offline
    script = ("from longtail.models import load_encoder, load_tokenizer; "
              "load_tokenizer('longtail-tests/tiny'); "
              "print(load_encoder('longtail-tests/tiny').config.hidden_size)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "32"
    assert "Retrying" not in done.stderr


def test_probe_leaves_http_answers_to_transformers():
    from huggingface_hub.errors import HfHubHTTPError

    from longtail.models.hub import _unreachable

    assert _unreachable(ConnectionRefusedError("refused"))
    assert _unreachable(TimeoutError("slow"))
    assert not _unreachable(HfHubHTTPError.__new__(HfHubHTTPError))  # a 404 is an answer
    assert not _unreachable(ValueError("not a repo id"))


@pytest.mark.parametrize("weights", ["pytorch_model.bin", "model.pt"])
def test_pickled_weights_are_refused_with_the_reason_and_the_conversion(
    tiny_model_dir, tmp_path, weights
):
    model = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir, model)
    (model / "model.safetensors").rename(model / weights)
    with pytest.raises(LongtailError) as info:
        load_encoder(str(model))
    message = str(info.value)
    assert f"holds its weights only as pickle ({weights})" in message
    assert (
        "never unpickles" in message and "save_pretrained(path, safe_serialization=True)" in message
    )
