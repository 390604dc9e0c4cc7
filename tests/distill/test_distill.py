"""`fs1 distill` end to end against real OpenAI-compatible servers on 127.0.0.1: a teacher replay server (reasoning
field, reasoning_content, <think> tags, plain replies, streamed or not, injected faults), resume after kill -9 of a
real subprocess, and one short run on the embedded model behind llama-cpp-python's server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fs1.backends import BackendError, load_backend
from fs1.cli.main import app
from fs1.distill.runner import DistillConfig, run_distillation
from fs1.prompts import teacher_prompt_fs1, teacher_prompt_rt
from fs1.records import Question
from tests.support.cli import runner
from tests.support.scripted_openai import Fault
from tests.support.teacher_replay import TeacherTurn, replay_server

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = [
    Question(ID="nba", question="Who won the 1994 NBA Finals?", main_answers=["Houston Rockets"],
             answer_aliases=["Rockets"]),
    Question(ID="aus", question="What is the capital of Australia?", main_answers=["Canberra"]),
    Question(ID="ham", question="Who wrote Hamlet?", main_answers=["William Shakespeare"],
             answer_aliases=["Shakespeare"]),
    Question(ID="wall", question="In which year did the Berlin Wall fall?", main_answers=["1989"]),
    Question(ID="gold", question="What is the atomic number of gold?", main_answers=["79"]),
]  # fmt: skip
TURNS = {
    "1994 NBA": TeacherTurn(
        "The 1994 Finals: Houston beat New York in seven.", "Houston won. \\boxed{Houston Rockets}"
    ),
    "Australia": TeacherTurn("Sydney is the largest city.", "\\boxed{Sydney}", style="reasoning_content"),
    "Hamlet": TeacherTurn("Hamlet is a tragedy from around 1600.", "\\boxed{Shakespeare}", style="think"),
    "Berlin": TeacherTurn("The Wall opened in November.", "\\boxed{1989}", style="bare_think"),
    "atomic": TeacherTurn("Gold, Au, has 79 protons.", "So \\boxed{79}.", style="plain"),
}
EXPECTED_LABEL = {"nba": 1, "aus": 0, "ham": 1, "wall": 1, "gold": 1}


@pytest.fixture()
def bench(tmp_path: Path) -> Path:
    path = tmp_path / "bench.jsonl"
    path.write_text("".join(json.dumps(q.to_dict()) + "\n" for q in QUESTIONS), encoding="utf-8")
    return path


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _distill(bench: Path, out: Path, base_url: str, *extra: str):  # noqa: ANN202
    args = ["distill", "--benchmark", str(bench), "--out", str(out), "--teacher", "replay-teacher",
            "--base-url", base_url, "-q"]  # fmt: skip
    return runner.invoke(app, [*args, *extra])


@pytest.mark.parametrize("stream", [False, True])
def test_rt_traces_from_every_reasoning_shape_labelled_and_accounted(
    bench: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-123")
    out = tmp_path / "traces.jsonl"
    server, _ = replay_server(TURNS)
    with server:
        flags = [
            "--samples",
            "2",
            "--price-in",
            "1.0",
            "--price-out",
            "4.0",
            *(["--stream"] if stream else []),
        ]
        result = _distill(bench, out, server.base_url, *flags)
    assert result.exit_code == 0, result.output
    rows = _rows(out)
    assert Counter((r["id"], r["sample"]) for r in rows) == Counter(
        {(q.ID, s): 1 for q in QUESTIONS for s in (0, 1)}
    )
    by_id = {r["id"]: r for r in rows}
    for key, turn in TURNS.items():
        row = next(r for r in rows if key in r["question"])
        # A plain reply has no reasoning channel: the whole reply is the reasoning.
        expected = f"{turn.reasoning}\n{turn.answer}" if turn.style == "plain" else turn.reasoning
        assert row["reasoning_trace"] == expected
        assert row["valid"] == 1 and row["label"] == EXPECTED_LABEL[row["id"]]
    assert by_id["nba"]["model_attempt"] == "Houston won. \\boxed{Houston Rockets}"
    assert by_id["gold"]["model_attempt"] == "\\boxed{79}"  # plain reply: its box is the attempt
    assert (
        "no_reasoning_field" in by_id["gold"]["flags"]
        and by_id["gold"]["meta"]["reasoning_source"] == "reply"
    )
    # The teacher saw exactly the paper's rt prompt, and the key went only into the Authorization header.
    prompts = {r["body"]["messages"][-1]["content"] for r in server.requests}
    assert prompts == {teacher_prompt_rt(q.question) for q in QUESTIONS}
    assert all(r["body"]["messages"][0]["role"] == "user" for r in server.requests)
    assert server.requests[0]["headers"]["Authorization"] == "Bearer sk-test-secret-123"
    for row in rows:
        assert row["tokens_in"] == len(teacher_prompt_rt(row["question"]).split())
    summary = json.loads((tmp_path / "traces.summary.json").read_text())
    assert summary["usage"]["tokens_in"] == sum(r["tokens_in"] for r in rows)
    assert summary["usage"]["tokens_out"] == sum(r["tokens_out"] for r in rows) > 0
    expected_cost = (summary["usage"]["tokens_in"] * 1.0 + summary["usage"]["tokens_out"] * 4.0) / 1e6
    assert summary["cost"] == pytest.approx(expected_cost)
    assert (summary["file_traces"], summary["file_correct"]) == (10, 8)
    for path in tmp_path.iterdir():
        assert "sk-test-secret-123" not in path.read_text(encoding="utf-8")


def test_fs1_prompts_carry_paths_and_pathless_questions_follow_the_policy(
    bench: Path, tmp_path: Path
) -> None:
    paths = tmp_path / "paths.jsonl"
    records = [{"ID": "nba", "status": "found", "hops": 1, "verbalised": "1994 NBA Finals, winner, Houston Rockets"},
               {"ID": "aus", "status": "none"}]  # fmt: skip
    paths.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    server, _ = replay_server(TURNS)
    with server:
        kept = _distill(
            bench, tmp_path / "kept.jsonl", server.base_url, "--mode", "fs1", "--paths", str(paths)
        )
        asked = len(server.requests)
        skip = _distill(bench, tmp_path / "skip.jsonl", server.base_url, "--mode", "fs1", "--paths", str(paths),
                        "--no-path", "skip")  # fmt: skip
    assert kept.exit_code == 0 and skip.exit_code == 0, kept.output + skip.output
    nba_prompt = teacher_prompt_fs1(QUESTIONS[0].question, "1994 NBA Finals, winner, Houston Rockets")
    assert nba_prompt in {r["body"]["messages"][-1]["content"] for r in server.requests[:asked]}
    rows = {r["id"]: r for r in _rows(tmp_path / "kept.jsonl")}
    assert rows["nba"]["kg_path"] == "1994 NBA Finals, winner, Houston Rockets" and rows["nba"]["flags"] == []
    assert rows["aus"]["kg_path"] == "" and "no_kg_path" in rows["aus"]["flags"]
    assert set(rows) == {q.ID for q in QUESTIONS}
    assert [r["id"] for r in _rows(tmp_path / "skip.jsonl")] == ["nba"]
    assert len(server.requests) - asked == 1


@pytest.mark.parametrize(
    ("flags", "message"),
    [(["--mode", "fs1"], "--paths"), (["--samples", "0"], "--samples: Input should be greater than or equal to 1"),
     (["--mode", "kg"], "--mode: Input should be 'rt' or 'fs1'")],
)  # fmt: skip
def test_bad_options_are_one_line_errors(bench: Path, tmp_path: Path, flags: list[str], message: str) -> None:
    result = _distill(bench, tmp_path / "t.jsonl", "http://127.0.0.1:9/v1", *flags)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "t.jsonl").exists()


def _backend(base_url: str, **options: object):  # noqa: ANN202
    # Fast retries so the injected faults cost milliseconds; the retry policy itself is the backend's.
    return load_backend("openai", "replay-teacher", base_url=base_url, max_retries=1, backoff_base=0.0, jitter=0.0,
                        **options)  # fmt: skip


def test_rate_limit_is_retried_and_a_failing_question_is_recorded_then_resumed(tmp_path: Path) -> None:
    out = tmp_path / "traces.jsonl"
    config = DistillConfig(teacher="replay-teacher", concurrency=1, base_url="http://unused")
    server, _ = replay_server(TURNS)
    with server:
        # Faults are served in order: nba gets 500 twice (fails after its one retry), aus 429 then its reply.
        server.faults.extend([Fault(500), Fault(500), Fault(429, retry_after="7")])
        waits: list[float] = []  # the backend's sleep, recorded instead of slept
        backend = _backend(server.base_url, sleep=waits.append)
        summary = run_distillation(QUESTIONS, config, out, backend=backend, show_progress=False)
        assert (summary.written, summary.failed) == (4, 1)
        assert waits[-1] == 7.0  # the 429's Retry-After was honoured before aus was asked again
        errors = _rows(tmp_path / "traces.errors.jsonl")
        assert [(e["id"], e["sample"]) for e in errors] == [("nba", 0)] and "500" in errors[0]["error"]
        again = run_distillation(QUESTIONS, config, out, resume=True, backend=_backend(server.base_url),
                                 show_progress=False)  # fmt: skip
    assert (again.already_done, again.written, again.failed) == (4, 1, 0)
    assert sorted(r["id"] for r in _rows(out)) == sorted(q.ID for q in QUESTIONS)


def test_abort_mode_and_failures_in_a_row_stop_the_run(tmp_path: Path) -> None:
    server, _ = replay_server(TURNS)
    with server:
        server.faults.extend([Fault(500)] * 2)
        abort = DistillConfig(teacher="replay-teacher", concurrency=1, on_error="abort")
        with pytest.raises(BackendError, match="question nba"):
            run_distillation(QUESTIONS, abort, tmp_path / "a.jsonl", backend=_backend(server.base_url),
                             show_progress=False)  # fmt: skip
        server.faults.extend([Fault(500)] * 4)
        streak = DistillConfig(teacher="replay-teacher", concurrency=1, max_failures_in_a_row=2)
        with pytest.raises(BackendError, match="2 units failed in a row"):
            run_distillation(QUESTIONS, streak, tmp_path / "b.jsonl", backend=_backend(server.base_url),
                             show_progress=False)  # fmt: skip
    assert not (tmp_path / "a.jsonl").exists() or _rows(tmp_path / "a.jsonl") == []
    assert len(_rows(tmp_path / "b.errors.jsonl")) == 2


def test_existing_output_needs_resume_or_overwrite_and_resume_checks_the_run(
    bench: Path, tmp_path: Path
) -> None:
    out = tmp_path / "t.jsonl"
    server, _ = replay_server(TURNS)
    with server:
        assert _distill(bench, out, server.base_url, "--limit", "2").exit_code == 0
        again = _distill(bench, out, server.base_url)
        assert again.exit_code == 2 and "--resume" in again.output
        other = _distill(
            bench, out, server.base_url, "--resume", "--temperature", "0.6", "--teacher", "other"
        )
        assert other.exit_code == 2 and "teacher: 'replay-teacher' there, 'other' now" in other.output
        n = len(server.requests)
        assert _distill(bench, out, server.base_url, "--resume").exit_code == 0
        assert len(server.requests) - n == 3  # only the three questions not done yet
    assert len(_rows(out)) == 5


def test_resume_after_kill_9_gives_every_question_sample_exactly_once(bench: Path, tmp_path: Path) -> None:
    out = tmp_path / "traces.jsonl"
    server, replay = replay_server(TURNS, free=3)
    cmd = [sys.executable, "-m", "fs1.cli.main", "distill", "--benchmark", str(bench), "--out", str(out),
           "--teacher", "replay-teacher", "--samples", "2", "--concurrency", "2", "-q"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with server:
        proc = subprocess.Popen([*cmd, "--base-url", server.base_url], env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        deadline = time.monotonic() + 60
        # Wait for the condition "3 traces on disk and more requests held in flight", then kill -9 the writer.
        while time.monotonic() < deadline and not (len(server.requests) >= 5 and _line_count(out) >= 3):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        replay.free = None
        replay.gate.set()
        done_before = _line_count(out)
        assert 3 <= done_before < 10
        result = _distill(bench, out, server.base_url, "--samples", "2", "--resume", "--concurrency", "2")
    assert result.exit_code == 0, result.output
    rows = _rows(out)
    assert Counter((r["id"], r["sample"]) for r in rows) == Counter(
        {(q.ID, s): 1 for q in QUESTIONS for s in (0, 1)}
    )
    summary = json.loads((tmp_path / "traces.summary.json").read_text())
    assert summary["already_done"] == done_before and summary["written"] == 10 - done_before


def _line_count(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(1 for line in path.read_bytes().split(b"\n")[:-1] if line.strip())


@pytest.fixture(scope="module")
def llama_teacher(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The shared session server when tests/conftest.py registers it, else one started for this module."""
    try:
        yield request.getfixturevalue("llama_server")
        return
    except pytest.FixtureLookupError:
        pass
    pytest.importorskip(
        "llama_cpp.server.app", reason="needs the llamacpp extra: pip install 'fs1[llamacpp]'"
    )
    from tests.support.llama_server import LlamaServer

    with LlamaServer() as server:
        yield server


@pytest.mark.slow
def test_distill_from_the_embedded_model_behind_llama_cpp_server(
    llama_teacher: Any, bench: Path, tmp_path: Path
) -> None:
    out = tmp_path / "traces.jsonl"
    args = ["distill", "--benchmark", str(bench), "--out", str(out), "--teacher", llama_teacher.model_alias,
            "--base-url", llama_teacher.base_url, "--limit", "2", "--max-tokens", "32", "--seed", "1",
            "--concurrency", "1"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "weak" in result.output  # the offline stand-in teacher is called out
    rows = _rows(out)
    assert [r["id"] for r in rows] == ["nba", "aus"]
    for row in rows:
        assert row["reasoning_trace"] and row["tokens_out"] > 0 and row["tokens_in"] > 10
        assert row["label"] in (0, 1) and row["valid"] in (0, 1)
        assert row["meta"]["reasoning_source"] == "reply" and "no_reasoning_field" in row["flags"]


def test_local_teacher_reply_is_the_reasoning_and_prompt_tokens_are_counted(
    bench: Path, tmp_path: Path, tiny_model_dir: Path
) -> None:
    out = tmp_path / "t.jsonl"
    args = ["distill", "--benchmark", str(bench), "--out", str(out), "--teacher", str(tiny_model_dir),
            "--backend", "transformers", "--limit", "3", "--batch-size", "2", "--max-tokens", "8", "--seed", "3",
            "--concurrency", "4", "-q"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = _rows(out)
    assert [r["id"] for r in rows] == ["nba", "aus", "ham"]
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    for row in rows:
        assert row["meta"]["reasoning_source"] == "reply" and "no_reasoning_field" in row["flags"]
        assert 0 < row["tokens_out"] <= 8
        user = [{"role": "user", "content": teacher_prompt_rt(row["question"])}]
        rendered = tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
        assert row["tokens_in"] == len(tokenizer(rendered, add_special_tokens=False)["input_ids"])
    # The gibberish of a random model has no box: such traces are kept but never valid.
    assert all(r["valid"] == 0 for r in rows if r["model_attempt"] == "")


def test_help_lists_the_options() -> None:
    distill_help = runner.invoke(app, ["distill", "--help"])
    assert distill_help.exit_code == 0
    for option in ("--mode", "--paths", "--teacher", "--base-url", "--samples", "--resume", "--price-in"):
        assert option in distill_help.output
