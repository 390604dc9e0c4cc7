"""The authors' generation as one setting: `--system-prompt` / `system_prompt`, and `--preset paper` (their Qwen
system message for every model, sampling by model family as scripts/4.run_vllm_inference_parallel.sh has it,
repetition penalty 1.05, at most 8000 new tokens), on the command line, in Python and in the experiment file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fs1.data import load_benchmark
from fs1.generate.predictions import GenerateConfig, resume_config
from fs1.prompts import eval_user_prompt
from fs1.run.config import Experiment
from fs1.run.stages import effective_generation
from tests.generate.test_generate_openai_routes import generate
from tests.support.scripted_openai import Reply, ScriptedOpenAIServer

AUTHORS_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


def sampling(config: Any) -> tuple[Any, ...]:
    return (config.temperature, config.top_p, config.top_k, config.repetition_penalty, config.max_tokens)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("Qwen/Qwen2.5-7B-Instruct", (0.7, 0.8, 20, 1.05, 8000)),
        ("jjzha/Qwen2.5-7B-Instruct-fs1-2708", (0.7, 0.8, 20, 1.05, 8000)),  # their tuned students: the same
        ("HuggingFaceTB/SmolLM2-1.7B-Instruct", (0.7, 0.8, 20, 1.05, 8000)),
        ("Qwen/QwQ-32B", (0.6, 0.95, 40, 1.05, 8000)),
        ("deepseek-ai/DeepSeek-R1-Distill-Llama-70B", (0.6, 0.95, 40, 1.05, 8000)),
    ],
)
def test_the_paper_preset_by_model_family(model: str, expected: tuple[Any, ...]) -> None:
    config = GenerateConfig(model=model, preset="paper", setting="instruct")
    assert sampling(config) == expected and config.system == AUTHORS_SYSTEM
    # the same setting names the same values whatever the prompt setting
    assert sampling(GenerateConfig(model=model, preset="paper", setting="reasoning", n=4)) == expected


def test_explicit_fields_win_and_budget_forcing_stays_greedy() -> None:
    mine = GenerateConfig(model="Qwen/QwQ-32B", preset="paper", temperature=0.3, system="Be brief.")
    assert sampling(mine) == (0.3, 0.95, 40, 1.05, 8000) and mine.system == "Be brief."
    forced = GenerateConfig(
        model="Qwen/Qwen2.5-7B-Instruct", preset="paper", setting="reasoning", budgets=[512]
    )
    assert (forced.temperature, forced.repetition_penalty, forced.system) == (0.0, 1.05, AUTHORS_SYSTEM)
    # without the preset nothing changes: fs1's defaults by setting, no system message
    plain = GenerateConfig(model="Qwen/QwQ-32B", setting="instruct")
    assert plain.system is None and plain.temperature is None
    assert plain.sampling_params().temperature == 0.7  # fs1's instruct preset: by setting, not by family


def test_the_resume_record_holds_the_values_not_the_preset() -> None:
    class FakeBackend:
        name = "openai"

    record = resume_config(GenerateConfig(model="Qwen/QwQ-32B", preset="paper"), FakeBackend())  # type: ignore[arg-type]
    assert "preset" not in record
    assert (record["temperature"], record["top_k"], record["system"]) == (0.6, 40, AUTHORS_SYSTEM)


def test_the_system_prompt_and_the_paper_preset_reach_the_request(tmp_path: Path) -> None:
    users = [eval_user_prompt(q.question) for q in load_benchmark("sample", limit=2)]
    with ScriptedOpenAIServer(lambda e, b: Reply("\\boxed{x}"), owned_by="vllm") as srv:
        mine = generate(srv, tmp_path / "mine.jsonl", "--system-prompt", "Answer briefly.")
        assert mine.exit_code == 0, mine.output
        first = [r["body"] for r in srv.requests if r["endpoint"] == "chat"]
        srv.requests.clear()
        paper = generate(srv, tmp_path / "paper.jsonl", "--preset", "paper", "--n", "2")
        assert paper.exit_code == 0, paper.output
        second = [r["body"] for r in srv.requests if r["endpoint"] == "chat"]
    assert sorted(b["messages"][1]["content"] for b in first) == sorted(users)
    assert {b["messages"][0]["content"] for b in first} == {"Answer briefly."}
    # the served model is "scripted-model": not QwQ / R1, so the instruct family, as the authors' case statement
    assert {(b["messages"][0]["content"], b["temperature"], b["top_p"], b["top_k"], b["repetition_penalty"],
             b["max_tokens"]) for b in second} == {(AUTHORS_SYSTEM, 0.7, 0.8, 20, 1.05, 8000)}  # fmt: skip
    assert sorted(b["messages"][1]["content"] for b in second) == sorted(
        users
    )  # question + boxed instruction
    config = json.loads((tmp_path / "paper.config.json").read_text())
    assert config["system"] == AUTHORS_SYSTEM and "preset" not in config


def test_the_experiment_file_takes_the_preset_and_system_prompt() -> None:
    exp = Experiment.model_validate(
        {"students": [{"name": "s", "model": "m"}], "generation": {"preset": "paper", "system_prompt": "Hi."}}
    )
    assert (exp.generation.preset, exp.generation.system) == ("paper", "Hi.")
    spec = Experiment.model_validate(
        {"students": [{"name": "s", "model": "m"}], "generation": {"preset": "paper"}}
    )
    qwq = effective_generation(spec.generation, "Qwen/QwQ-32B", budgets=[])
    tuned = effective_generation(spec.generation, "/runs/x/train/qwen-fs1/model", budgets=[])
    forced = effective_generation(spec.generation, "/runs/x/train/qwen-fs1/model", budgets=[512])
    assert (sampling(qwq), qwq.system) == ((0.6, 0.95, 40, 1.05, 8000), AUTHORS_SYSTEM)
    assert sampling(tuned) == (0.7, 0.8, 20, 1.05, 8000)
    assert sampling(forced) == sampling(tuned)  # n = 16 samples: not the greedy s1 runs
    default = Experiment.model_validate({"students": [{"name": "s", "model": "m"}]}).generation
    assert effective_generation(default, "Qwen/QwQ-32B", budgets=[]) == default  # no preset: untouched
