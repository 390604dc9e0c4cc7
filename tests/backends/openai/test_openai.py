"""OpenAIBackend against the scripted OpenAI-compatible server (real HTTP on 127.0.0.1): exact replies, dialects,
``n``, continuation, chat-only servers, reasoning fields, server-side templates and token counts, budget forcing on
top. Failure handling (retries, timeouts, key hygiene, concurrency) is in test_openai_faults.py."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest

from fs1.backends import load_backend
from fs1.backends.base import BackendError, SamplingParams
from fs1.backends.openai.compat import OpenAIBackend
from tests.support.scripted_openai import Reply, ScriptedOpenAIServer

ANSWER = "<|im_start|>answer"


def backend(srv: ScriptedOpenAIServer, sleeps: list[float] | None = None, **options: Any) -> OpenAIBackend:
    """A backend on ``srv`` whose retry waits are recorded in ``sleeps`` instead of slept."""
    record = sleeps.append if sleeps is not None else (lambda _s: None)
    options.setdefault("jitter", 0.0)
    return OpenAIBackend(srv.model, base_url=srv.base_url, sleep=record, **options)


def gen_requests(srv: ScriptedOpenAIServer) -> list[dict[str, Any]]:
    return [r for r in srv.requests if r["endpoint"] in ("completions", "chat")]


def test_load_backend_builds_openai_backend() -> None:
    with ScriptedOpenAIServer() as srv:
        b = load_backend("openai", srv.model, base_url=srv.base_url, concurrency="3")  # strings are validated
        assert isinstance(b, OpenAIBackend) and b.options.concurrency == 3
        with pytest.raises(ValueError, match="concurrency"):
            load_backend("openai", srv.model, base_url=srv.base_url, concurrency=0)


def test_exact_reply_usage_and_cached_tokens() -> None:
    replies = deque([Reply("Paris", prompt_tokens=40, completion_tokens=3, cached_tokens=32)])
    with ScriptedOpenAIServer(lambda e, b: replies.popleft()) as srv:
        b = backend(srv)
        [[out]] = b.generate(["Q: capital of France?\nA:"], SamplingParams(max_tokens=12, stop=["\n"]))
        body = gen_requests(srv)[0]["body"]
    assert (out.text, out.tokens, out.finish_reason, out.prompt_tokens) == ("Paris", 3, "stop", 40)
    assert (
        body["prompt"] == "Q: capital of France?\nA:" and body["max_tokens"] == 12 and body["stop"] == ["\n"]
    )
    assert body["model"] == srv.model and body["temperature"] == 0.0
    assert (b.stats.prompt_tokens, b.stats.cached_tokens, b.stats.prefilled_tokens) == (40, 32, 8)
    assert (b.stats.generated_tokens, b.stats.calls) == (3, 1)


def test_continuation_sends_prompt_plus_text() -> None:
    script = deque(
        [
            Reply("Paris is big.", completion_tokens=4, stop_reason=ANSWER),
            Reply(" Lyon too.", completion_tokens=3, finish_reason="length"),
        ]
    )
    with ScriptedOpenAIServer(lambda e, b: script.popleft(), owned_by="vllm") as srv:
        b = backend(srv)
        seqs = b.open(["<prompt>"], n=1, seeds=[7])
        first = b.continue_(seqs, SamplingParams(max_tokens=50, stop=[ANSWER]))[0]
        b.append(seqs, [" Wait,"])
        second = b.continue_(seqs, SamplingParams(max_tokens=3))[0]
        bodies = [r["body"] for r in gen_requests(srv)]
    assert first.stop == ANSWER and first.tokens == 4
    assert second.finish_reason == "length" and second.stop is None
    assert seqs[0].text == "Paris is big. Wait, Lyon too."
    assert bodies[0]["prompt"] == "<prompt>" and bodies[0]["seed"] == 7
    assert bodies[1]["prompt"] == "<prompt>Paris is big. Wait,"
    assert bodies[1]["skip_special_tokens"] is False  # vLLM dialect keeps the answer marker in the text


def test_sequence_max_tokens_caps_each_request() -> None:
    with ScriptedOpenAIServer(lambda e, b: Reply("x y", completion_tokens=2)) as srv:
        b = backend(srv)
        seqs = b.open(["a", "b", "c"])
        seqs[0].max_tokens, seqs[1].max_tokens = 5, 0
        outs = b.continue_(seqs, SamplingParams(max_tokens=100))
        sent = sorted(r["body"]["max_tokens"] for r in gen_requests(srv))
    assert sent == [5, 100]  # the exhausted sequence sends nothing
    assert outs[1].tokens == 0 and outs[1].finish_reason == "length" and seqs[1].text == ""


def test_sequence_seeds_are_authoritative() -> None:
    with ScriptedOpenAIServer() as srv:
        b = backend(srv, concurrency=1)
        b.continue_(b.open(["a"], n=2), SamplingParams(seed=5, temperature=0.7))  # unseeded sequences
        b.continue_(b.open(["a"], n=2, seeds=[8, 9]), SamplingParams(seed=5, temperature=0.7))
        seeds = [r["body"].get("seed") for r in gen_requests(srv)]
    assert seeds == [None, None, 8, 9]  # params.seed never makes unseeded samples identical


@pytest.mark.parametrize(
    ("owned_by", "expected"),
    [
        ("vllm", {"top_k": 20, "repetition_penalty": 1.05, "min_p": 0.0}),
        ("llamacpp", {"top_k": 20, "repeat_penalty": 1.05, "min_p": 0.0, "cache_prompt": True}),
        ("me", {"top_k": 20, "repeat_penalty": 1.05, "min_p": 0.0}),
        (None, {"top_k": 20, "repetition_penalty": 1.05}),
    ],
)
def test_sampling_fields_reach_the_server(owned_by: str | None, expected: dict[str, Any]) -> None:
    with ScriptedOpenAIServer(owned_by=owned_by) as srv:
        b = backend(srv)
        b.generate(["q"], SamplingParams(temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.05))
        body = gen_requests(srv)[0]["body"]
    assert {k: body[k] for k in expected} == expected
    assert (body["temperature"], body["top_p"]) == (0.7, 0.8)


def test_hosted_api_refuses_fields_it_cannot_honour() -> None:
    with ScriptedOpenAIServer() as srv:
        b = backend(srv, server="openai", mode="completions")
        with pytest.raises(BackendError, match="top_k=20"):
            b.generate(["q"], SamplingParams(top_k=20))
        assert gen_requests(srv) == []  # refused before sending
        dropping = backend(srv, server="openai", mode="completions", drop_unsupported=True)
        dropping.generate(["q"], SamplingParams(top_k=20))
        assert "top_k" not in gen_requests(srv)[0]["body"]


def test_n_goes_to_the_server_in_one_request() -> None:
    with ScriptedOpenAIServer(lambda e, b: Reply("s", completion_tokens=2)) as srv:
        b = backend(srv)
        [outs] = b.generate(["q"], SamplingParams(n=4, temperature=0.7, seed=11))
        bodies = [r["body"] for r in gen_requests(srv)]
    assert len(outs) == 4 and len(bodies) == 1
    assert bodies[0]["n"] == 4 and bodies[0]["seed"] == 11
    assert sum(o.tokens for o in outs) == 8  # usage total shared among the choices


def test_prompt_seeds_follow_the_backend_contract() -> None:
    """Prompt i of one call starts at seed + i * n, as on the local backends (not the same seed for every prompt)."""
    with ScriptedOpenAIServer(lambda e, b: Reply("s", completion_tokens=1)) as srv:
        backend(srv).generate(["a", "b", "c"], SamplingParams(n=4, temperature=0.7, seed=11))
        asked = sorted((r["body"]["prompt"], r["body"]["seed"]) for r in gen_requests(srv))
    assert asked == [("a", 11), ("b", 15), ("c", 19)]
    with ScriptedOpenAIServer(lambda e, b: Reply("s", completion_tokens=1), honour_n=False) as srv:
        b = backend(srv, concurrency=1)
        b.generate(["a"], SamplingParams(n=2, temperature=0.7, seed=0))  # learns that the server ignores n
        b.generate(["a", "b"], SamplingParams(n=2, temperature=0.7, seed=11))
        asked = sorted((r["body"]["prompt"], r["body"]["seed"]) for r in gen_requests(srv)[2:])
    assert asked == [("a", 11), ("a", 12), ("b", 13), ("b", 14)]


def test_greedy_n_is_one_request_copied_as_on_every_backend() -> None:
    with ScriptedOpenAIServer(lambda e, b: Reply("s", completion_tokens=2)) as srv:
        b = backend(srv)
        [outs] = b.generate(["q"], SamplingParams(n=3, temperature=0.0))
        [chat] = b.chat([[{"role": "user", "content": "q"}]], SamplingParams(n=3, temperature=0.0))
        bodies = [r["body"] for r in gen_requests(srv)]
    # vLLM serve rejects n > 1 at temperature 0; one greedy answer is the same answer n times anyway
    assert len(bodies) == 2 and all("n" not in body for body in bodies)
    assert [o.text for o in outs] == ["s"] * 3 and [o.text for o in chat] == ["s"] * 3


def test_fans_out_when_the_server_ignores_n() -> None:
    with ScriptedOpenAIServer(lambda e, b: Reply("s", completion_tokens=1), honour_n=False) as srv:
        b = backend(srv, concurrency=1)
        [outs] = b.generate(["q"], SamplingParams(n=3, temperature=0.7, seed=100))
        first_round = [r["body"] for r in gen_requests(srv)]
        b.generate(["q2"], SamplingParams(n=3, temperature=0.7, seed=100))
        second_round = [r["body"] for r in gen_requests(srv)][len(first_round) :]
    assert len(outs) == 3
    assert first_round[0]["n"] == 3 and [r.get("seed") for r in first_round[1:]] == [101, 102]
    assert len(second_round) == 3 and all("n" not in r for r in second_round)  # no second try with n


def test_chat_only_server_detected_and_used() -> None:
    with ScriptedOpenAIServer(completions=False) as srv:
        b = backend(srv)
        prompt = b.chat_prompt("Who wrote Hamlet?", system="Be brief.")
        [[out]] = b.generate([prompt], SamplingParams(max_tokens=8))
        chat_bodies = [r["body"] for r in gen_requests(srv) if r["endpoint"] == "chat"]
        assert out.text == "echo \\boxed{Who wrote Hamlet?}"
        assert chat_bodies[0]["messages"] == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Who wrote Hamlet?"},
        ]
        seqs = b.open([prompt])
        b.continue_(seqs, SamplingParams(max_tokens=8))
        b.append(seqs, [" Wait,"])
        with pytest.raises(BackendError, match="completions"):
            b.continue_(seqs, SamplingParams(max_tokens=8))
        with pytest.raises(BackendError, match="chat_prompt"):
            b.generate(["a raw prompt the backend never rendered"], SamplingParams())


def test_explicit_chat_mode_never_touches_completions() -> None:
    with ScriptedOpenAIServer() as srv:
        b = backend(srv, mode="chat")
        b.generate([b.chat_prompt("hi")], SamplingParams())
    assert [r["endpoint"] for r in gen_requests(srv)] == ["chat"]


def test_chat_prompt_without_any_template_says_what_to_do() -> None:
    with ScriptedOpenAIServer() as srv, pytest.raises(BackendError, match="--tokenizer"):
        backend(srv).chat_prompt("hi")


def test_llamacpp_server_template_and_tokenize() -> None:
    routes = {
        "/apply-template": lambda body: (
            200,
            {"prompt": f"<|user|>{body['messages'][-1]['content']}<|bot|>"},
        ),
        "/tokenize": lambda body: (200, {"tokens": list(range(len(body["content"].split())))}),
    }
    with ScriptedOpenAIServer(owned_by="llamacpp", routes=routes) as srv:
        b = backend(srv)
        assert b.chat_prompt("Who?") == "<|user|>Who?<|bot|>"
        assert b.count_tokens("one two three") == 3
        tok_body = next(r["body"] for r in srv.requests if r["endpoint"] == "/tokenize")
    assert tok_body == {"content": "one two three", "add_special": False}


@pytest.mark.parametrize("owned_by", ["vllm", "sglang"])  # SGLang's /tokenize mirrors vLLM's
def test_vllm_server_template_and_tokenize(owned_by: str) -> None:
    vocab: dict[str, int] = {}

    def tokenize(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if "messages" in body:
            text = "".join(f"[{m['role']}]{m['content']}" for m in body["messages"]) + "[assistant]"
        else:
            text = body["prompt"]
        tokens = [vocab.setdefault(piece, len(vocab)) for piece in text.split()]
        return 200, {"tokens": tokens, "count": len(tokens), "max_model_len": 4096}

    def detokenize(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        words = {i: w for w, i in vocab.items()}
        return 200, {"prompt": " ".join(words[t] for t in body["tokens"])}

    routes = {"/tokenize": tokenize, "/detokenize": detokenize}
    with ScriptedOpenAIServer(owned_by=owned_by, routes=routes) as srv:
        b = backend(srv)
        assert b.chat_prompt("Who is it?") == "[user]Who is it?[assistant]"
        assert b.count_tokens("a b c d") == 4
        tok_bodies = [r["body"] for r in srv.requests if r["endpoint"] == "/tokenize"]
    assert tok_bodies[0]["add_generation_prompt"] is True
    assert tok_bodies[-1] == {"model": srv.model, "prompt": "a b c d", "add_special_tokens": False}


def test_unknown_server_routes_are_discovered_without_retries() -> None:
    routes = {
        "/tokenize": lambda body: (500, {"error": "content missing"}),  # another server kind's route shape
        "/extras/tokenize": lambda body: (
            200,
            {"tokens": [1] + [7] * len(body["input"].split())},
        ),  # BOS + words
    }
    with ScriptedOpenAIServer(routes=routes) as srv:
        sleeps: list[float] = []
        b = backend(srv, sleeps)
        assert b.count_tokens("one two three") == 3  # BOS overhead (from the empty text) removed
        assert b.count_tokens("four") == 1
        tried = [r["endpoint"] for r in srv.requests]
    assert sleeps == []  # discovery does not retry a route that fails
    assert (
        tried[:2] == ["/tokenize", "/tokenize"] and tried[-1] == "/extras/tokenize"
    )  # vLLM, llama.cpp, then it


def test_count_tokens_without_any_route_says_what_to_do() -> None:
    with ScriptedOpenAIServer() as srv, pytest.raises(BackendError, match="tokenizer"):
        backend(srv).count_tokens("hello")


REASONING_CASES = [
    Reply("Paris", reasoning="France's capital is Paris.", reasoning_key="reasoning"),
    Reply("Paris", reasoning="France's capital is Paris.", reasoning_key="reasoning_content"),
    Reply("<think>\nFrance's capital is Paris.\n</think>\n\nParis"),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("reply", REASONING_CASES, ids=["reasoning", "reasoning_content", "think_tags"])
def test_reasoning_is_kept(reply: Reply, stream: bool) -> None:
    with ScriptedOpenAIServer(lambda e, b: reply) as srv:
        b = backend(srv, stream=stream)
        [[out]] = b.chat([[{"role": "user", "content": "Capital of France?"}]], SamplingParams())
    assert out.text == "Paris" and out.reasoning == "France's capital is Paris."


def test_chat_n_and_model_auto() -> None:
    with ScriptedOpenAIServer(lambda e, b: Reply("ok", completion_tokens=1)) as srv:
        b = OpenAIBackend("auto", base_url=srv.base_url)
        [outs] = b.chat([[{"role": "user", "content": "x"}]], SamplingParams(n=2, temperature=0.5))
        body = gen_requests(srv)[0]["body"]
    assert len(outs) == 2 and body["n"] == 2 and body["model"] == srv.model == b.model


def test_budget_forcing_round_trip_on_scripted_server() -> None:
    from fs1.generate.budget import BudgetConfig, budget_forcing
    from fs1.prompts import FORCED_ANSWER, WAIT

    def responder(endpoint: str, body: dict[str, Any]) -> Reply:
        prompt = body["prompt"]
        if prompt.endswith(FORCED_ANSWER):
            return Reply("Answer: \\boxed{Paris}", completion_tokens=6)
        if prompt.endswith(WAIT):
            return Reply(" Lyon? No: Paris.", finish_reason="length", completion_tokens=body["max_tokens"])
        return Reply("Paris is the capital.", completion_tokens=5, stop_reason=ANSWER)

    words = {
        "/tokenize": lambda body: (
            200,
            {"tokens": body["prompt"].split(), "count": len(body["prompt"].split())},
        )
    }
    with ScriptedOpenAIServer(responder, owned_by="vllm", routes=words) as srv:
        b = backend(srv)
        cfg = BudgetConfig(budgets=[100], min_think_tokens=50)
        [out] = list(budget_forcing(b, ["<q>"], 1, SamplingParams(max_tokens=100), cfg))
        bodies = [r["body"] for r in gen_requests(srv)]
    thought = "Paris is the capital." + WAIT + " Lyon? No: Paris."
    assert out.text == thought + FORCED_ANSWER + "Answer: \\boxed{Paris}"
    # a stopped completion counts the tokens of its text (here the /tokenize route's words), not the server's usage
    assert (out.think_tokens, out.waits, out.answer_tokens, out.meta["think_end"]) == (100, 1, 2, "budget")
    # 100 - 4 thought tokens (the server's 5 counted the answer marker, which the text leaves out) - 1 for " Wait,"
    assert [b["max_tokens"] for b in bodies] == [100, 95, 256]
    assert [b["prompt"] for b in bodies] == [
        "<q>",
        "<q>Paris is the capital." + WAIT,
        "<q>" + thought + FORCED_ANSWER,
    ]
    assert [b.get("stop") for b in bodies] == [[ANSWER], [ANSWER], None] and bodies[2]["temperature"] == 0.0
