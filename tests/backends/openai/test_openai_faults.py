"""OpenAIBackend failure handling against the scripted server (real HTTP on 127.0.0.1): retries with Retry-After and
exponential backoff (waits recorded through an injected sleep, never slept), timeouts and stalls, the final error,
API-key hygiene, bounded concurrency."""

from __future__ import annotations

import logging
import threading
import traceback
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from fs1.backends.base import BackendError, SamplingParams
from fs1.backends.openai.transport import RemoteError
from tests.backends.openai.test_openai import backend, gen_requests
from tests.support.scripted_openai import Fault, Reply, ScriptedOpenAIServer


def test_429_waits_for_retry_after_seconds() -> None:
    with ScriptedOpenAIServer() as srv:
        srv.faults.append(Fault(status=429, retry_after="2"))
        sleeps: list[float] = []
        b = backend(srv, sleeps)
        [[out]] = b.generate(["q"], SamplingParams())
    assert sleeps == [2.0] and out.text.startswith("echo")
    assert b.stats.retries == 1


def test_429_waits_for_retry_after_http_date() -> None:
    with ScriptedOpenAIServer() as srv:
        when = datetime.now(UTC) + timedelta(seconds=30)
        srv.faults.append(Fault(status=429, retry_after=format_datetime(when, usegmt=True)))
        sleeps: list[float] = []
        backend(srv, sleeps).generate(["q"], SamplingParams())
    assert len(sleeps) == 1 and 27.0 < sleeps[0] <= 30.0  # whole-second date, computed when the 429 arrived


def test_5xx_backs_off_exponentially_then_succeeds() -> None:
    with ScriptedOpenAIServer() as srv:
        srv.faults.extend([Fault(status=500), Fault(status=503)])
        sleeps: list[float] = []
        [[out]] = backend(srv, sleeps, backoff_base=0.5).generate(["q"], SamplingParams())
    assert sleeps == [0.5, 1.0] and out.text


def test_gives_up_with_url_and_status() -> None:
    with ScriptedOpenAIServer() as srv:
        srv.faults.extend([Fault(status=503)] * 3)
        sleeps: list[float] = []
        with pytest.raises(RemoteError) as info:
            backend(srv, sleeps, max_retries=2).generate(["q"], SamplingParams())
    assert info.value.status == 503 and info.value.url.endswith("/v1/completions")
    assert "503" in str(info.value) and srv.base_url in str(info.value) and "3 attempts" in str(info.value)
    assert len(sleeps) == 2


def test_client_errors_are_not_retried() -> None:
    with ScriptedOpenAIServer() as srv:
        srv.faults.append(Fault(status=422, body='{"error": {"message": "bad field"}}'))
        sleeps: list[float] = []
        with pytest.raises(RemoteError, match="bad field"):
            backend(srv, sleeps).generate(["q"], SamplingParams())
    assert sleeps == [] and len(gen_requests(srv)) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_stall_past_the_timeout_is_retried(stream: bool) -> None:
    with ScriptedOpenAIServer() as srv:
        srv.faults.append(Fault(status=200, delay=3.0))  # stalls well past the client's 0.3 s timeout
        sleeps: list[float] = []
        [[out]] = backend(srv, sleeps, timeout=0.3, stream=stream).generate(["q"], SamplingParams())
    assert out.text.startswith("echo") and len(sleeps) == 1 and len(gen_requests(srv)) == 2


def test_timeouts_exhausted_raise_clearly() -> None:
    with ScriptedOpenAIServer() as srv:
        srv.faults.extend([Fault(delay=3.0), Fault(delay=3.0)])
        with pytest.raises(RemoteError, match="timed out after 0.3s") as info:
            backend(srv, [], timeout=0.3, max_retries=1).generate(["q"], SamplingParams())
    assert info.value.status is None


SECRET = "sk-test-SECRET-0123456789"


def test_api_key_never_leaks(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    echo = f'{{"error": {{"message": "bad key Bearer {SECRET}"}}}}'  # a server that echoes the header back
    with ScriptedOpenAIServer() as srv:
        srv.faults.extend([Fault(status=500, body=echo), Fault(status=401, body=echo)])
        b = backend(srv)
        with pytest.raises(RemoteError) as info:
            b.generate(["q"], SamplingParams())
        sent = gen_requests(srv)[0]["headers"]
    assert sent.get("Authorization") == f"Bearer {SECRET}"  # the key was used ...
    shown = [str(info.value), repr(info.value), "".join(traceback.format_exception(info.value)), caplog.text]
    shown += [repr(b), repr(b.options), repr(b._transport), str(b.stats)]
    assert all(SECRET not in text for text in shown)  # ... and appears nowhere we print or log
    assert "401" in str(info.value) and "***" in str(info.value)


def test_named_key_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FS1_TEST_KEY", raising=False)
    with ScriptedOpenAIServer() as srv:
        with pytest.raises(BackendError, match="FS1_TEST_KEY") as info:
            backend(srv, api_key_env="FS1_TEST_KEY")
        assert "not set" in str(info.value)
        monkeypatch.setenv("FS1_TEST_KEY", SECRET)
        backend(srv, api_key_env="FS1_TEST_KEY").generate(["q"], SamplingParams())
        assert gen_requests(srv)[0]["headers"]["Authorization"] == f"Bearer {SECRET}"


def test_concurrency_is_bounded_and_used() -> None:
    limit = 3
    gate = threading.Barrier(limit, timeout=20)  # the first `limit` requests must be in flight together
    lock = threading.Lock()
    state = {"in_flight": 0, "peak": 0, "seen": 0}

    def responder(endpoint: str, body: dict[str, Any]) -> Reply:
        with lock:
            state["in_flight"] += 1
            state["peak"] = max(state["peak"], state["in_flight"])
            state["seen"] += 1
            first_wave = state["seen"] <= limit
        try:
            if first_wave:
                gate.wait()
            return Reply(body["prompt"])
        finally:
            with lock:
                state["in_flight"] -= 1

    with ScriptedOpenAIServer(responder) as srv:
        prompts = [f"p{i}" for i in range(10)]
        outs = backend(srv, concurrency=limit).generate(prompts, SamplingParams())
    assert [o[0].text for o in outs] == prompts  # order kept
    assert state["peak"] == limit
