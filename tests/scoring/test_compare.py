"""Paired comparison: sign test / McNemar against hand-computed tables, paired bootstrap, `fs1 compare` CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fs1.cli.main import app
from fs1.scoring.paired import compare, question_accuracy, sign_test
from tests.support.cli import runner

# 10 questions, one sample each: both right 3 (q0-q2), both wrong 2 (q3, q4), only A right 4 (q5-q8), only B 1 (q9).
A_RIGHT = {f"q{i}" for i in [0, 1, 2, 5, 6, 7, 8]}
B_RIGHT = {f"q{i}" for i in [0, 1, 2, 9]}
SOURCES = {f"q{i}": ("cwq" if i < 5 else "mintaka") for i in range(10)}


def rows(right: set[str], budget: int | None = None) -> list[dict]:
    return [{"id": f"q{i}", "sample": 0, "budget": budget, "correct": f"q{i}" in right} for i in range(10)]


def test_sign_test_by_hand() -> None:
    # McNemar exact: discordant b = 7, c = 2 -> 2 * (C(9,0) + C(9,1) + C(9,2)) / 2^9 = 2 * 46 / 512
    assert sign_test(7, 2) == pytest.approx(92 / 512)
    assert sign_test(2, 7) == pytest.approx(92 / 512)
    assert sign_test(5, 0) == pytest.approx(2 / 32)
    assert sign_test(3, 3) == 1.0
    assert sign_test(0, 0) == 1.0


def test_paired_table_by_hand() -> None:
    overall, cwq, mintaka = compare(
        question_accuracy(rows(A_RIGHT)), question_accuracy(rows(B_RIGHT)), SOURCES
    )
    assert (overall.source, overall.n_questions) == ("overall", 10)
    assert (overall.accuracy_a, overall.accuracy_b, overall.difference) == (0.7, 0.4, 0.3)
    assert (overall.a_better, overall.b_better) == (4, 1)
    assert overall.p_value == pytest.approx(2 * (1 + 5) / 32)  # discordant 4 : 1
    assert overall.ci[0] < 0.3 < overall.ci[1]
    assert [f["id"] for f in overall.flips] == ["q5", "q6", "q7", "q8", "q9"]  # A-better first, then B-better
    # cwq (q0-q4): identical in both runs -> no difference, a degenerate interval, nothing flips
    assert (cwq.source, cwq.difference, cwq.ci, cwq.p_value, cwq.flips) == ("cwq", 0.0, (0.0, 0.0), 1.0, [])
    assert (mintaka.a_better, mintaka.b_better, mintaka.difference) == (4, 1, 0.6)


def test_samples_average_within_a_question_and_budgets_select() -> None:
    scored = [
        {"id": "q1", "sample": s, "budget": b, "correct": ok}
        for b, oks in ((512, [True, False, False, False]), (1024, [True, True, True, False]))
        for s, ok in enumerate(oks)
    ]
    assert question_accuracy(scored, 512) == {"q1": 0.25}
    assert question_accuracy(scored, 1024) == {"q1": 0.75}
    assert question_accuracy(scored) == {"q1": 0.5}
    (result,) = compare(question_accuracy(scored, 1024), question_accuracy(scored, 512), {})
    assert (result.difference, result.a_better, result.p_value) == (0.5, 1, 1.0)


def test_no_shared_question_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="share no question"):
        compare({"a": 1.0}, {"b": 1.0}, {})


def _write_run(root: Path, name: str, scored: list[dict]) -> Path:
    directory = root / "score" / name
    directory.mkdir(parents=True)
    (directory / "scores.jsonl").write_text("".join(json.dumps(r) + "\n" for r in scored))
    return directory


def test_cli_compares_two_score_directories_of_a_run(tmp_path: Path) -> None:
    (tmp_path / "benchmark").mkdir()
    questions = [
        {"ID": qid, "question": "?", "main_answers": ["x"], "source_of_data": source}
        for qid, source in SOURCES.items()
    ]
    (tmp_path / "benchmark" / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    a = _write_run(tmp_path, "m__fs1", rows(A_RIGHT))
    b = _write_run(tmp_path, "m__rt", rows(B_RIGHT))
    out = tmp_path / "cmp.json"
    result = runner.invoke(app, ["compare", str(a), str(b), "--json", str(out)])
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert [s["source"] for s in written["by_source"]] == [
        "overall",
        "cwq",
        "mintaka",
    ]  # from the run's benchmark
    assert written["by_source"][0]["p_value"] == pytest.approx(0.375)
    assert "q5" in result.output and "+0.300" in result.output
    again = tmp_path / "again.json"
    runner.invoke(app, ["compare", str(a), str(b), "--json", str(again)])
    assert again.read_bytes() == out.read_bytes()  # seeded: same bytes


def test_cli_names_file_and_line_of_a_bad_row(tmp_path: Path) -> None:
    a = _write_run(tmp_path, "a", rows(A_RIGHT))
    b = _write_run(tmp_path, "b", [*rows(B_RIGHT), {"id": "q1", "sample": 1}])
    result = runner.invoke(app, ["compare", str(a), str(b)])
    assert result.exit_code == 2
    assert "scores.jsonl:11" in result.output and "Traceback" not in result.output
