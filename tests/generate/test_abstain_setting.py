"""The optional abstain setting: its prompt reaches the model, a refusal is scored not attempted, the experiment
file accepts it, and its sampling is the instruct model's."""

from __future__ import annotations

import json
from pathlib import Path

from fs1.cli.main import app
from fs1.data import load_benchmark
from fs1.generate.predictions import generation_preset
from fs1.prompts import ABSTAIN_INSTRUCTION, eval_user_prompt
from fs1.run.config import load_experiment
from tests.support.cli import runner
from tests.support.scripted_openai import Reply, ScriptedOpenAIServer


def test_abstain_prompt_is_sent_and_a_refusal_is_not_attempted(tmp_path: Path) -> None:
    # The model refuses the first question and answers the second wrongly.
    def responder(endpoint: str, body: dict) -> Reply:
        user = body["messages"][-1]["content"]
        refuse = user.startswith(load_benchmark("sample", limit=1)[0].question)
        return Reply("\\boxed{I don't know}" if refuse else "\\boxed{Atlantis}")

    with ScriptedOpenAIServer(responder) as srv:
        generated = runner.invoke(
            app,
            [
                "generate", "--benchmark", "sample", "--limit", "2", "--backend", "openai", "--base-url",
                srv.base_url, "--model", srv.model, "--setting", "abstain", "--out", str(tmp_path / "p.jsonl"),
            ],
        )  # fmt: skip
        users = [r["body"]["messages"][-1]["content"] for r in srv.requests if r["endpoint"] == "chat"]
    assert generated.exit_code == 0, generated.output
    questions = load_benchmark("sample", limit=2)
    assert sorted(users) == sorted(eval_user_prompt(q.question, "abstain") for q in questions)
    assert all(u.endswith(ABSTAIN_INSTRUCTION) for u in users)
    scored = runner.invoke(
        app,
        [
            "score",
            str(tmp_path / "p.jsonl"),
            "--benchmark",
            "sample",
            "--out",
            str(tmp_path / "s"),
            "--k",
            "1",
        ],
    )
    assert scored.exit_code == 0, scored.output
    overall = json.loads((tmp_path / "s" / "summary.json").read_text())["overall"]
    assert (overall["accuracy"], overall["attempted"], overall["hallucination_rate"]) == (0.0, 0.5, 0.5)


def test_experiment_file_takes_abstain_as_a_fifth_setting(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(
        "students:\n  - {name: tiny, model: smollm2-135m, backend: llamacpp}\n"
        "settings: [instruct, cot, abstain, rt, fs1]\n"
    )
    assert load_experiment(path).settings == ["instruct", "cot", "abstain", "rt", "fs1"]
    assert generation_preset("abstain") == generation_preset("instruct") == "instruct"
