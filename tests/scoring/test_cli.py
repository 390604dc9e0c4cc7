"""`fs1 score` through Typer's CliRunner: outputs, the bundled sample, bad input naming file:line, no output left."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fs1.cli.main import app
from tests.support.cli import runner

QUESTIONS = [
    {
        "ID": "q1",
        "question": "Capital of Japan?",
        "main_answers": ["Tokyo"],
        "source_of_data": "CWQ",
        "hops": 1,
    },
    {
        "ID": "q2",
        "question": "Birth date of Obama?",
        "main_answers": ["4 August 1961"],
        "answer_aliases": ["1961-08-04"],
        "source_of_data": "SimpleQA",
        "answer_type": "date",
    },
]


def write_jsonl(path: Path, rows: list[dict] | list[str]) -> Path:
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def good_predictions() -> list[dict]:
    return [
        {"id": "q1", "sample": 0, "text": "<think>Kyoto? \\boxed{Kyoto}</think>\n\\boxed{Tokyo}"},
        {"id": "q1", "sample": 1, "text": "<think>It could be Kyoto", "finish_reason": "length"},
        {
            "id": "q2",
            "sample": 0,
            "text": "<|im_start|>think\nhm\n<|im_start|>answer\nAnswer: August 4, 1961",
        },
        {"id": "q2", "sample": 1, "text": "He was born in 1962.", "model": "m", "extra_field": 1},
    ]


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "bench.jsonl", QUESTIONS)


def run_score(predictions: Path, bench: Path | str, out: Path, *extra: str):
    return runner.invoke(
        app, ["score", str(predictions), "--benchmark", str(bench), "--out", str(out), *extra]
    )


def test_score_writes_scores_and_summary(tmp_path: Path, bench: Path) -> None:
    predictions = write_jsonl(tmp_path / "predictions.jsonl", good_predictions())
    out = tmp_path / "out"
    result = run_score(predictions, bench, out, "--k", "1,2,4")
    assert result.exit_code == 0, result.output
    scores = [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines()]
    assert [(s["id"], s["sample"], s["extracted"], s["correct"], s["match"]) for s in scores] == [
        ("q1", 0, "Tokyo", True, "exact"),
        ("q1", 1, None, False, "no_answer"),
        ("q2", 0, "August 4, 1961", True, "exact"),
        ("q2", 1, "He was born in 1962", False, "none"),
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 2 and summary["ks"] == [1, 2]
    assert summary["overall"]["accuracy"] == 0.5
    assert summary["overall"]["pass@k"] == {"1": 0.5, "2": 1.0}
    assert summary["by_source"]["CWQ"]["no_answer_rate"] == 0.5
    assert list(summary["by_hops"]) == ["1"] and list(summary["by_answer_type"]) == ["date"]
    assert "k = [4] left out" in result.output
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_file_mixing_prompt_routes_is_scored_with_a_warning(
    tmp_path: Path, bench: Path, workers: str
) -> None:
    rows = [row | {"route": "raw"} for row in good_predictions()]
    out = tmp_path / "one"
    assert (
        run_score(write_jsonl(tmp_path / "one.jsonl", rows), bench, out, "--workers", workers).exit_code == 0
    )
    warnings = json.loads((out / "summary.json").read_text())["warnings"]
    assert not any("routes" in w for w in warnings)  # one route: nothing to say
    rows[3]["route"] = "chat"
    mixed = write_jsonl(tmp_path / "mixed.jsonl", rows)
    result = run_score(mixed, bench, tmp_path / "mixed", "--workers", workers)
    assert result.exit_code == 0, result.output
    warnings = json.loads((tmp_path / "mixed" / "summary.json").read_text())["warnings"]
    [warning] = [w for w in warnings if "routes" in w]
    assert str(mixed) in warning and "chat and raw routes" in warning
    assert "warning:" in result.output and "chat and raw routes" in " ".join(result.output.split())


def test_score_on_the_bundled_sample(tmp_path: Path) -> None:
    from fs1.data import load_benchmark

    question = load_benchmark("sample")[0]
    rows = [{"id": question.ID, "sample": i, "text": f"\\boxed{{{question.gold[0]}}}"} for i in range(2)]
    predictions = write_jsonl(tmp_path / "p.jsonl", rows)
    result = run_score(predictions, "sample", tmp_path / "out")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["overall"]["accuracy"] == 1.0
    assert summary["overall"]["n_questions"] == 1


BAD_PREDICTIONS = [
    (
        '{"id": "q1", "sample": 0, "text": "x"}\n{"id": "q1", "sample": 1, "text": ',
        "predictions.jsonl:2: malformed JSON",
    ),
    ('{"id": "q1", "sample": 0}', "predictions.jsonl:1: missing field(s) text"),
    (
        '{"id": "q1", "sample": -1, "text": "x"}',
        "predictions.jsonl:1: field sample: expected a non-negative integer, found -1",
    ),
    (
        '{"id": "q1", "sample": 0, "text": "x"}\n{"id": "q7", "sample": 0, "text": "x"}',
        "predictions.jsonl:2: unknown question ID 'q7'",
    ),
    (
        '{"id": "q1", "sample": 0, "text": "a"}\n{"id": "q2", "sample": 0, "text": "b"}\n'
        '{"id": "q1", "sample": 0, "text": "c"}',
        "predictions.jsonl:3: duplicate sample 0 for question 'q1'",
    ),
    ("", "predictions.jsonl: no predictions"),
]


@pytest.mark.parametrize(("content", "message"), BAD_PREDICTIONS)
def test_bad_predictions_name_file_and_line_and_leave_no_output(
    tmp_path: Path, bench: Path, content: str, message: str
) -> None:
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    result = run_score(predictions, bench, out)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not out.exists() or not any(out.iterdir())


def test_bad_benchmark_names_file_and_line(tmp_path: Path) -> None:
    bench = write_jsonl(tmp_path / "bench.jsonl", [QUESTIONS[0], {**QUESTIONS[1], "main_answers": []}])
    predictions = write_jsonl(tmp_path / "predictions.jsonl", good_predictions())
    result = run_score(predictions, bench, tmp_path / "out")
    assert result.exit_code == 2
    assert "bench.jsonl:2" in result.output and "gold" in result.output
    assert not (tmp_path / "out").exists()


def test_bad_k_and_missing_file(tmp_path: Path, bench: Path) -> None:
    predictions = write_jsonl(tmp_path / "predictions.jsonl", good_predictions())
    result = run_score(predictions, bench, tmp_path / "out", "--k", "0,1")
    # The schema checks the bound and names the option (and the position in the list) in one line.
    assert result.exit_code == 2 and "--k.0: Input should be greater than or equal to 1" in result.output
    result = run_score(tmp_path / "missing.jsonl", bench, tmp_path / "out")
    assert result.exit_code == 2 and "missing.jsonl: no such file" in result.output


def test_a_failed_run_keeps_the_previous_outputs_whole(tmp_path: Path, bench: Path) -> None:
    out = tmp_path / "out"
    assert run_score(write_jsonl(tmp_path / "p.jsonl", good_predictions()), bench, out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = write_jsonl(tmp_path / "bad.jsonl", [*good_predictions(), {"id": "zz", "sample": 0, "text": "x"}])
    assert run_score(bad, bench, out).exit_code == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_worker_processes_give_the_same_outputs_and_errors(
    tmp_path: Path, bench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fs1.scoring import batches

    rows = [{**row, "sample": row["sample"] + 2 * rep} for rep in range(1200) for row in good_predictions()]
    predictions = write_jsonl(tmp_path / "many.jsonl", rows)
    monkeypatch.setattr(batches, "RANGE_BYTES", 16_384)  # many ranges, spread over both workers
    assert len(list(batches.line_ranges(predictions))) > 20
    outputs = {}
    for workers in ("1", "2"):
        result = run_score(predictions, bench, tmp_path / workers, "--workers", workers)
        assert result.exit_code == 0, result.output
        outputs[workers] = [
            (tmp_path / workers / name).read_bytes() for name in ("scores.jsonl", "summary.json")
        ]
    assert outputs["1"] == outputs["2"]
    bad = write_jsonl(
        tmp_path / "bad.jsonl", [*rows[:3000], {"id": "zz", "sample": 0, "text": "x"}, *rows[3000:]]
    )
    result = run_score(bad, bench, tmp_path / "bad_out", "--workers", "2")
    assert result.exit_code == 2 and "bad.jsonl:3001: unknown question ID 'zz'" in result.output
    assert not (tmp_path / "bad_out").exists() or not any((tmp_path / "bad_out").iterdir())


def test_blank_lines_are_skipped_and_lines_still_counted(tmp_path: Path, bench: Path) -> None:
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text(
        '{"id": "q1", "sample": 0, "text": "x"}\n\n   \n{"id": "q9", "sample": 0, "text": "x"}\n'
    )
    result = run_score(predictions, bench, tmp_path / "out")
    assert result.exit_code == 2 and "predictions.jsonl:4: unknown question ID 'q9'" in result.output


def test_non_utf8_line_is_named(tmp_path: Path, bench: Path) -> None:
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_bytes(
        b'{"id": "q1", "sample": 0, "text": "x"}\n{"id": "q1", "sample": 1, "text": "\xff"}\n'
    )
    result = run_score(predictions, bench, tmp_path / "out")
    assert result.exit_code == 2 and "predictions.jsonl:2: not UTF-8 text" in result.output


def test_help_describes_the_command() -> None:
    result = runner.invoke(app, ["score", "--help"])
    assert result.exit_code == 0
    for word in ("--benchmark", "--out", "--k", "pass@k", "boxed"):
        assert word in result.output


def test_console_tables_show_every_k_unabridged(tmp_path: Path, bench: Path) -> None:
    rows = [{"id": q, "sample": s, "text": "\\boxed{Tokyo}" if s % 2 == 0 else "\\boxed{x}"}
            for q in ("q1", "q2") for s in range(8)]  # fmt: skip
    predictions = write_jsonl(tmp_path / "predictions.jsonl", rows)
    result = runner.invoke(
        app, ["score", str(predictions), "--benchmark", str(bench), "--out", str(tmp_path / "o"), "--k", "1,2,4,8"],
        terminal_width=80,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "…" not in result.output  # no header cut to "pass@…" on an 80-column terminal
    for k in (1, 2, 4, 8):
        assert f"k={k}" in result.output
    assert "pass@k" in result.output and "maj@k" in result.output
