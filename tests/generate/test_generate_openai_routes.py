"""`fs1 generate --backend openai` on servers with and without a chat template (scripted server, real HTTP).

No template (hosted APIs, llama-cpp-python): instruct and cot go through /v1/chat/completions with the same user turn,
``n`` per request, seeds passed through, usage recorded, ``route: chat``; reasoning stops with one line naming
--tokenizer. A llama.cpp-style server publishing its Jinja template in ``/props``: the template is rendered here and
budget forcing runs over /v1/completions (``route: raw``). The real llama-cpp-python server: test_generate_openai_llama.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fs1.cli.main import app
from fs1.data import load_benchmark
from fs1.generate import sample_seed
from fs1.prompts import ANSWER_MARKER, FORCED_ANSWER, THINK_START, WAIT, eval_user_prompt
from fs1.records import Prediction
from tests.support.cli import runner
from tests.support.scripted_openai import Reply, ScriptedOpenAIServer

# SmolLM2's chat template, as llama.cpp's /props publishes a model's (shortened: no default system turn).
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' "
    "+ '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def generate(srv: ScriptedOpenAIServer, out: Path, *options: str) -> Any:
    args = [
        "generate",
        "--benchmark",
        "sample",
        "--limit",
        "2",
        "--backend",
        "openai",
        "--base-url",
        srv.base_url,
    ]
    return runner.invoke(app, [*args, "--model", srv.model, "--out", str(out), *options])


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def sent(srv: ScriptedOpenAIServer, endpoint: str) -> list[dict[str, Any]]:
    return [r["body"] for r in srv.requests if r["endpoint"] == endpoint]


@pytest.mark.parametrize(("setting", "honour_n"), [("instruct", True), ("cot", False)])
def test_without_template_instruct_and_cot_go_through_chat(
    tmp_path: Path, setting: str, honour_n: bool
) -> None:
    replies = Reply("It is \\boxed{x}.", prompt_tokens=21, completion_tokens=5)
    with ScriptedOpenAIServer(lambda e, b: replies, honour_n=honour_n) as srv:
        result = generate(srv, tmp_path / "p.jsonl", "--setting", setting, "--n", "3", "--seed", "7")
        chats, raw = sent(srv, "chat"), sent(srv, "completions")
    assert result.exit_code == 0, result.output
    questions = load_benchmark("sample", limit=2)
    seeds = [sample_seed(7, q.ID, 0) for q in questions]
    users = [eval_user_prompt(q.question, setting) for q in questions]
    if honour_n:  # one request per question for its three samples (sent concurrently: any order)
        asked_n = sorted((c["messages"][0]["content"], len(c["messages"]), c["n"], c["seed"]) for c in chats)
        assert asked_n == sorted((u, 1, 3, s) for u, s in zip(users, seeds, strict=True))
    else:  # one choice per request: the other samples are asked with seed + 1, seed + 2
        asked = sorted((c["messages"][-1]["content"], c["seed"]) for c in chats)
        assert asked == sorted((u, s + i) for u, s in zip(users, seeds, strict=True) for i in range(3))
    assert all(c["max_tokens"] == 8000 and len(c["messages"]) == 1 for c in chats)
    assert raw == []  # never a raw prompt: the server has no template to build one with
    records = [Prediction.from_dict(r) for r in rows(tmp_path / "p.jsonl")]
    assert [(p.id, p.sample) for p in records] == [(q.ID, s) for q in questions for s in range(3)]
    assert {p.route for p in records} == {"chat"} and {p.setting for p in records} == {setting}
    assert [p.seed for p in records] == [s for s in seeds for _ in range(3)]
    assert [p.meta["choice"] for p in records] == [0, 1, 2] * 2
    assert {(p.text, p.answer_tokens, p.finish_reason) for p in records} == {("It is \\boxed{x}.", 5, "stop")}
    assert all(p.meta["prompt_tokens"] == 21 and p.think_tokens is None for p in records)


def test_without_template_reasoning_stops_with_one_line_naming_tokenizer(tmp_path: Path) -> None:
    with ScriptedOpenAIServer() as srv:
        result = generate(srv, tmp_path / "p.jsonl", "--setting", "reasoning", "--max-think-tokens", "40")
        generated = sent(srv, "chat") + sent(srv, "completions")
    assert result.exit_code == 2 and "Traceback" not in result.output
    [line] = result.output.strip().splitlines()
    assert "--tokenizer PATH|HUB_ID|smollm2-135m" in line and "serves no chat template" in line
    assert "reasoning" in line and generated == [] and not (tmp_path / "p.jsonl").exists()


def test_chat_reasoning_field_is_kept_in_think_tags(tmp_path: Path) -> None:
    reply = Reply("\\boxed{Paris}", reasoning="The capital of France is Paris.")
    with ScriptedOpenAIServer(lambda e, b: reply) as srv:
        assert generate(srv, tmp_path / "p.jsonl", "--setting", "cot").exit_code == 0
    [first, _] = rows(tmp_path / "p.jsonl")
    assert first["text"] == "<think>The capital of France is Paris.</think>\\boxed{Paris}"


def test_budget_forcing_with_the_template_from_props(tmp_path: Path) -> None:
    """llama.cpp publishes the Jinja template in GET /props: rendered here, thinking continued over /completions."""

    def responder(endpoint: str, body: dict[str, Any]) -> Reply:
        prompt = body["prompt"]
        if prompt.endswith(FORCED_ANSWER):
            return Reply("Answer: \\boxed{x}", completion_tokens=4)
        if WAIT in prompt:  # after a Wait it thinks on until the budget runs out
            return Reply(" more thought", finish_reason="length", completion_tokens=body["max_tokens"])
        return Reply("short.", completion_tokens=3, stop_reason=ANSWER_MARKER)  # ends thinking early

    words = {"/tokenize": lambda body: (200, {"tokens": body["content"].split()})}
    props = {"/props": lambda: (200, {"chat_template": CHATML, "bos_token": "", "eos_token": "<|im_end|>"})}
    with ScriptedOpenAIServer(responder, owned_by="llamacpp", routes=words, get_routes=props) as srv:
        options = ["--setting", "reasoning", "--budgets", "40,60", "--min-think-tokens", "20", "--limit", "1"]
        result = generate(srv, tmp_path / "p.jsonl", *options, "--answer-max-tokens", "8")
        prompts = [b["prompt"] for b in sent(srv, "completions") if b["prompt"].startswith("<|im_start|>")]
        assert sent(srv, "chat") == []
    assert result.exit_code == 0, result.output
    question = load_benchmark("sample", limit=1)[0]
    rendered = f"<|im_start|>user\n{eval_user_prompt(question.question, 'reasoning')}<|im_end|>\n"
    assert prompts[0] == rendered + "<|im_start|>assistant\n" + THINK_START
    records = [Prediction.from_dict(r) for r in rows(tmp_path / "p.jsonl")]
    assert [(p.budget, p.route) for p in records] == [(40, "raw"), (60, "raw")]
    # "short." (1 word: a stopped reply counts its text's tokens, not the server's usage), " Wait," (1 word), then
    # thinking to the budget; the answer is 2 words
    for p in records:
        assert (p.think_tokens, p.waits, p.answer_tokens) == (p.budget, 1, 2)
        assert p.text.startswith("short." + WAIT + " more thought") and p.text.count(ANSWER_MARKER) == 1


def test_resume_refuses_to_mix_routes_and_old_records_load(tmp_path: Path) -> None:
    out = tmp_path / "p.jsonl"
    old = {"id": "x", "sample": 0, "text": "\\boxed{1}", "setting": "instruct", "meta": {}}
    assert Prediction.from_dict(old).route is None  # files written before routes were recorded still load
    # A first run on a server that publishes its template (raw route), then a resume on one without (chat route).
    props = {"chat_template": CHATML, "bos_token": "", "eos_token": "<|im_end|>"}
    with ScriptedOpenAIServer(owned_by="llamacpp", get_routes={"/props": lambda: (200, props)}) as srv:
        assert generate(srv, out, "--setting", "instruct").exit_code == 0
    assert {row["route"] for row in rows(out)} == {"raw"}
    before = out.read_text()
    with ScriptedOpenAIServer() as srv:
        result = generate(srv, out, "--setting", "instruct", "--resume")
        assert sent(srv, "chat") == []
    assert result.exit_code == 2 and "raw route" in result.output and "chat route" in result.output
    assert out.read_text() == before


@pytest.mark.slow
def test_props_template_renders_as_the_tokenizer_does() -> None:
    """The model's real template (with its default system turn) served by /props renders as transformers does."""
    from fs1.backends.openai.compat import OpenAIBackend
    from fs1.backends.openai.templates import load_local_tokenizer

    tokenizer = load_local_tokenizer("smollm2-135m")
    props = {
        "chat_template": tokenizer.chat_template,
        "bos_token": tokenizer.bos_token,
        "eos_token": "<|im_end|>",
    }
    with ScriptedOpenAIServer(owned_by="llamacpp", get_routes={"/props": lambda: (200, props)}) as srv:
        backend = OpenAIBackend(srv.model, base_url=srv.base_url)
        for system in (None, "Be brief."):
            user = eval_user_prompt("Who wrote {Hamlet}?", "cot")
            messages = ([{"role": "system", "content": system}] if system else []) + [
                {"role": "user", "content": user}
            ]
            expected = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            assert backend.chat_prompt(user, system=system) == expected
        assert backend.raw_prompt_problem() is None


def test_tokenizer_reaches_the_backend_from_distill_judge_and_the_experiment_file() -> None:
    from fs1.distill.runner import DistillConfig, open_teacher
    from fs1.judge.judge import load_judge
    from fs1.run.config import ModelSpec

    with ScriptedOpenAIServer() as srv:
        teacher = open_teacher(DistillConfig(teacher=srv.model, base_url=srv.base_url, tokenizer="my/tok"))
        judge = load_judge(srv.model, base_url=srv.base_url, tokenizer="my/tok")
    assert teacher.options.tokenizer == judge.backend.options.tokenizer == "my/tok"
    with pytest.raises(ValueError, match=r"tokenizer applies to a remote backend \(openai\), not 'llamacpp'"):
        DistillConfig(teacher="smollm2-135m", backend="llamacpp", tokenizer="my/tok")
    with pytest.raises(
        ValueError, match=r"tokenizer applies to a remote backend \(openai\), not 'transformers'"
    ):
        ModelSpec(name="s", model="m", backend="transformers", tokenizer="my/tok")
    for command in ("generate", "distill", "judge"):
        assert "--tokenizer" in runner.invoke(app, [command, "--help"]).output
