"""`fs1 judge` and `fs1 judge-agreement` through Typer's CliRunner, with the scripted judge server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fs1.cli.main import app
from tests.judge.test_stage import QUESTIONS, oracle, predictions_of
from tests.support.scripted_openai import ScriptedOpenAIServer

LABELLED = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "judge_labelled.jsonl"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    path = tmp_path / "bench.jsonl"
    path.write_text("".join(json.dumps(q.to_dict()) + "\n" for q in QUESTIONS.values()))
    return path


def write_predictions(path: Path, rows: list[tuple[str, int, str]]) -> Path:
    path.write_text("".join(json.dumps({"id": q, "sample": s, "text": t}) + "\n" for q, s, t in rows))
    return path


REPLIES = [
    ("q1", 0, "<think>Maybe Philadelphia?</think>\n\\boxed{New York}"),
    ("q1", 1, "The answer is \\boxed{Philadelphia}."),
    ("q1", 2, "\\boxed{new york}"),
    ("q2", 0, "\\boxed{1989}"),
    ("q2", 1, "<think>The wall fell in"),  # cut off: no answer
    ("q2", 2, "\\boxed{1989}"),
]


def judge_args(preds: Path, bench: Path, out: Path, server: ScriptedOpenAIServer, *extra: str) -> list[str]:
    server_options = ["--judge", server.model, "--base-url", server.base_url]
    return [
        "judge",
        str(preds),
        "--benchmark",
        str(bench),
        *server_options,
        "--out",
        str(out),
        "--k",
        "1,2,3",
        *extra,
    ]


def test_judge_command_writes_verdicts_and_summary_then_reuses_the_cache(runner, bench, tmp_path) -> None:
    preds = write_predictions(tmp_path / "preds.jsonl", REPLIES)
    out = tmp_path / "judged"
    with ScriptedOpenAIServer(oracle({"New York": "1"})) as server:
        first = runner.invoke(app, judge_args(preds, bench, out, server))
        asked_first = predictions_of(server)
        second = runner.invoke(app, judge_args(preds, bench, out, server))
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert asked_first == ["New York"] and predictions_of(server) == ["New York"]  # second run: zero calls
    rows = [json.loads(line) for line in (out / "judged.jsonl").read_text().splitlines()]
    assert [(r["id"], r["sample"], r["verdict"]) for r in rows] == [
        ("q1", 0, "correct"), ("q1", 1, "incorrect"), ("q1", 2, "correct"),
        ("q2", 0, "correct"), ("q2", 1, "not_attempted"), ("q2", 2, "correct"),
    ]  # fmt: skip
    summary = json.loads((out / "judged_summary.json").read_text())
    assert summary["judge_calls"] == 0 and summary["cache_hits"] == 1
    assert summary["overall"]["pass@k"]["1"] == pytest.approx((2 / 3 + 2 / 3) / 2, abs=1e-6)
    assert summary["overall"]["attempted"] == pytest.approx((1 + 2 / 3) / 2, abs=1e-6)
    assert "judge calls 0" in second.output and "cache hits 1" in second.output


def test_judge_command_on_a_score_directory_in_judge_all_mode(runner, bench, tmp_path) -> None:
    preds = write_predictions(tmp_path / "preds.jsonl", REPLIES)
    scored = tmp_path / "scored"
    assert (
        runner.invoke(app, ["score", str(preds), "--benchmark", str(bench), "--out", str(scored)]).exit_code
        == 0
    )
    with ScriptedOpenAIServer(oracle(simpleqa=True)) as server:
        result = runner.invoke(
            app, judge_args(scored, bench, tmp_path / "j", server, "--mode", "all", "--prompt", "simpleqa")
        )
    assert result.exit_code == 0, result.output
    assert sorted(predictions_of(server)) == ["1989", "New York", "Philadelphia"]  # each distinct answer once
    summary = json.loads((tmp_path / "j" / "judged_summary.json").read_text())
    assert summary["judge"]["prompt"] == "simpleqa" and summary["decided_by_rule"] == 0
    assert summary["no_answer"] == 1 and summary["deduplicated"] == 2


def test_judge_samples_and_seed_options_reach_the_request_and_the_summary(runner, bench, tmp_path) -> None:
    preds = write_predictions(tmp_path / "preds.jsonl", REPLIES)
    with ScriptedOpenAIServer(oracle({"New York": "1"})) as server:
        args = judge_args(preds, bench, tmp_path / "j", server, "--judge-samples", "3", "--judge-seed", "11")
        result = runner.invoke(app, [*args, "--max-tokens", "4", "--repetition-penalty", "1.1"])
        bodies = [r["body"] for r in server.requests if r["endpoint"] == "chat"]
    assert result.exit_code == 0, result.output
    assert [
        (b["n"], b["seed"], b["max_tokens"], b["temperature"], b["repetition_penalty"]) for b in bodies
    ] == [(3, 11, 4, 0.6, 1.1)]
    judge = json.loads((tmp_path / "j" / "judged_summary.json").read_text())["judge"]
    assert judge["system"] == "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    assert judge["sampling"] == {
        "temperature": 0.6,
        "top_p": 0.9,
        "top_k": 20,
        "repetition_penalty": 1.1,
        "max_tokens": 4,
        "seed": 11,
        "samples": 3,
    }


def test_unparseable_judge_replies_are_reported(runner, bench, tmp_path) -> None:
    preds = write_predictions(tmp_path / "preds.jsonl", REPLIES)
    with ScriptedOpenAIServer(oracle({"New York": "Probably yes"})) as server:
        result = runner.invoke(app, judge_args(preds, bench, tmp_path / "j", server))
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "j" / "judged_summary.json").read_text())
    assert summary["errors"] == 2 and summary["error_examples"] == ["Probably yes"]
    assert "2 prediction(s) got an unparseable judge reply" in result.output


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ('{"id": "q1", "sample": 0, "text": "\\\\boxed{x}"}\n{"id": "q9", "sample": 0, "text": "y"}\n',
         "preds.jsonl:2: unknown question ID 'q9'"),
        ('{"id": "q1", "sample": 0, "text": "x"}\n{"id": "q1", "sample": 0, "text": "y"}\n',
         "preds.jsonl:2: duplicate sample 0"),
        ('{"id": "q1", "sample": 0, "text": "x"}\n{"id": "q1", "sam\n', "preds.jsonl:2: malformed JSON"),
        ('{"id": "q1", "text": "x"}\n', "preds.jsonl:1: missing field(s) sample"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_error_naming_file_and_line(runner, bench, tmp_path, lines, message) -> None:
    preds = tmp_path / "preds.jsonl"
    preds.write_text(lines)
    out = tmp_path / "j"
    with ScriptedOpenAIServer(oracle()) as server:
        result = runner.invoke(app, judge_args(preds, bench, out, server, "--mode", "all"))
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not out.exists()  # nothing written, not even an empty cache


def test_bad_options_are_clear_errors(runner, bench, tmp_path) -> None:
    preds = write_predictions(tmp_path / "preds.jsonl", REPLIES)
    with ScriptedOpenAIServer(oracle()) as server:
        bad_mode = runner.invoke(app, judge_args(preds, bench, tmp_path / "j", server, "--mode", "some"))
        bad_prompt = runner.invoke(app, judge_args(preds, bench, tmp_path / "j", server, "--prompt", "gpt"))
        bad_rule = runner.invoke(
            app, judge_args(preds, bench, tmp_path / "j", server, "--rules", "exact,vibes")
        )
    assert bad_mode.exit_code == bad_prompt.exit_code == bad_rule.exit_code == 2
    # The schema checks the vocabularies and names the option and its choices in one line.
    assert "--mode: Input should be 'all' or 'cascade'" in bad_mode.output
    assert "--prompt: Input should be 'fs1', 'fs1-clean' or 'simpleqa'" in bad_prompt.output
    assert "unknown rule(s) vibes" in bad_rule.output


def test_a_dead_judge_server_is_a_clean_error(runner, bench, tmp_path) -> None:
    preds = write_predictions(tmp_path / "preds.jsonl", REPLIES)
    with ScriptedOpenAIServer(oracle()) as server:
        url = server.base_url
    result = runner.invoke(
        app, ["judge", str(preds), "--benchmark", str(bench), "--judge", "m", "--base-url", url,
              "--max-retries", "0", "--out", str(tmp_path / "j")],
        env={"OPENAI_API_KEY": "sk-secret-judge-key"},
    )  # fmt: skip
    assert result.exit_code == 1
    assert "the judge failed" in result.output and "run the same command again" in result.output
    assert "sk-secret-judge-key" not in result.output


def test_judge_agreement_rules_only_and_with_a_judge(runner, tmp_path) -> None:
    report_path = tmp_path / "agreement.json"
    result = runner.invoke(app, ["judge-agreement", str(LABELLED), "--out", str(report_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    assert report["n_cases"] >= 300 and "judge" not in report
    assert report["calls_saved"] >= 0.70 and report["cascade"]["agreement"] >= 0.99
    assert {c["rule"] for c in report["candidates"] if c["keep"]} == set(report["cascade"]["rules"])
    with ScriptedOpenAIServer(oracle()) as server:
        judged = runner.invoke(
            app, ["judge-agreement", str(LABELLED), "--limit", "40", "--judge", server.model,
                  "--base-url", server.base_url, "--out", str(report_path)],
        )  # fmt: skip
    assert judged.exit_code == 0, judged.output
    report = json.loads(report_path.read_text())
    assert report["n_cases"] == 40 and report["judge"]["judged"] == report["answered"]
    assert len(predictions_of(server)) == report["answered"]  # judge-all asks every answered case once
    assert 0.5 < report["judge"]["agreement_on_answered"] <= 1.0


def test_judge_agreement_rejects_a_bad_label(runner, tmp_path) -> None:
    labelled = tmp_path / "labelled.jsonl"
    good = {"ID": "a", "question": "Q?", "main_answers": ["x"], "prediction": "\\boxed{x}", "label": 1}
    labelled.write_text(json.dumps(good) + "\n" + json.dumps({**good, "label": 2}) + "\n")
    result = runner.invoke(app, ["judge-agreement", str(labelled)])
    assert result.exit_code == 2
    assert "labelled.jsonl:2: field label must be 0 or 1" in " ".join(result.output.split())


@pytest.mark.slow
def test_kill_9_mid_run_then_rerun_asks_each_answer_exactly_once(bench, tmp_path) -> None:
    answers = ["Boston", "Albany", "Trenton", "New York", "Gotham", "Hartford"]
    preds = write_predictions(
        tmp_path / "preds.jsonl", [("q1", i, f"\\boxed{{{a}}}") for i, a in enumerate(answers)]
    )
    out, release = tmp_path / "j", threading.Event()
    respond = oracle({"New York": "1"})
    served: list[str] = []

    def blocking(endpoint: str, body: dict) -> object:
        served.append(body["messages"][-1]["content"])
        if len(served) > 2:  # the first batch (2 requests) goes through; then the judge hangs
            release.wait(timeout=60)
        return respond(endpoint, body)

    with ScriptedOpenAIServer(blocking) as server:
        cmd = [sys.executable, "-m", "fs1.cli.main", *judge_args(preds, bench, out, server, "--mode", "all"),
               "--batch-size", "2", "--concurrency", "1"]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cache = out / "judge_cache.jsonl"
        deadline = time.monotonic() + 60
        while not (
            cache.exists() and len(cache.read_text().splitlines()) == 2
        ):  # wait for the first batch on disk
            assert proc.poll() is None and time.monotonic() < deadline, "first batch never reached the cache"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        release.set()
        assert not (out / "judged.jsonl").exists()
        server.requests.clear()
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert len(predictions_of(server)) == 4  # only the answers the killed run had not got back
    keys = [json.loads(line)["key"] for line in cache.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 6
    rows = [json.loads(line) for line in (out / "judged.jsonl").read_text().splitlines()]
    assert [r["verdict"] for r in rows] == ["incorrect"] * 3 + ["correct"] + ["incorrect"] * 2


def test_help_text_wraps_as_paragraphs_not_at_the_docstring_line_breaks() -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["judge", "--help"], terminal_width=100)
    assert result.exit_code == 0
    lines = [line.strip() for line in result.output.splitlines()]
    # The docstring breaks after "(a" at 110 columns; the help must flow past it on a 100-column terminal.
    assert not any(line.endswith("(a") for line in lines), result.output
    assert any("disk (a re-run" in line for line in lines), result.output


def test_poisoned_cache_lines_are_asked_again_not_counted(runner, bench, tmp_path, caplog) -> None:
    """Issue 31 item 7: verdicts of an edited cache ({"x": 1}, null, "banana", another preset's grade) are skipped with
    a warning and asked again; on the old code they were read as verdicts (a hallucination each)."""
    preds = write_predictions(tmp_path / "preds.jsonl", REPLIES)
    out = tmp_path / "judged"
    with ScriptedOpenAIServer(oracle({"New York": "1"})) as server:
        first = runner.invoke(app, judge_args(preds, bench, out, server, "--mode", "all"))
        judged = (out / "judged.jsonl").read_text()
        cache = out / "judge_cache.jsonl"
        rows = [json.loads(line) for line in cache.read_text().splitlines()]
        poison = [{"x": 1}, None, "banana", "not_attempted"]
        cache.write_text(
            "".join(json.dumps({**r, "verdict": poison[i % 4]}) + "\n" for i, r in enumerate(rows))
        )
        second = runner.invoke(app, judge_args(preds, bench, out, server, "--mode", "all"))
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    assert f"{len(rows)} judge cache lines skipped" in caplog.text  # a warning on the terminal
    assert (out / "judged.jsonl").read_text() == judged  # the verdicts the judge gives, not the poison
    assert len(predictions_of(server)) == 2 * len(rows)  # every poisoned line was asked again


def test_a_cache_that_is_not_a_regular_file_is_one_line_error(runner, bench, tmp_path) -> None:
    preds = write_predictions(tmp_path / "preds.jsonl", REPLIES)
    with ScriptedOpenAIServer() as server:
        result = runner.invoke(app, judge_args(preds, bench, tmp_path / "j", server, "--cache", "/dev/zero"))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "/dev/zero: the judge cache must be a regular file" in " ".join(result.output.split())


def test_scores_naming_questions_by_their_older_ids_are_judged(runner, tmp_path) -> None:
    """SimpleQA's own file: predictions written against an older conversion name questions by their row IDs
    (``meta["row_id"]``); `fs1 score` reads them, and `fs1 judge` (rules only here) reads the same scores."""
    from fs1.data import load_questions
    from tests.data.test_edge_cases import EDGE

    dataset = EDGE / "simple_qa_test_set.edge.csv"
    questions = load_questions(dataset)
    predictions = tmp_path / "p.jsonl"
    rows = [
        {"id": q.meta["row_id"], "sample": 0, "text": f"\\boxed{{{q.main_answers[0]}}}"} for q in questions
    ]
    predictions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    scored = runner.invoke(
        app, ["score", str(predictions), "-b", str(dataset), "--k", "1", "--out", str(tmp_path / "s")]
    )
    assert scored.exit_code == 0, scored.output
    args = [
        "judge",
        str(tmp_path / "s"),
        "-b",
        str(dataset),
        "--model",
        "unused",
        "--base-url",
        "http://127.0.0.1:9/v1",
    ]
    judged = runner.invoke(app, [*args, "--mode", "cascade", "--k", "1", "--out", str(tmp_path / "j")])
    assert judged.exit_code == 0, judged.output
    summary = json.loads((tmp_path / "j" / "judged_summary.json").read_text())
    assert (summary["benchmark_questions"], summary["overall"]["n_questions"]) == (
        len(questions),
        len(questions),
    )
    assert summary["judge_calls"] == 0 and summary["overall"]["accuracy"] == 1.0
