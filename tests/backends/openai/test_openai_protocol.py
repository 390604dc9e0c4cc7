"""Unit tests of the OpenAI-compatible protocol pieces: Retry-After parsing, reasoning split, token split, dialects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fs1.backends.base import SamplingParams
from fs1.backends.openai.protocol import (
    DIALECTS,
    Choice,
    flavour_from_models,
    parse_reply,
    parse_stream,
    sampling_body,
    split_think,
    split_tokens,
    to_completion,
)
from fs1.backends.openai.transport import HTTPFailure, is_retryable, retry_after_seconds


def test_retry_after_forms() -> None:
    now = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds({"Retry-After": "7"}) == 7.0
    assert retry_after_seconds({"retry-after": "1.5"}) == 1.5
    assert retry_after_seconds({"retry-after-ms": "250", "Retry-After": "9"}) == 0.25
    date = format_datetime(now + timedelta(seconds=42), usegmt=True)
    assert retry_after_seconds({"Retry-After": date}, now=now) == 42.0
    past = format_datetime(now - timedelta(seconds=5), usegmt=True)
    assert retry_after_seconds({"Retry-After": past}, now=now) == 0.0
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_retryable_statuses() -> None:
    import httpx

    def failure(status: int) -> HTTPFailure:
        return HTTPFailure(status, "http://x/v1/completions", httpx.Headers(), "")

    assert all(is_retryable(failure(s)) for s in (429, 500, 502, 503, 504))
    assert not any(is_retryable(failure(s)) for s in (400, 401, 403, 404, 422))


@pytest.mark.parametrize(
    ("content", "text", "reasoning"),
    [
        ("<think>\nParis is in France.\n</think>\n\nParis", "Paris", "Paris is in France."),
        ("Paris is in France.\n</think>\n\nParis", "Paris", "Paris is in France."),  # template opened <think>
        ("Paris", "Paris", None),
        ("Answer: <think>odd</think> x", "Answer: <think>odd</think> x", None),  # not a leading block
    ],
)
def test_split_think(content: str, text: str, reasoning: str | None) -> None:
    assert split_think(content) == (text, reasoning)


@given(
    st.integers(min_value=0, max_value=5000),
    st.lists(
        st.tuples(st.text(max_size=30), st.sampled_from(["stop", "length", None])), min_size=1, max_size=6
    ),
)
def test_split_tokens_sums_to_total(total: int, raw: list[tuple[str, str | None]]) -> None:
    choices = [Choice(text=t, finish_reason=f) for t, f in raw]
    max_tokens = 50
    counts = split_tokens(total, choices, max_tokens)
    assert len(counts) == len(choices)
    assert all(c >= 0 for c in counts)
    for c, choice in zip(counts, choices, strict=True):
        if choice.finish_reason == "length" and len(choices) > 1:
            assert c == max_tokens
    if len(choices) == 1:
        assert counts == [total]  # one choice: the server's own count
    elif any(c.finish_reason != "length" for c in choices):
        assert sum(counts) == max(total, sum(max_tokens for c in choices if c.finish_reason == "length"))


def test_parse_reply_reads_vendor_fields() -> None:
    body = {
        "choices": [
            {"index": 1, "text": "b", "finish_reason": "length"},
            {"index": 0, "text": "a", "finish_reason": "stop", "stop_reason": "<|im_start|>answer"},
        ],
        "usage": {
            "prompt_tokens": 30,
            "completion_tokens": 9,
            "prompt_tokens_details": {"cached_tokens": 16},
        },
    }
    reply = parse_reply(body, chat=False)
    assert [c.text for c in reply.choices] == ["a", "b"]
    assert (reply.prompt_tokens, reply.completion_tokens, reply.cached_tokens) == (30, 9, 16)
    out = to_completion(reply.choices[0], 4, 30, ["<|im_start|>answer"], chat=False)
    assert out.stop == "<|im_start|>answer" and out.finish_reason == "stop"
    llama = parse_reply({"choices": [{"text": "x"}], "timings": {"cache_n": 12, "prompt_n": 3}}, chat=False)
    assert llama.cached_tokens == 12


def test_parse_stream_folds_reasoning_deltas() -> None:
    events = [
        {"choices": [{"index": 0, "delta": {"reasoning_content": "Rome "}}]},
        {"choices": [{"index": 0, "delta": {"reasoning_content": "is Italy's."}}]},
        {"choices": [{"index": 0, "delta": {"content": "Rome"}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 7}},
    ]
    reply = parse_stream(events, chat=True)
    assert reply.choices[0].reasoning == "Rome is Italy's."
    assert reply.choices[0].text == "Rome" and reply.completion_tokens == 7


def test_sampling_body_per_dialect() -> None:
    params = SamplingParams(temperature=0.6, top_p=0.95, top_k=40, repetition_penalty=1.05, max_tokens=64)
    vllm, bad = sampling_body(params, DIALECTS["vllm"], chat=False, n=4, seed=3)
    assert not bad
    assert vllm["top_k"] == 40 and vllm["repetition_penalty"] == 1.05 and vllm["n"] == 4 and vllm["seed"] == 3
    assert vllm["skip_special_tokens"] is False  # keeps "<|im_start|>answer" visible to stop strings
    llama, _ = sampling_body(SamplingParams(), DIALECTS["llama-cpp-python"], chat=False, n=1, seed=None)
    # llama.cpp's own defaults (top_k 40, repeat_penalty 1.1, min_p 0.05) must not leak in
    assert llama["top_k"] == 0 and llama["repeat_penalty"] == 1.0 and llama["min_p"] == 0.0
    assert "n" not in llama and "seed" not in llama
    hosted, bad = sampling_body(params, DIALECTS["openai"], chat=True, n=1, seed=None)
    assert bad == ["top_k", "repetition_penalty"]
    assert "max_completion_tokens" in hosted and "top_k" not in hosted
    generic, bad = sampling_body(SamplingParams(), DIALECTS["generic"], chat=False, n=1, seed=None)
    assert not bad and "top_k" not in generic and "repetition_penalty" not in generic


def test_flavour_from_models() -> None:
    assert flavour_from_models({"data": [{"id": "m", "owned_by": "vllm"}]}, "http://h/v1") == "vllm"
    assert flavour_from_models({"data": [{"id": "m", "owned_by": "me"}]}, "http://h/v1") == "llama-cpp-python"
    assert flavour_from_models({"data": [{"id": "m"}]}, "https://api.openai.com/v1") == "openai"
    assert flavour_from_models({}, "http://h/v1") == "generic"
