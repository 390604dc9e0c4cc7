"""OpenAIBackend against the real llama-cpp-python server on the embedded SmolLM2-135M GGUF (slow: a real model).

The server is started once per session by the ``llama_server`` fixture (tests/support/fixtures.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from fs1.backends.base import SamplingParams
from fs1.backends.openai.compat import OpenAIBackend
from fs1.prompts import ANSWER_MARKER, FORCED_ANSWER, THINK_START

pytestmark = pytest.mark.slow

QUESTION = "Name three rivers in Europe."


@pytest.fixture(scope="module")
def llama(llama_server: Any) -> OpenAIBackend:
    """A backend with the local tokenizer of the same model (templates and counts)."""
    return OpenAIBackend("smollm2-135m", base_url=llama_server.base_url, tokenizer="smollm2-135m")


def test_server_kind_and_greedy_is_deterministic(llama: OpenAIBackend) -> None:
    assert llama.flavour == "llama-cpp-python"
    prompt = llama.chat_prompt(QUESTION)
    [[a]], [[b]] = (llama.generate([prompt], SamplingParams(max_tokens=16)) for _ in range(2))
    assert a.text == b.text and a.text.strip()
    assert 0 < a.tokens <= 16 and a.prompt_tokens == llama.count_tokens(prompt)


def test_max_tokens_and_stop_strings(llama: OpenAIBackend) -> None:
    prompt = llama.chat_prompt(QUESTION)
    [[short]] = llama.generate([prompt], SamplingParams(max_tokens=4))
    assert short.finish_reason == "length" and short.tokens == 4
    [[full]] = llama.generate([prompt], SamplingParams(max_tokens=16))
    word = full.text.split()[2]  # a word the greedy reply is known to contain
    [[cut]] = llama.generate([prompt], SamplingParams(max_tokens=16, stop=[word]))
    assert cut.finish_reason == "stop" and word not in cut.text and full.text.startswith(cut.text)


def test_continuation_matches_one_shot_generation(llama: OpenAIBackend) -> None:
    prompt = llama.chat_prompt(QUESTION)
    [[whole]] = llama.generate([prompt], SamplingParams(max_tokens=16))
    seqs = llama.open([prompt])
    parts = [llama.continue_(seqs, SamplingParams(max_tokens=8))[0] for _ in range(2)]
    assert seqs[0].text == whole.text == parts[0].text + parts[1].text


def test_chat_endpoint_agrees_with_local_template(llama: OpenAIBackend) -> None:
    [[via_chat]] = llama.chat([[{"role": "user", "content": QUESTION}]], SamplingParams(max_tokens=12))
    [[via_template]] = llama.generate([llama.chat_prompt(QUESTION)], SamplingParams(max_tokens=12))
    assert via_chat.text == via_template.text and via_chat.reasoning is None


def test_n_samples_are_seeded_and_reproducible(llama: OpenAIBackend) -> None:
    prompt = llama.chat_prompt(QUESTION)
    params = SamplingParams(n=3, temperature=0.9, top_p=0.95, top_k=40, max_tokens=10, seed=5)
    [first], [again] = llama.generate([prompt], params), llama.generate([prompt], params)
    assert [o.text for o in first] == [o.text for o in again]
    assert len({o.text for o in first}) > 1  # different seeds per sample
    assert llama._server_n is False  # llama-cpp-python answers one choice: the backend fanned out


def test_server_tokenize_counts_like_the_local_tokenizer(llama_server: Any, llama: OpenAIBackend) -> None:
    remote = OpenAIBackend("auto", base_url=llama_server.base_url)  # no tokenizer: /extras/tokenize
    for text in ("hello world", f"{ANSWER_MARKER}\nAnswer: Paris", " Wait,"):
        assert remote.count_tokens(text) == llama.count_tokens(text)


def test_streaming_gives_the_same_text(llama_server: Any, llama: OpenAIBackend) -> None:
    streaming = OpenAIBackend(
        "smollm2-135m", base_url=llama_server.base_url, tokenizer="smollm2-135m", stream=True
    )
    prompt = llama.chat_prompt(QUESTION)
    [[plain]] = llama.generate([prompt], SamplingParams(max_tokens=12))
    [[streamed]] = streaming.generate([prompt], SamplingParams(max_tokens=12))
    assert streamed.text == plain.text and streamed.tokens == plain.tokens


def test_budget_forcing_round_trip(llama: OpenAIBackend) -> None:
    from fs1.generate.budget import BudgetConfig, budget_forcing

    prompt = llama.chat_prompt(QUESTION) + THINK_START
    cfg = BudgetConfig(budgets=[40], min_think_tokens=30, answer_max_tokens=8)
    params = SamplingParams(max_tokens=40, repetition_penalty=1.05)
    calls = llama.stats.calls
    [out] = list(budget_forcing(llama, [prompt], 1, params, cfg))
    assert llama.stats.calls - calls >= 2  # at least one thinking round and the answer round
    assert out.budget == 40 and out.think_tokens is not None and out.think_tokens <= 40
    assert FORCED_ANSWER.strip() in out.text and out.text.count(ANSWER_MARKER) == 1
    assert out.answer_tokens is not None and out.answer_tokens <= 8
    assert out.think_tokens == llama.count_tokens(out.text.split(ANSWER_MARKER)[0].rstrip("\n")) or out.waits
