"""Scoring a predictions file in byte ranges: the same bytes as scoring record by record, with 1 or 2 workers.

The file path keeps verdicts and line text in pieces per (answer, question) and decodes with orjson when installed;
these tests hold it to the record-by-record path (``score_prediction`` + ``json.dumps`` of the Score) on replies of
every shape, budgets of several types, non-ASCII text, extra fields, blank and CRLF lines and rows only ``json``
reads, and check that the ranges cover the file and errors name absolute lines.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from fs1.io import InputError
from fs1.records import Prediction, Question
from fs1.scoring import batches
from fs1.scoring.score import clear_caches, score_file, score_prediction, score_predictions
from fs1.scoring.summary import VerdictColumns, aggregate

QUESTIONS = {
    "q1": Question(ID="q1", question="?", main_answers=["Tokyo"], source_of_data="CWQ", hops=1),
    "q2": Question(
        ID="q2",
        question="?",
        main_answers=["4 August 1961"],
        answer_aliases=["1961-08-04"],
        source_of_data="SimpleQA",
        answer_type="date",
    ),
    "q3": Question(ID="q3", question="?", main_answers=["São Paulo (city)"], source_of_data="Mintaka"),
}
THINKING = "Let me think about this.\n" * 20
REPLIES = [
    "<think>Kyoto? \\boxed{Kyoto}</think>\n\\boxed{Tokyo}",
    "<think>It could be Kyoto",  # cut off inside the thinking
    "<|im_start|>think\nhm\n<|im_start|>answer\nAnswer: August 4, 1961<|im_end|>",
    "He was born in 1962.",
    "The answer is \\boxed{\\text{Sao Paulo}}.",
    f"{THINKING}\n\n**Answer:** Tokyo",
    f"{THINKING}\nSo it is probably Tokyo   \n\n",  # a long plain reply: its last line
    "Answer: \\boxed{}",
    "",
    "\\boxed{A}, \\boxed{B} and \\boxed{São Paulo}",
    "<think>x</think>\n\n",
    'Answer: He said "Tokyo" \x01 \\ ok',  # quotes, a control character and a backslash in the JSON text
]
BUDGETS = [None, None, 512, 1024]  # a budget is an integer (a float one is refused on reading)


def varied_rows(count: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows, samples = [], {}
    for _ in range(count):
        qid = rng.choice(sorted(QUESTIONS))
        budget = rng.choice(BUDGETS)
        sample = samples[(qid, budget, type(budget))] = samples.get((qid, budget, type(budget)), -1) + 1
        row = {"id": qid, "sample": sample, "text": rng.choice(REPLIES)}
        if budget is not None:
            row["budget"] = budget
        if rng.random() < 0.3:
            row["finish_reason"] = rng.choice(["length", "stop"])
        if rng.random() < 0.1:
            row["model"], row["extra_field"] = "m", {"nested": [1, 2]}
        rows.append(row)
    return rows


def write_rows(path: Path, rows: list[dict], rng: random.Random) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=rng.random() < 0.5))
            fh.write(rng.choice(["\n", "\n", "\r\n", "\n\n", "\n   \n"]))
    return path


def expected_outputs(rows: list[dict]) -> tuple[bytes, dict]:
    """What record-by-record scoring writes: ``json.dumps`` of each Score, and the in-memory summary."""
    predictions = [Prediction.from_dict(dict(row)) for row in rows]
    lines = [
        json.dumps(score_prediction(p, QUESTIONS[p.id]).to_dict(), ensure_ascii=False) + "\n"
        for p in predictions
    ]
    _, summary = score_predictions(predictions, QUESTIONS)
    return "".join(lines).encode("utf-8"), summary


@pytest.mark.parametrize("workers", [1, 2])
def test_file_scoring_equals_record_by_record_scoring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    rows = varied_rows(1500)
    path = write_rows(tmp_path / "p.jsonl", rows, random.Random(1))
    monkeypatch.setattr(batches, "RANGE_BYTES", 4096)  # dozens of ranges
    assert len(list(batches.line_ranges(path))) > 20
    expected_scores, expected_summary = expected_outputs(rows)
    clear_caches()
    summary = score_file(path, QUESTIONS, tmp_path / "out", workers=workers)
    assert (tmp_path / "out" / "scores.jsonl").read_bytes() == expected_scores
    assert summary == expected_summary
    assert json.loads((tmp_path / "out" / "summary.json").read_text()) == json.loads(json.dumps(summary))


def test_rows_json_reads_otherwise_than_orjson_score_as_json_reads_them(tmp_path: Path) -> None:
    # orjson rejects NaN, 1e400 and lone surrogates and reads integers beyond 64 bits as floats; json's reading counts.
    rows = [
        '{"id": "q1", "sample": 0, "text": "\\\\boxed{Tokyo}", "x": NaN, "y": 1e400}',
        '{"id": "q1", "sample": 1, "text": "Tokyo", "budget": 99999999999999999999}',
        '{"id": "q1", "sample": 2, "text": "Kyoto", "odd": "\\ud800"}',
    ]
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    score_file(path, QUESTIONS, tmp_path / "out")
    scores = (tmp_path / "out" / "scores.jsonl").read_text().splitlines()
    assert [(s["sample"], s["extracted"], s["correct"]) for s in map(json.loads, scores)] == [
        (0, "Tokyo", True),
        (1, "Tokyo", True),
        (2, "Kyoto", False),
    ]
    assert '"budget": 99999999999999999999' in scores[1]
    path.write_text('{"id": "q1", "sample": -9223372036854775809, "text": "x"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="p.jsonl:1: .* found -9223372036854775809$"):
        score_file(path, QUESTIONS, tmp_path / "out2")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "q1", "sample": 0, "text": 7}', "field text: expected a string, found int 7"),
        ('{"id": "q1", "sample": "0", "text": "x"}', "field sample: expected an integer, found str '0'"),
        ('{"id": "q1", "sample": true, "text": "x"}', "field sample: expected an integer, found bool True"),
        (
            '{"id": "q1", "sample": 9223372036854775808, "text": "x"}',
            "field sample: expected an integer up to 9223372036854775807, found 9223372036854775808",
        ),
        (
            '{"id": "q1", "sample": 0, "text": "x", "budget": 2.5}',
            "field budget: expected an integer, found float 2.5",
        ),
        ('["q1", 0, "x"]', "expected a JSON object"),
        ('{"id": "q1", "sample": 0, "text": "x"', "malformed JSON"),
        ('{"id": "q1", "sample": 0, "text": "x"} {}', "malformed JSON"),
    ],
)
def test_bad_rows_in_a_late_range_name_their_absolute_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, message: str
) -> None:
    rows = [json.dumps(row) for row in varied_rows(400)]
    rows.insert(301, line)
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    monkeypatch.setattr(batches, "RANGE_BYTES", 2048)
    for workers in (1, 2):
        with pytest.raises(InputError, match=rf"p\.jsonl:302: {message}"):
            score_file(path, QUESTIONS, tmp_path / f"out{workers}", workers=workers)
        assert not (tmp_path / f"out{workers}").exists() or not any((tmp_path / f"out{workers}").iterdir())


@pytest.mark.parametrize("ending", [b"", b"\n", b"\n\n  \n"])
def test_ranges_cover_the_file_and_end_at_line_ends(tmp_path: Path, ending: bytes) -> None:
    rng = random.Random(2)
    body = b"\n".join(b"x" * rng.randint(0, 300) for _ in range(500)) + ending
    path = tmp_path / "f.jsonl"
    path.write_bytes(body)
    for size in (1, 7, 100, 1000, 10**6):
        ranges = list(batches.line_ranges(path, size))
        assert ranges[0][0] == 0 and ranges[-1][1] == len(body)
        assert all(end == start for (_, end), (start, _) in zip(ranges, ranges[1:], strict=False))
        assert all(body[end - 1 : end] == b"\n" for _, end in ranges[:-1])
        assert all(end > start for start, end in ranges)


def test_columns_gathered_in_pieces_aggregate_as_in_one_go() -> None:
    rng = random.Random(3)
    verdicts = [
        (
            rng.choice(sorted(QUESTIONS)),
            rng.choice([None, 512]),
            sample,
            rng.random() < 0.5,
            False,
            0.5,
            rng.choice(["", "tokyo", "kyoto", "sao paulo"]),
        )
        for sample in range(300)
    ]
    whole, pieces = VerdictColumns(), VerdictColumns()
    for verdict in verdicts:
        whole.add_verdict(*verdict)
    for start in range(0, len(verdicts), 37):
        piece = VerdictColumns()
        for verdict in verdicts[start : start + 37]:
            piece.add_verdict(*verdict)
        pieces.extend(piece)
    assert pieces == whole
    assert aggregate(pieces, QUESTIONS, [1, 2]) == aggregate(whole, QUESTIONS, [1, 2])


def test_the_cycle_collector_is_running_again_after_a_range_good_or_bad() -> None:
    import gc

    scorer = batches.RangeScorer("p.jsonl", batches.Golds(QUESTIONS))
    good = b'{"id": "q1", "sample": 0, "text": "Tokyo"}\n'
    assert scorer.score_bytes(good).error is None and gc.isenabled()
    assert scorer.score_bytes(good + b'{"id": "q1", "sample": 1}\n').error_line == 2 and gc.isenabled()
    gc.disable()
    try:  # a caller that paused it finds it paused
        scorer.score_bytes(good)
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_duplicate_sample_names_the_line_of_its_second_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    rows = [json.dumps(row) for row in varied_rows(400)]
    lines = [line for row in rows for line in (row, "", "  \r")]  # blank lines between records
    lines.insert(901, rows[7])  # a second copy of record 8, on line 902 of the file
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(batches, "RANGE_BYTES", 2048)
    with pytest.raises(InputError, match=r"p\.jsonl:902: duplicate sample"):
        score_file(path, QUESTIONS, tmp_path / "out", workers=workers)
