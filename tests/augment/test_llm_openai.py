"""The OpenAI-compatible backend against a local HTTP server: completions, retries, errors, key."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from longtail.augment import AugmentCache, augment_minority
from longtail.augment.llm import LLMAugmenter, parse_lines
from longtail.errors import LongtailError

KEY = "sk-test-SECRET-1234567890"


def _serve(plan):
    """Start a server; ``plan(handler, count)`` returns (status, body dict) per request."""
    state = {"count": 0, "bodies": [], "auth": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state["bodies"].append(body)
            state["auth"].append(self.headers.get("Authorization"))
            state["count"] += 1
            status, reply = plan(body, state["count"])
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if status == 429:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    ).start()
    return server, state, f"http://127.0.0.1:{server.server_address[1]}/v1"


def _ok(body, count):
    n = int(re.search(r"category (\d+) times", body["messages"][1]["content"]).group(1))
    text = body["messages"][1]["content"].rsplit("Text: ", 1)[1]
    lines = "\n".join(f"{i + 1}. {text} variant {count}-{i}" for i in range(n))
    return 200, {
        "choices": [{"message": {"content": "Here you go:\n" + lines}}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7},
    }


@pytest.fixture
def key_env(monkeypatch):
    monkeypatch.setenv("LT_TEST_KEY", KEY)
    return "LT_TEST_KEY"


def _llm(url, key_env, **kw):
    return LLMAugmenter(
        "openai", model="tiny", base_url=url, api_key_env=key_env, retry_backoff=0.001, **kw
    )


def test_completions_usage_fewshot_and_cache(tmp_path, key_env):
    server, state, url = _serve(_ok)
    try:
        texts = [f"ordinary message number {i}" for i in range(8)] + [
            "win a prize now",
            "claim free cash today",
        ]
        y = np.array([0] * 8 + [1, 1])
        with AugmentCache(tmp_path) as cache:
            llm = _llm(url, key_env)
            result = augment_minority(
                texts, y, "binary", augmenter=llm, target_ratio=0.5, cache=cache
            )
            assert len(result.texts) == 2 and all("variant" in t for t in result.texts)
            usage = result.stats["usage"]
            assert (
                usage["requests"] == state["count"]
                and usage["prompt_tokens"] == 11 * state["count"]
            )
            assert usage["rows"] >= 2
            user = state["bodies"][0]["messages"][1]["content"]
            assert (
                "- claim free cash today" in user or "- win a prize now" in user
            )  # few-shot, same class
            assert "ordinary" not in user and state["auth"][0] == f"Bearer {KEY}"
            before = state["count"]
            again = augment_minority(
                texts, y, "binary", augmenter=_llm(url, key_env), target_ratio=0.5, cache=cache
            )
            assert state["count"] == before and again.texts == result.texts  # all from the cache
        raw = (tmp_path / "augment-cache.sqlite").read_bytes()
        assert KEY.encode() not in raw and KEY not in json.dumps(result.stats)
    finally:
        server.shutdown()
        server.server_close()


def test_retry_after_429_then_ok(key_env):
    server, state, url = _serve(
        lambda body, count: (429, {"error": "slow down"}) if count == 1 else _ok(body, count)
    )
    try:
        out = _llm(url, key_env).augment(["win a prize now"], 2, seed=0)
        assert state["count"] == 2 and len(out[0]) == 2
    finally:
        server.shutdown()
        server.server_close()


def test_unreachable_after_retries_keeps_partial_cache(tmp_path, key_env):
    def plan(body, count):
        return _ok(body, count) if count <= 2 else (503, {"error": f"down; you sent Bearer {KEY}"})

    server, state, url = _serve(plan)
    texts = [f"ordinary message number {i}" for i in range(10)] + [
        "win a prize now",
        "claim free cash",
        "call us",
    ]
    y = np.array([0] * 10 + [1, 1, 1])
    try:
        with AugmentCache(tmp_path) as cache:
            with pytest.raises(LongtailError) as info:
                augment_minority(
                    texts,
                    y,
                    "binary",
                    augmenter=_llm(url, key_env, max_retries=2),
                    target_ratio=0.6,
                    cache=cache,
                )
            assert len(cache) == 2  # one text per row: the two answered requests were kept
        message = str(info.value)
        assert url in message and "3 attempts" in message and "HTTP 503" in message
        assert KEY not in message and "\n" not in message
    finally:
        server.shutdown()
        server.server_close()


def test_connection_refused_and_client_error(key_env):
    server, _state, url = _serve(lambda body, count: (401, {"error": f"bad key {KEY}"}))
    try:
        with pytest.raises(LongtailError, match="HTTP 401") as info:
            _llm(url, key_env).augment(["x y z"], 1, seed=0)
        assert KEY not in str(info.value) and "$LT_TEST_KEY" in str(info.value)
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(LongtailError, match="unreachable after 2 attempts"):
        _llm(url, key_env, max_retries=1, timeout=5).augment(["x y z"], 1, seed=0)  # server gone


def test_parse_lines_and_options():
    assert parse_lines('Sure:\n1. "First one"\n- second one\n\n3) third') == [
        "First one",
        "second one",
        "third",
    ]
    with pytest.raises(LongtailError, match="needs model="):
        LLMAugmenter("openai")
    with pytest.raises(LongtailError, match="valid: openai, local"):
        LLMAugmenter("cloud", model="m")
