"""`fs1 generate` and its library function: records, prompts per setting, resume, bad input, the CLI."""

from __future__ import annotations

import json

import pytest

from fs1.backends.hf import TransformersBackend
from fs1.cli.main import app
from fs1.generate import GenerateConfig, build_prompt, generate_predictions, sample_seed
from fs1.io import InputError, read_records
from fs1.prompts import ANSWER_MARKER, BOXED_INSTRUCTION, COT_INSTRUCTION, THINK_START
from fs1.records import Prediction, Question
from tests.support.cli import runner

QUESTIONS = [
    Question(ID=f"q{i}", question=f"What is item number {i}?", main_answers=[str(i)], source_of_data="cwq")
    for i in range(4)
]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):  # noqa: ANN001, ANN201
    return TransformersBackend(str(tiny_model_dir), threads=1, device="cpu", dtype="float32")


def test_prompts_per_setting(tiny):  # noqa: ANN001
    q = QUESTIONS[0]
    instruct = build_prompt(tiny, q, "instruct")
    assert q.question + BOXED_INSTRUCTION in instruct and COT_INSTRUCTION not in instruct
    assert instruct.endswith("<|im_start|>assistant\n")
    assert (q.question + BOXED_INSTRUCTION + COT_INSTRUCTION) in build_prompt(tiny, q, "cot")
    assert build_prompt(tiny, q, "reasoning") == instruct + THINK_START


def test_sweep_records_and_resume(tiny, tmp_path):  # noqa: ANN001
    out = tmp_path / "pred.jsonl"
    cfg = GenerateConfig(
        model="tiny",
        setting="reasoning",
        n=2,
        budgets=[6, 12],
        min_think_tokens=4,
        answer_max_tokens=5,
        batch_sequences=3,
    )
    first = generate_predictions(QUESTIONS[:2], tiny, cfg, out)
    assert (first.written, first.skipped, first.sequences) == (8, 0, 4)
    preds = read_records(out, Prediction)
    assert sorted((p.id, p.sample, p.budget) for p in preds) == [
        (f"q{i}", s, b) for i in range(2) for s in range(2) for b in (6, 12)
    ]
    for p in preds:
        assert p.seed == sample_seed(0, p.id, p.sample) and p.model == "tiny" and p.setting == "reasoning"
        assert ANSWER_MARKER in p.text and p.think_tokens <= p.budget and p.answer_tokens >= 1
        assert p.waits is not None and p.finish_reason in ("stop", "length")
        assert p.meta["think_end"] in ("budget", "natural") and p.meta["backend"] == "transformers"
    # Resume over more questions: only the new ones are generated; old records stay exactly once.
    more = generate_predictions(QUESTIONS, tiny, cfg, out, resume=True)
    assert (more.written, more.skipped, more.sequences) == (8, 8, 4)
    keys = [(p.id, p.sample, p.budget) for p in read_records(out, Prediction)]
    assert len(keys) == len(set(keys)) == 16


def test_resume_gives_the_same_samples_as_one_run(tiny, tmp_path):  # noqa: ANN001
    cfg = GenerateConfig(model="tiny", setting="instruct", n=3, max_tokens=6, seed=7)
    whole, parts = tmp_path / "whole.jsonl", tmp_path / "parts.jsonl"
    generate_predictions(QUESTIONS, tiny, cfg, whole)
    generate_predictions(QUESTIONS[:1], tiny, cfg, parts)
    generate_predictions(QUESTIONS, tiny, cfg, parts, resume=True)
    texts = lambda path: {(p.id, p.sample): p.text for p in read_records(path, Prediction)}  # noqa: E731
    assert texts(whole) == texts(parts)
    assert all(p.budget is None and p.think_tokens is None for p in read_records(whole, Prediction))


def test_reasoning_without_budget_is_capped_by_max_tokens(tiny, tmp_path):  # noqa: ANN001
    cfg = GenerateConfig(model="tiny", setting="reasoning", max_tokens=5, answer_max_tokens=3)
    generate_predictions(QUESTIONS[:1], tiny, cfg, tmp_path / "p.jsonl")
    (pred,) = read_records(tmp_path / "p.jsonl", Prediction)
    assert pred.budget is None and pred.think_tokens == 5 and ANSWER_MARKER in pred.text


def test_refuses_to_append_without_resume_and_duplicate_ids(tiny, tmp_path):  # noqa: ANN001
    out = tmp_path / "p.jsonl"
    out.write_text('{"id": "x", "sample": 0, "text": "t"}\n')
    with pytest.raises(InputError, match="--resume"):
        generate_predictions(QUESTIONS[:1], tiny, GenerateConfig(max_tokens=2), out)
    with pytest.raises(InputError, match="duplicate"):
        generate_predictions(
            [QUESTIONS[0], QUESTIONS[0]], tiny, GenerateConfig(max_tokens=2), tmp_path / "q.jsonl"
        )
    with pytest.raises(ValueError, match="reasoning"):
        GenerateConfig(setting="instruct", budgets=[64])


def test_sampling_defaults_follow_the_paper():
    instruct = GenerateConfig(setting="instruct").sampling_params()
    assert (instruct.temperature, instruct.top_p, instruct.top_k, instruct.max_tokens) == (0.7, 0.8, 20, 8000)
    reasoning = GenerateConfig(setting="reasoning", n=16).sampling_params()
    assert (reasoning.temperature, reasoning.top_p, reasoning.top_k) == (0.6, 0.95, 40)
    forced = GenerateConfig(setting="reasoning", budgets=[512]).sampling_params()
    assert forced.greedy and forced.repetition_penalty == 1.05
    assert GenerateConfig(temperature=0.0, top_k=5).sampling_params().top_k == 5


def test_cli_generate_and_resume(tiny_model_dir, tmp_path):  # noqa: ANN001
    out = tmp_path / "pred.jsonl"
    args = ["generate", "--benchmark", "sample", "--limit", "2", "--model", str(tiny_model_dir)]
    args += ["--setting", "reasoning", "--n", "2", "--max-think-tokens", "5", "--out", str(out)]
    args += ["--answer-max-tokens", "4", "--threads", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 4 and {r["budget"] for r in rows} == {5}
    again = runner.invoke(app, [*args, "--resume"])
    assert again.exit_code == 0 and "0 predictions" in again.output
    assert len(out.read_text().splitlines()) == 4


def test_cli_errors_are_one_line(tiny_model_dir, tmp_path):  # noqa: ANN001
    bad = tmp_path / "bench.jsonl"
    bad.write_text('{"ID": "a", "question": "Q?", "main_answers": ["x"]}\n{not json\n')
    base = ["generate", "--model", str(tiny_model_dir), "--out", str(tmp_path / "o.jsonl")]
    result = runner.invoke(app, [*base, "--benchmark", str(bad)])
    assert result.exit_code == 2 and f"{bad}:2" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, [*base, "--benchmark", "sample", "--budgets", "64"])
    assert result.exit_code == 2 and "reasoning" in result.output
    result = runner.invoke(app, [*base, "--benchmark", "sample", "--backend", "nope"])
    assert result.exit_code == 2 and "unknown backend" in result.output
    assert not (tmp_path / "o.jsonl").exists()
