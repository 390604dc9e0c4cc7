"""Records and crash-safe JSONL: validation errors, torn-tail repair, atomic writes, resume after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fs1.io import InputError, JsonlAppender, atomic_open, completed_keys, read_records, write_json_atomic
from fs1.records import Prediction, Question, RecordError, Score


def test_question_round_trips_and_gold_keeps_order_without_duplicates() -> None:
    row = {
        "ID": 7,
        "question": "Capital of France?",
        "main_answers": ["Paris"],
        "answer_aliases": ["City of Light", "Paris"],
        "source_of_data": "SimpleQA",
        "extra": 1,
    }
    q = Question.from_dict(row)
    assert q.ID == "7" and q.gold == ["Paris", "City of Light"]
    assert q.meta == {"extra": 1}  # unknown columns are kept, not lost
    assert Question.from_dict(q.to_dict()) == q


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"ID": "a", "question": "q?"}, "missing field"),
        ({"ID": "a", "question": "q?", "main_answers": []}, "empty gold list"),
        ({"ID": "a", "question": " ", "main_answers": ["x"]}, "non-empty string"),
        ({"ID": "a", "question": "q?", "main_answers": ["x"], "hops": "two"}, "hops"),
    ],
)
def test_bad_questions_are_rejected_with_a_reason(row: dict, message: str) -> None:
    with pytest.raises(RecordError, match=message):
        Question.from_dict(row)


def test_nullable_required_field_accepts_null_but_others_do_not() -> None:
    assert Score.from_dict({"id": "a", "sample": 0, "extracted": None, "correct": False, "match": "none"})
    with pytest.raises(RecordError, match="text"):
        Prediction.from_dict({"id": "a", "sample": 0, "text": None})
    with pytest.raises(RecordError, match="sample"):
        Prediction.from_dict({"id": "a", "sample": -1, "text": "x"})


def test_read_records_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "a", "sample": 0, "text": "x"}\n\n{"id": "b", "sample": 0}\n')
    with pytest.raises(InputError, match=r"p\.jsonl:3: missing field\(s\) text"):
        read_records(path, Prediction)
    path.write_text('{"id": "a", "sample": 0, "text": "x"}\n{not json\n')
    with pytest.raises(InputError, match=r"p\.jsonl:2: malformed JSON"):
        read_records(path, Prediction)


def test_appender_cuts_a_torn_last_line_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text('{"id": "a", "sample": 0, "text": "x"}\n{"id": "b", "sam')  # a crash mid-write
    assert completed_keys(path, lambda r: r["id"]) == {"a"}
    with JsonlAppender(path) as sink:
        sink.write(Prediction(id="b", sample=0, text="y"))
    assert [p.id for p in read_records(path, Prediction)] == ["a", "b"]


def test_atomic_open_leaves_the_old_file_when_the_block_fails(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    write_json_atomic(path, {"v": 1})
    with pytest.raises(RuntimeError), atomic_open(path) as fh:
        fh.write('{"v": 2')
        raise RuntimeError("crash")
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # no temporary file left behind


WRITER = textwrap.dedent(
    """
    import sys
    from fs1.io import JsonlAppender, completed_keys
    path = sys.argv[1]
    done = completed_keys(path, lambda r: r["id"])
    with JsonlAppender(path) as sink:
        for i in range(400):
            if str(i) in done:
                continue
            sink.write({"id": str(i), "payload": "x" * 2000})
            if i == 150 and not done:
                print("ready", flush=True)
    """
)


def test_kill_9_then_resume_gives_every_record_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    proc = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 150 <= len(completed_keys(path, lambda r: r["id"])) < 400
    subprocess.run([sys.executable, str(script), str(path)], check=True)
    ids = [json.loads(line)["id"] for line in path.read_text().splitlines()]
    assert sorted(ids, key=int) == [str(i) for i in range(400)]
