"""The openai backend and the model's context window (fs1/backends/openai/context.py), on a scripted server whose
tokenizer counts words: prompts that do not fit are not sent, max_tokens is capped to what fits, and a cut at that
cap is a full context, not a spent budget. The real vLLM server runs the same paths in tests/backends/test_vllm_cpu.py."""

from __future__ import annotations

from typing import Any

from fs1.backends.base import SamplingParams
from fs1.backends.openai.compat import OpenAIBackend
from tests.support.scripted_openai import Fault, Reply, ScriptedOpenAIServer

WORDS = {
    "/tokenize": lambda body: (200, {"tokens": body["prompt"].split(), "count": len(body["prompt"].split())})
}


def _gen(srv: ScriptedOpenAIServer) -> list[dict[str, Any]]:
    return [r["body"] for r in srv.requests if r["endpoint"] == "completions"]


def _cut_at_cap(endpoint: str, body: dict[str, Any]) -> Reply:
    return Reply(" word" * body["max_tokens"], finish_reason="length", completion_tokens=body["max_tokens"])


def test_the_context_from_v1_models_fits_each_request() -> None:
    with ScriptedOpenAIServer(_cut_at_cap, owned_by="vllm", max_model_len=30, routes=WORDS) as srv:
        backend = OpenAIBackend(srv.model, base_url=srv.base_url)
        short, long = "a b c d e", " ".join(["w"] * 40)
        seqs = backend.open([short, long, " ".join(["w"] * 20)])
        seqs[2].max_tokens = 4  # its own budget is below the room: a spent budget stays "length"
        outs = backend.continue_(seqs, SamplingParams(max_tokens=100))
        sent = _gen(srv)
    assert backend.context.length == 30
    assert [(o.finish_reason, o.tokens) for o in outs] == [("context", 25), ("context", 0), ("length", 4)]
    assert sorted(body["max_tokens"] for body in sent) == [4, 25]  # the long prompt was never sent
    assert outs[1].text == "" and seqs[1].text == ""


def test_an_option_gives_the_context_where_the_server_does_not() -> None:
    with ScriptedOpenAIServer(_cut_at_cap, routes=WORDS) as srv:
        backend = OpenAIBackend(srv.model, base_url=srv.base_url, context_length=12)
        [out] = backend.continue_(backend.open(["a b c d e f g h i j"]), SamplingParams(max_tokens=50))
        assert (out.finish_reason, out.tokens, _gen(srv)[0]["max_tokens"]) == ("context", 2, 2)
    with ScriptedOpenAIServer(_cut_at_cap, routes=WORDS) as srv:  # unknown context: nothing capped
        backend = OpenAIBackend(srv.model, base_url=srv.base_url)
        [out] = backend.continue_(backend.open(["a b c"]), SamplingParams(max_tokens=50))
        assert backend.context.length is None and (out.finish_reason, _gen(srv)[0]["max_tokens"]) == (
            "length",
            50,
        )


def test_a_400_that_names_the_context_is_a_context_record_not_a_failed_run() -> None:
    too_long = '{"error": {"message": "This model\'s maximum context length is 2048 tokens. However, you requested 9000"}}'
    with ScriptedOpenAIServer() as srv:
        srv.faults.append(Fault(status=400, body=too_long))
        backend = OpenAIBackend(srv.model, base_url=srv.base_url, max_retries=0)
        outs = backend.continue_(backend.open(["a", "b"]), SamplingParams(max_tokens=9000))
    assert sorted(o.finish_reason for o in outs) == ["context", "stop"]
