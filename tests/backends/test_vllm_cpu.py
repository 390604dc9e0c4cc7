"""fs1 against the real vLLM: its CPU build, in-process (the ``vllm`` backend) and through its OpenAI server (the
``openai`` backend), one engine of each shared by the whole session (tests/support/vllm_cpu.py).

The reference is the transformers backend in float32 on the same checkpoint: greedy records must be equal, field
for field (texts, think/answer token counts, Waits, finish reasons), in the three settings, on vLLM in-process, over
its server, and on llama.cpp with the same weights in f32 (the embedded GGUF converted; the checkpoint is that GGUF
dequantized): one token-count contract on every backend. Both vLLM engines run with ``ENGINE_OPTIONS`` (float32,
2048-token context, 1 GiB KV cache).

The last test kills the engine's worker process, so it stays last in this file.
"""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fs1.backends import load_backend
from fs1.backends.base import render_chat
from fs1.backends.vllm_engine import CPU_BLOCK_SIZE
from fs1.cli.main import app
from fs1.data import load_benchmark
from fs1.generate.predictions import GenerateConfig, generate_predictions
from fs1.prompts import eval_user_prompt
from fs1.records import Question
from tests.support import fake_vllm
from tests.support.cli import runner
from tests.support.vllm_cpu import ENGINE_OPTIONS, SERVED_NAME, VllmCpu

pytestmark = pytest.mark.slow

QUESTIONS = 4
DEATH_TIMEOUT_S = (
    120.0  # vLLM notices a dead worker in well under a second; a hang fails the test, not the suite
)
COMPARED = ("id", "sample", "budget", "text", "think_tokens", "answer_tokens", "waits", "finish_reason")
SETTINGS: dict[str, dict[str, Any]] = {
    "instruct": {"setting": "instruct", "temperature": 0.0, "max_tokens": 48},
    "cot": {"setting": "cot", "temperature": 0.0, "max_tokens": 64},
    # min-think makes Waits: their number depends on the think-token counts, so counts must mean the same
    "reasoning": {
        "setting": "reasoning",
        "budgets": [40, 96],
        "min_think_tokens": 64,
        "answer_max_tokens": 24,
    },
}


@pytest.fixture(scope="module")
def questions() -> list[Question]:
    return load_benchmark("sample", limit=QUESTIONS)


@pytest.fixture(scope="module")
def transformers_fp32(vllm_cpu: VllmCpu) -> Any:
    """The reference: fp32, one thread (two would contend with the two engines' cores)."""
    return load_backend("transformers", str(vllm_cpu.model), dtype="float32", threads=1)


@pytest.fixture(scope="module")
def llamacpp_f32(vllm_cpu: VllmCpu) -> Iterator[Any]:
    """The same weights on llama.cpp, in f32 so that its greedy choices can equal the fp32 reference's."""
    engine = load_backend(
        "llamacpp", "smollm2-135m", weights="f32", threads=1, slots=8, ctx_per_sequence=1024
    )
    yield engine
    engine.shutdown()


def _config(vllm_cpu: VllmCpu, setting: str) -> GenerateConfig:
    return GenerateConfig(model=str(vllm_cpu.model), seed=0, **SETTINGS[setting])


def _records(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [{key: row.get(key) for key in COMPARED} for row in rows]


def _in_process(vllm_cpu: VllmCpu, questions: list[Question], config: GenerateConfig, out: Path) -> dict:
    return vllm_cpu.worker.call(
        "generate", questions=[q.to_dict() for q in questions], config=config.model_dump(), out=str(out)
    )


def _server_backend(vllm_cpu: VllmCpu, **options: Any) -> Any:
    return load_backend("openai", "auto", base_url=vllm_cpu.server.base_url, **options)


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_greedy_records_equal_transformers_fp32_on_vllm_its_server_and_llamacpp(
    setting: str, vllm_cpu: VllmCpu, transformers_fp32: Any, llamacpp_f32: Any, questions: list[Question],
    tmp_path: Path,
) -> None:  # fmt: skip
    config = _config(vllm_cpu, setting)
    generate_predictions(questions, transformers_fp32, config, tmp_path / "hf.jsonl")
    _in_process(vllm_cpu, questions, config, tmp_path / "vllm.jsonl")
    generate_predictions(questions, _server_backend(vllm_cpu), config, tmp_path / "server.jsonl")
    generate_predictions(questions, llamacpp_f32, config, tmp_path / "llamacpp.jsonl")
    reference = _records(tmp_path / "hf.jsonl")
    assert len(reference) == QUESTIONS * len(config.budgets or [None])
    assert _records(tmp_path / "vllm.jsonl") == reference
    assert _records(tmp_path / "server.jsonl") == reference
    assert _records(tmp_path / "llamacpp.jsonl") == reference
    if setting == "reasoning":  # the check has teeth: Waits were added, and some thinking hit a budget
        assert any(row["waits"] > 0 for row in reference)


def _long_question(tokens: int) -> Question:
    words = " ".join(["city"] * tokens)  # one token a word under SmolLM2's tokenizer
    return Question(ID="too-long", question=f"Which of these is a capital? {words}", main_answers=["x"])


def test_an_over_long_question_is_marked_context_and_the_others_are_written(
    vllm_cpu: VllmCpu, questions: list[Question], tmp_path: Path
) -> None:
    """Over the server, with fs1's default --max-tokens (8000, beyond the 2048 context): every record written."""
    batch = [*questions[:2], _long_question(2100), questions[2]]
    config = GenerateConfig(model=str(vllm_cpu.model), setting="instruct", temperature=0.0)
    for name, run in (
        ("server", lambda out: generate_predictions(batch, _server_backend(vllm_cpu), config, out)),
        ("in-process", lambda out: _in_process(vllm_cpu, batch, config, out)),
    ):
        out = tmp_path / f"{name}.jsonl"
        run(out)
        rows = {row["id"]: row for row in map(json.loads, out.read_text().splitlines())}
        assert list(rows) == [q.ID for q in batch], name
        assert rows["too-long"]["finish_reason"] == "context" and rows["too-long"]["text"] == "", name
        assert all(
            row["finish_reason"] == "stop" and row["text"] for key, row in rows.items() if key != "too-long"
        )


def test_budget_forcing_that_fills_the_context_ends_as_context_over_the_server(
    vllm_cpu: VllmCpu, questions: list[Question], tmp_path: Path
) -> None:
    backend = _server_backend(vllm_cpu)
    prompt_tokens = backend.count_tokens(backend.chat_prompt(_long_question(1950).question))
    assert 1900 < prompt_tokens < 2048 - 40  # fits, but thinking fills the context before the budget
    batch = [questions[0], _long_question(1950)]
    config = GenerateConfig(
        model=str(vllm_cpu.model), setting="reasoning", budgets=[256], min_think_tokens=200
    )
    generate_predictions(batch, backend, config, tmp_path / "server.jsonl")
    rows = {row["id"]: row for row in map(json.loads, (tmp_path / "server.jsonl").read_text().splitlines())}
    assert (
        rows["too-long"]["finish_reason"] == "context" and rows["too-long"]["meta"]["think_end"] == "context"
    )
    assert rows[questions[0].ID]["finish_reason"] != "context"


def test_a_failed_start_is_one_line_quoting_the_cause_from_the_stage_log(vllm_cpu: VllmCpu) -> None:
    """``fs1 generate`` with a KV cache smaller than one sequence needs (``FAILING_OPTIONS``, started beside the
    other engines). The cause is printed by vLLM's engine-core child process: it must reach the stage's log, and the
    command quotes it in one line (not "see root cause above"), without a traceback."""
    code, stderr = vllm_cpu.failing.result()
    log = vllm_cpu.failing.out.with_name("preds.log.txt")
    [line] = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert code == 2 and "Traceback" not in stderr, stderr
    assert line.startswith("error: backend 'vllm': vLLM could not start an engine"), line
    assert "KV cache" in line and "See root cause above" not in line, line
    assert line.endswith(f"(vLLM's output: {log})"), line
    # the engine-core child process wrote the cause into the stage log
    logged = [row for row in log.read_text(errors="replace").splitlines() if row.startswith("(EngineCore")]
    quoted = re.search(r"could not start an engine for '[^']*': (.+) \(vLLM's output: ", line)
    assert quoted is not None and any(quoted.group(1) in row for row in logged), line
    assert not vllm_cpu.failing.out.exists()


def test_cpu_defaults_start_the_engine_and_say_what_they_chose(vllm_cpu: VllmCpu) -> None:
    assert vllm_cpu.worker.ready["max_model_len"] == ENGINE_OPTIONS["max_model_len"]
    # dtype and KV cache were given; eager mode and 32-token blocks are fs1's CPU defaults
    assert vllm_cpu.worker.ready["note"] == "vllm on CPU: eager mode, 32-token KV blocks"


def test_the_cli_records_the_vllm_version_actually_used(
    vllm_cpu: VllmCpu, questions: list[Question], tmp_path: Path
) -> None:
    bench = tmp_path / "bench.jsonl"
    bench.write_text("".join(json.dumps(q.to_dict()) + "\n" for q in questions[:2]))
    out = tmp_path / "preds.jsonl"
    argv = ["generate", "-b", str(bench), "-o", str(out), "--backend", "vllm", "-m", str(vllm_cpu.model),
            "--temperature", "0", "--max-tokens", "16"]  # fmt: skip
    argv += [arg for key, value in ENGINE_OPTIONS.items() for arg in ("--backend-option", f"{key}={value}")]
    assert vllm_cpu.worker.call("cli", argv=argv)["code"] == 0
    manifest = json.loads(out.with_name("preds.manifest.json").read_text())
    assert manifest["packages"]["vllm"] == f"{vllm_cpu.worker.ready['vllm']} (vllm-cpu)"
    assert len(out.read_text().splitlines()) == 2
    # what the engine ran with, CPU defaults included (a later reader cannot tell them from the host otherwise)
    engine = manifest["engine"]
    assert engine["vllm"] == vllm_cpu.worker.ready["vllm"] and engine["max_model_len"] == 2048
    assert {key: engine["engine_args"].get(key) for key in ("dtype", "enforce_eager", "block_size")} == {
        "dtype": "float32", "enforce_eager": True, "block_size": CPU_BLOCK_SIZE,
    }  # fmt: skip


def test_a_run_over_the_server_records_the_server_and_its_vllm_version(
    vllm_cpu: VllmCpu, tmp_path: Path
) -> None:
    """This venv has no vLLM (``packages.vllm`` is null here): the manifest names the server's own, for the
    predictions (``fs1 generate``) and for the verdicts of a judge served by it (``fs1 judge``: its manifest and the
    judged summary), as the scripted stand-in's tests expect (tests/test_engine_facts.py)."""
    out = tmp_path / "preds.jsonl"
    argv = ["generate", "-b", "sample", "--limit", "1", "-o", str(out), "--backend", "openai", "--base-url",
            vllm_cpu.server.base_url, "-m", SERVED_NAME, "--temperature", "0", "--max-tokens", "8"]  # fmt: skip
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    engine = json.loads(out.with_name("preds.manifest.json").read_text())["engine"]
    assert (engine["server"], engine["server_version"], engine["model"], engine["context_length"]) == (
        "vllm", vllm_cpu.worker.ready["vllm"], SERVED_NAME, ENGINE_OPTIONS["max_model_len"],
    )  # fmt: skip
    judged, answers = tmp_path / "judged", tmp_path / "answers.jsonl"  # an answer each, so the judge is asked
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    answers.write_text("".join(json.dumps({**row, "text": "\\boxed{Paris}"}) + "\n" for row in rows))
    argv = ["judge", str(answers), "-b", "sample", "--judge", SERVED_NAME, "--base-url", vllm_cpu.server.base_url,
            "--mode", "all", "--max-tokens", "2", "-o", str(judged)]  # fmt: skip
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    summary = json.loads((judged / "judged_summary.json").read_text())
    assert summary["judge_calls"] > 0  # whatever the tiny judge replied, the server was asked
    assert (
        json.loads((judged / "judged.manifest.json").read_text())["engine"]
        == engine
        == summary["judge"]["engine"]
    )


# --- the stand-in (tests/support/fake_vllm.py) checked against the real engine -------------------------------

GREEDY = {
    "temperature": 0.0,
    "max_tokens": 64,
    "skip_special_tokens": False,
    "spaces_between_special_tokens": False,
}


# SmolLM2 answers question 0 "The atomic number of gold is 83.": "umber" begins inside the token " number"
@pytest.mark.parametrize("stop", [["umber"], []], ids=["stop-string-inside-a-token", "end-of-sequence"])
def test_the_stand_in_answers_like_the_real_engine_on_a_greedy_case(
    stop: list[str], vllm_cpu: VllmCpu, smollm2_tokenizer: Any, questions: list[Question],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Scripted with the text the real model produced, the stand-in returns what vLLM returns: the text (stop string
    cut), the ids (stop string and EOS kept), the finish and stop reasons."""
    prompt = render_chat(smollm2_tokenizer, "smollm2", eval_user_prompt(questions[0].question, "instruct"))
    ids = smollm2_tokenizer.encode(prompt, add_special_tokens=False)
    sampling = {**GREEDY, "stop": stop}
    real = vllm_cpu.worker.call("request", prompt_ids=ids, sampling=sampling)
    eos = smollm2_tokenizer.eos_token_id
    said = smollm2_tokenizer.decode([t for t in real["token_ids"] if t != eos], skip_special_tokens=False)
    module = fake_vllm.install(monkeypatch, smollm2_tokenizer, lambda context, rng: said)
    [result] = module.LLM(model="m").generate([{"prompt_token_ids": ids}], module.SamplingParams(**sampling))
    out = result.outputs[0]
    fields = ("text", "token_ids", "finish_reason", "stop_reason")
    assert {k: getattr(out, k) for k in fields} == {k: real[k] for k in fields}
    ending = real["stop_reason"] == stop[0] if stop else real["token_ids"][-1] == eos
    assert real["finish_reason"] == "stop" and ending, real


@pytest.mark.parametrize(
    "fields",
    [{"temperature": 2.5}, {"temperature": -1.0}, {"top_p": 0.0}, {"top_k": -2}, {"repetition_penalty": 0.0},
     {"max_tokens": 0}, {"n": 3, "temperature": 0.0}, {"stop": [""]}, {"temperature": float("inf")}],
)  # fmt: skip
def test_the_stand_in_refuses_what_vllm_refuses_with_its_words(fields: dict, vllm_cpu: VllmCpu) -> None:
    real = vllm_cpu.worker.call("sampling", fields=fields)
    try:
        fake_vllm.SamplingParams(**fields)
        fake = {"error": None, "message": None}
    except Exception as exc:
        fake = {"error": type(exc).__name__, "message": str(exc)}
    assert real["error"] is not None and fake == {k: real[k] for k in ("error", "message")}


def test_the_engine_dying_is_one_backend_error_line_with_its_cause(
    vllm_cpu: VllmCpu, questions: list[Question], tmp_path: Path
) -> None:
    """Kill the engine's model worker (as the OOM killer would): the next call fails in one line. Last test here."""
    children = vllm_cpu.worker.call("children")["children"]
    [worker] = [int(pid) for pid, name in children.items() if name == "VLLM::Worker"]
    os.kill(worker, signal.SIGKILL)
    config = GenerateConfig(model=str(vllm_cpu.model), setting="instruct", temperature=0.0, max_tokens=8)
    with pytest.raises(RuntimeError, match="BackendError: the vLLM engine died: ") as failure:
        vllm_cpu.worker.call("generate", timeout_s=DEATH_TIMEOUT_S, questions=[questions[0].to_dict()],
                             config=config.model_dump(), out=str(tmp_path / "dead.jsonl"))  # fmt: skip
    message = str(failure.value).splitlines()[0]
    assert "died unexpectedly" in message and "vLLM's output: " in message
