"""Issue 13 items 5, 6, 9, 10, 11: wrong types and silent acceptance in the inputs the commands read.

Every bad input ends in exit code 2 with one message naming the file, the line and the field (what was expected,
what was found), never a stack trace, and never a silently stringified or accepted value.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import cli

GOOD = {"ID": "q1", "question": "Who wrote Hamlet?", "main_answers": ["Shakespeare"], "source_of_data": "cwq"}


def jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def assert_clean_error(code: int, output: str, *parts: str) -> None:
    assert code == 2, output
    assert "Traceback" not in output
    for part in parts:
        assert part in output, (part, output)


# --- item 5: benchmark rows ---

BAD_QUESTIONS = [
    ({"main_answers": 5}, "field main_answers: expected a list of strings, found int 5"),
    ({"hops": [1]}, "field hops: expected an integer, found list [1]"),
    ({"hops": "two"}, "field hops: expected an integer, found str 'two'"),
    ({"ID": ["q", "1"]}, "field ID: expected a string or integer id, found list"),
    ({"main_answers": [{"a": 1}]}, "field main_answers: expected a list of strings, found list"),
    ({"question": 7}, "field question: expected a string, found int 7"),
]


@pytest.mark.parametrize(("change", "message"), BAD_QUESTIONS)
@pytest.mark.parametrize(
    "command",
    [
        ["data", "convert", "{bench}", "--format", "fs1", "--out", "{tmp}/o.jsonl"],
        ["data", "stats", "{bench}"],
        ["paths", "{bench}", "--out", "{tmp}/p.jsonl"],
        ["score", "{tmp}/preds.jsonl", "--benchmark", "{bench}", "--out", "{tmp}/s"],
        ["distill", "--benchmark", "{bench}", "--out", "{tmp}/t.jsonl"],
    ],
)
def test_wrong_types_in_benchmark_rows(
    tmp_path: Path, change: dict, message: str, command: list[str]
) -> None:
    bench = jsonl(tmp_path / "bench.jsonl", [{**GOOD, "ID": "q0"}, {**GOOD, **change}])
    jsonl(tmp_path / "preds.jsonl", [{"id": "q0", "sample": 0, "text": "x"}])
    code, output = cli(*[a.format(bench=bench, tmp=tmp_path) for a in command])
    assert_clean_error(code, output, f"{bench}:2: {message}")


def test_numeric_ids_and_answers_are_still_read_as_text(tmp_path: Path) -> None:
    bench = jsonl(tmp_path / "bench.jsonl", [{**GOOD, "ID": 17, "main_answers": [1564], "hops": "2"}])
    out = tmp_path / "o.jsonl"
    code, output = cli("data", "convert", str(bench), "--format", "fs1", "--out", str(out))
    assert code == 0, output
    row = json.loads(out.read_text())
    assert (row["ID"], row["main_answers"], row["hops"]) == ("17", ["1564"], 2)


# --- item 6: predictions, traces, path records ---


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [{"id": "q1", "sample": 0, "text": "x", "budget": [64]}],
            ":1: field budget: expected an integer, found list",
        ),
        (
            [
                {"id": "q1", "sample": 0, "text": "x", "budget": 64},
                {"id": "q1", "sample": 0, "text": "x", "budget": "64"},
            ],
            ":2: field budget: expected an integer, found str '64'",
        ),
    ],
)
@pytest.mark.parametrize("command", ["score", "judge"])
def test_wrong_budget_types_in_predictions(
    tmp_path: Path, rows: list[dict], message: str, command: str
) -> None:
    bench = jsonl(tmp_path / "bench.jsonl", [GOOD])
    preds = jsonl(tmp_path / "preds.jsonl", rows)
    args = [command, str(preds), "--benchmark", str(bench), "--out", str(tmp_path / "out")]
    if command == "judge":
        args += ["--judge", "m", "--base-url", "http://127.0.0.1:9/v1"]
    code, output = cli(*args)
    assert_clean_error(code, output, f"{preds}{message}")


TRACE = {
    "id": "q1",
    "question": "Who wrote Hamlet?",
    "mode": "rt",
    "model": "teacher",
    "reasoning_trace": "thinking",
    "model_attempt": "Answer: \\boxed{Shakespeare}",
    "gold_answer": ["Shakespeare"],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reasoning_trace": ["a"]}, "field reasoning_trace: expected a string, found list"),
        ({"question": 5}, "field question: expected a string, found int 5"),
        ({"label": "yes"}, "field label: expected an integer, found str 'yes'"),
    ],
)
def test_wrong_types_in_traces(tmp_path: Path, tiny_model_dir: Path, change: dict, message: str) -> None:
    traces = jsonl(tmp_path / "traces.jsonl", [TRACE, {**TRACE, "id": "q2", **change}])
    code, output = cli(
        "build-sft", str(traces), "--student", str(tiny_model_dir), "--out", str(tmp_path / "sft")
    )
    assert_clean_error(code, output, f"{traces}:2: {message}")


def test_duplicate_traces_are_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    """Item 11: the same (question, sample) twice would be two training rows for one trace."""
    traces = jsonl(tmp_path / "traces.jsonl", [TRACE, TRACE])
    code, output = cli(
        "build-sft", str(traces), "--student", str(tiny_model_dir), "--out", str(tmp_path / "sft")
    )
    assert_clean_error(code, output, f"{traces}:2: duplicate trace for question 'q1' sample 0", "first at")
    assert not (tmp_path / "sft").exists()


def test_wrong_types_in_path_records(tmp_path: Path) -> None:
    bench = jsonl(tmp_path / "bench.jsonl", [GOOD])
    paths = jsonl(tmp_path / "paths.jsonl", [{"ID": "q1", "status": "found", "verbalised": 5}])
    code, output = cli(
        "distill",
        "--benchmark",
        str(bench),
        "--mode",
        "fs1",
        "--paths",
        str(paths),
        "--out",
        str(tmp_path / "t.jsonl"),
    )
    assert_clean_error(code, output, f"{paths}:1: field verbalised: expected a string, found int 5")


# --- item 11: train --max-steps 0 ---


def test_train_max_steps_zero_is_refused(tmp_path: Path) -> None:
    code, output = cli(
        "train",
        "--data",
        str(tmp_path),
        "--model",
        "smollm2-135m",
        "--out",
        str(tmp_path / "m"),
        "--max-steps",
        "0",
    )
    assert code == 2, output
    assert "max_steps must be positive" in output and "Traceback" not in output


# --- item 10: the experiment file ---

EXPERIMENT = """\
name: demo
students:
  - name: tiny
    model: smollm2-135m
settings: [instruct]
"""


def test_duplicate_keys_in_the_experiment_are_refused_with_the_line(tmp_path: Path) -> None:
    exp = tmp_path / "exp.yaml"
    exp.write_text(EXPERIMENT + "benchmark: bench.jsonl\nbenchmark: sample\n")
    code, output = cli("run", str(exp), "--out", str(tmp_path / "run"))
    assert_clean_error(code, output, f"{exp}:7: key 'benchmark' given twice (first on line 6)")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("generation:\n  budgets: [256, -1]\n", "generation.budgets.1"),
        ("generation:\n  min_think_tokens: -5\n", "generation.min_think_tokens"),
        ("train:\n  max_steps: 0\n", "train.max_steps"),
    ],
)
def test_negative_settings_are_refused_at_load(tmp_path: Path, extra: str, key: str) -> None:
    exp = tmp_path / "exp.yaml"
    exp.write_text(EXPERIMENT + extra)
    code, output = cli("run", str(exp), "--out", str(tmp_path / "run"))
    assert_clean_error(code, output, f"{exp}:", key)
    assert not (tmp_path / "run").exists()  # refused before any stage ran


# --- item 9: report on a malformed run directory; rerun from the run directory's own copy ---


@pytest.mark.parametrize(
    "summary",
    [[1, 2], {"overall": [], "ks": [1]}, {"by_source": {"cwq": 3}}, {"overall": {"pass@k": {"one": 0.5}}}],
)
def test_report_on_a_malformed_run_directory(tmp_path: Path, summary: object) -> None:
    path = tmp_path / "score" / "m__instruct" / "summary.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(summary))
    code, output = cli("report", str(tmp_path))
    assert_clean_error(code, output, str(path))


def test_rerun_from_the_run_directorys_own_experiment_copy(tmp_path: Path) -> None:
    """The copy is kept, then the run goes on (here into an empty benchmark, a clean error of its own)."""
    (tmp_path / "empty.jsonl").write_text("")
    rundir = tmp_path / "run"
    rundir.mkdir()
    copy = rundir / "experiment.yaml"
    copy.write_text(EXPERIMENT + f"benchmark: {tmp_path / 'empty.jsonl'}\n")
    code, output = cli("run", str(copy), "--out", str(rundir))
    assert "SameFileError" not in output and "are the same file" not in output
    assert_clean_error(code, output, "empty.jsonl")
    assert copy.read_text().startswith(EXPERIMENT)
