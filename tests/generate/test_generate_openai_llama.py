"""`fs1 generate --backend openai` from the CLI against the real llama-cpp-python server (slow: a real model).

llama-cpp-python's server publishes no chat template (no ``/props``, ``/apply-template`` or templated ``/tokenize``;
checked on 0.3.36), so without ``--tokenizer`` instruct and cot take the chat route and reasoning stops with one line;
with ``--tokenizer smollm2-135m`` all three settings take the raw route and budget forcing runs over the server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fs1.backends.openai.compat import OpenAIBackend
from fs1.cli.main import app
from fs1.prompts import ANSWER_MARKER, THINK_MARKER, WAIT
from fs1.records import Prediction
from tests.support.cli import runner

pytestmark = pytest.mark.slow

# A question the 135M model answers in a few tokens, so that its thinking ends early and Waits are forced.
QUESTION = {"ID": "paris", "question": "What is the capital of France?", "main_answers": ["Paris"]}


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "questions.jsonl"
    path.write_text(json.dumps(QUESTION) + "\n")
    return path


def generate(server: Any, benchmark: Path, out: Path, *options: str) -> list[Prediction]:
    args = ["generate", "--benchmark", str(benchmark), "--backend", "openai", "--base-url", server.base_url]
    args += ["--model", server.model_alias, "--out", str(out), "--temperature", "0", *options]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return [Prediction.from_dict(json.loads(line)) for line in out.read_text().splitlines()]


def test_all_settings_with_and_without_tokenizer(llama_server: Any, benchmark: Path, tmp_path: Path) -> None:
    short = ["--max-tokens", "12"]
    by_route: dict[str, dict[str, list[Prediction]]] = {"chat": {}, "raw": {}}
    for setting in ("instruct", "cot"):
        n = ["--n", "2"] if setting == "instruct" else []  # the server takes one choice per request: fan-out
        chat = generate(
            llama_server, benchmark, tmp_path / f"{setting}-chat.jsonl", "--setting", setting, *short, *n
        )
        raw = generate(
            llama_server, benchmark, tmp_path / f"{setting}-raw.jsonl", "--setting", setting, *short,
            "--tokenizer", "smollm2-135m",
        )  # fmt: skip
        by_route["chat"][setting], by_route["raw"][setting] = chat, raw
    for route, settings in by_route.items():
        for setting, records in settings.items():
            assert {(p.route, p.setting) for p in records} == {(route, setting)}
            assert all(p.text.strip() and 0 < (p.answer_tokens or 0) <= 12 for p in records)
    assert len(by_route["chat"]["instruct"]) == 2
    # Same user turn, same template (the server's own from the GGUF vs the tokenizer's): the same greedy text.
    for setting in ("instruct", "cot"):
        assert by_route["chat"][setting][0].text == by_route["raw"][setting][0].text
    reasoning = ["--setting", "reasoning", "--max-think-tokens", "40"]
    args = [
        "generate",
        "--benchmark",
        str(benchmark),
        "--backend",
        "openai",
        "--base-url",
        llama_server.base_url,
    ]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "r.jsonl"), *reasoning])
    assert result.exit_code == 2 and "Traceback" not in result.output
    [line] = result.output.strip().splitlines()
    assert "--tokenizer PATH|HUB_ID|smollm2-135m" in line and not (tmp_path / "r.jsonl").exists()


def test_budget_forcing_over_the_server(llama_server: Any, benchmark: Path, tmp_path: Path) -> None:
    """The thinking budget and Waits hold over the server as locally (tokens counted by the server)."""
    options = ["--setting", "reasoning", "--budgets", "48,64", "--min-think-tokens", "40"]
    records = generate(
        llama_server, benchmark, tmp_path / "bf.jsonl", *options, "--answer-max-tokens", "8",
        "--tokenizer", "smollm2-135m",
    )  # fmt: skip
    assert [(p.budget, p.route) for p in records] == [(48, "raw"), (64, "raw")]
    counter = OpenAIBackend("auto", base_url=llama_server.base_url)  # counts through /extras/tokenize
    for p in records:
        thinking = p.text.split(ANSWER_MARKER)[0].rstrip("\n")
        assert p.think_tokens is not None and p.think_tokens <= p.budget
        assert (
            p.waits and p.waits >= 1 and thinking.count(WAIT) == p.waits
        )  # the model ended early: cut, Wait
        assert abs(counter.count_tokens(thinking) - p.think_tokens) <= p.waits  # " Wait," may merge at a seam
        assert p.text.count(ANSWER_MARKER) == 1 and p.answer_tokens is not None and p.answer_tokens <= 8
        assert THINK_MARKER not in p.text  # the think marker is in the prompt, not the generated text
