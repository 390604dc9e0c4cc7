"""VLLMBackend on a stand-in ``vllm`` module injected into ``sys.modules``.

Why a stand-in: vLLM cannot run without a CUDA GPU, and this suite runs on CPU. The stand-in
(tests/support/fake_vllm.py) keeps vLLM's API shape and contracts (stop strings cut from the text but not from the
token ids, EOS ids, prefix-cache hits) with the real SmolLM2 tokenizer, so the backend's own code path runs unchanged:
token-id bookkeeping across rounds, per-sequence seeds and caps, prefix-cache accounting, budget forcing on top.
The real engine is exercised by scripts/gpu_check_vllm.py on a GPU machine.
"""

from __future__ import annotations

import random
import sys
from typing import Any

import pytest

from fs1.backends import load_backend
from fs1.backends.base import BackendError, SamplingParams
from fs1.prompts import ANSWER_MARKER, FORCED_ANSWER, THINK_START, WAIT
from tests.support import fake_vllm

MODEL = "org/tiny-model"  # never read: the stand-in LLM only records it
THOUGHT = "Rome is the capital of Italy."
SECOND_THOUGHT = " It has been the capital since 1871, and it is also the largest city in the country."


def script(context: str, rng: random.Random) -> str:
    """The stand-in model: answers at once, reconsiders after a Wait, answers after the forced marker."""
    if context.endswith(FORCED_ANSWER):
        return "Answer: \\boxed{Rome}"
    if context.endswith(WAIT):
        return SECOND_THOUGHT + ANSWER_MARKER + "\nRome"
    if context.endswith(THINK_START):
        return THOUGHT + ANSWER_MARKER + "\nRome"
    return rng.choice(["Paris", "Lyon", "Nice", "Lille"]) + " is a city."


@pytest.fixture
def vllm_module(monkeypatch: pytest.MonkeyPatch, smollm2_tokenizer: Any) -> Any:
    return fake_vllm.install(monkeypatch, smollm2_tokenizer, script)


@pytest.fixture
def backend(vllm_module: Any) -> Any:
    return load_backend("vllm", MODEL, seed=3)


def engine(vllm_module: Any) -> fake_vllm.LLM:
    return vllm_module.engines[-1]


def test_missing_vllm_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    with pytest.raises(BackendError, match=r"fs1\[vllm\]"):
        load_backend("vllm", MODEL)


def test_engine_gets_prefix_caching_and_seed(backend: Any, vllm_module: Any) -> None:
    llm = engine(vllm_module)
    assert llm.model == MODEL
    assert llm.engine_args["enable_prefix_caching"] is True and llm.engine_args["seed"] == 3
    assert "max_model_len" not in llm.engine_args  # None means the model's own, so it is not passed


def test_generate_uses_vllm_n_and_is_reproducible(backend: Any, vllm_module: Any) -> None:
    prompt = backend.chat_prompt("Name a French city.")
    params = SamplingParams(
        n=4, temperature=0.8, top_p=0.95, top_k=40, repetition_penalty=1.05, max_tokens=20, seed=9
    )
    [first] = backend.generate([prompt], params)
    [again] = backend.generate([prompt], params)
    ids, sp = engine(vllm_module).requests[0]
    assert len(engine(vllm_module).requests) == 2  # one request per prompt, n samples inside it
    assert (sp.n, sp.seed, sp.top_k, sp.repetition_penalty, sp.skip_special_tokens) == (4, 9, 40, 1.05, False)
    assert ids == backend.tokenizer.encode(
        prompt, add_special_tokens=False
    )  # template already has its specials
    assert [o.text for o in first] == [o.text for o in again] and len({o.text for o in first}) > 1
    assert all(o.finish_reason == "stop" and o.text.endswith("is a city.") for o in first)


def test_stop_string_is_cut_from_text_and_from_the_ids(backend: Any, vllm_module: Any) -> None:
    prompt = backend.chat_prompt("Capital of Italy?") + THINK_START
    [seq] = backend.open([prompt], seeds=[5])
    [out] = backend.continue_([seq], SamplingParams(max_tokens=100, stop=[ANSWER_MARKER]))
    assert out.text == THOUGHT and out.stop == ANSWER_MARKER and out.finish_reason == "stop"
    generated = engine(vllm_module).requests  # the engine's tokens include the marker's; the state must not
    assert backend.tokenizer.decode(seq.state.ids, skip_special_tokens=False) == prompt + THOUGHT
    assert out.tokens > backend.count_tokens(THOUGHT)  # the marker's tokens were generated and are counted
    assert generated[0][1].seed == 5


def test_continuation_feeds_ids_and_hits_the_prefix_cache(backend: Any, vllm_module: Any) -> None:
    prompt = backend.chat_prompt("Capital of Italy?") + THINK_START
    [seq] = backend.open([prompt])
    backend.continue_([seq], SamplingParams(max_tokens=100, stop=[ANSWER_MARKER]))
    before = list(seq.state.ids)
    backend.append([seq], [WAIT])
    [out] = backend.continue_([seq], SamplingParams(max_tokens=8, stop=[ANSWER_MARKER]))
    second_ids, second_sp = engine(vllm_module).requests[1]
    assert second_ids == before + backend.tokenizer.encode(WAIT, add_special_tokens=False)
    assert second_sp.max_tokens == 8 and out.finish_reason == "length" and out.tokens == 8
    assert seq.text == THOUGHT + WAIT + out.text and SECOND_THOUGHT.startswith(out.text)
    total_prompt = len(engine(vllm_module).requests[0][0]) + len(second_ids)
    # the second round re-sent the first prompt's blocks: only its tail and the new tokens were prefilled
    assert backend.stats.prefilled_tokens <= total_prompt - (len(before) // fake_vllm.BLOCK) * fake_vllm.BLOCK


def test_end_of_sequence_is_not_kept_in_the_ids(backend: Any) -> None:
    [seq] = backend.open([backend.chat_prompt("Say something.")], seeds=[1])
    [out] = backend.continue_([seq], SamplingParams(max_tokens=50, temperature=0.7))
    assert out.stop is None and out.finish_reason == "stop"
    assert seq.state.ids[-1] != backend.tokenizer.eos_token_id


def test_sequence_caps_become_per_request_max_tokens(backend: Any, vllm_module: Any) -> None:
    seqs = backend.open([backend.chat_prompt("A city?")], n=3, seeds=[1, 2, 3])
    seqs[0].max_tokens, seqs[1].max_tokens = 2, 0
    outs = backend.continue_(seqs, SamplingParams(max_tokens=30, temperature=0.7))
    caps = [sp.max_tokens for _, sp in engine(vllm_module).requests]
    assert caps == [2, 30] and outs[1].tokens == 0 and outs[0].tokens == 2
    assert [sp.seed for _, sp in engine(vllm_module).requests] == [1, 3]


def test_budget_forcing_through_the_backend(backend: Any, vllm_module: Any) -> None:
    from fs1.generate.budget import BudgetConfig, budget_forcing

    prompt = backend.chat_prompt("Capital of Italy?") + THINK_START
    cfg = BudgetConfig(budgets=[64], min_think_tokens=20, answer_max_tokens=32)
    [out] = list(budget_forcing(backend, [prompt], 1, SamplingParams(max_tokens=64), cfg))
    assert out.waits == 1 and out.meta["think_end"] == "natural"
    assert out.text == THOUGHT + WAIT + SECOND_THOUGHT + FORCED_ANSWER + "Answer: \\boxed{Rome}"
    requests = engine(vllm_module).requests
    assert [sp.stop for _, sp in requests] == [[ANSWER_MARKER], [ANSWER_MARKER], []]
    # each round extends the previous ids: nothing of the history is re-tokenised differently
    assert all(requests[i + 1][0][: len(requests[i][0])] == requests[i][0] for i in range(len(requests) - 1))
    resent = sum(len(ids) for ids, _ in requests)
    assert backend.stats.prefilled_tokens < resent  # the prefix cache saved part of the re-sent history
