"""`fs1 paths` through Typer's CliRunner (and one real process killed with SIGKILL): records, --resume exactly
once, --retry-errors, clear one-line errors for bad input with no file written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fs1.cli.main import app
from fs1.data import load_benchmark
from fs1.kg import bundled_kg_path
from tests.support.cli import runner


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_bench(path: Path, questions: list[dict]) -> Path:
    path.write_text("".join(json.dumps(q) + "\n" for q in questions))
    return path


def test_paths_on_the_sample(tmp_path: Path) -> None:
    out = tmp_path / "paths.jsonl"
    result = runner.invoke(app, ["paths", "sample", "--out", str(out), "--kg", f"local:{bundled_kg_path()}"])
    assert result.exit_code == 0, result.output
    records = rows(out)
    assert len(records) == len(load_benchmark("sample")) == len({r["ID"] for r in records})
    by_id = {r["ID"]: r for r in records}
    assert by_id["sample-webqsp-01"]["status"] == "found" and by_id["sample-webqsp-01"]["hops"] == 1
    assert "Barack Obama, place of birth, Honolulu" in by_id["sample-webqsp-01"]["verbalised"]
    assert by_id["sample-simpleqa-01"]["status"] == "no_entities"  # a number: no answer item
    assert {r["status"] for r in records} <= {"found", "none", "no_entities"}
    assert "found" in result.output


def test_resume_after_a_torn_write_gives_every_record_once(tmp_path: Path) -> None:
    out = tmp_path / "paths.jsonl"
    assert runner.invoke(app, ["paths", "sample", "--out", str(out)]).exit_code == 0
    full = out.read_text().splitlines(keepends=True)
    # A crash after 20 whole records and half of the 21st.
    out.write_text("".join(full[:20]) + full[20][: len(full[20]) // 2])
    refused = runner.invoke(app, ["paths", "sample", "--out", str(out)])
    assert refused.exit_code == 2 and "--resume" in refused.output
    result = runner.invoke(app, ["paths", "sample", "--out", str(out), "--resume"])
    assert result.exit_code == 0, result.output
    assert sorted(out.read_text().splitlines(keepends=True)) == sorted(full)


def test_retry_errors_searches_failed_questions_again(tmp_path: Path) -> None:
    out = tmp_path / "paths.jsonl"
    bench = write_bench(
        tmp_path / "bench.jsonl",
        [
            {"ID": "a", "question": "?", "main_answers": ["Honolulu"], "question_entities": ["Q76"],
             "answer_entities": ["Q18094"]},
            {"ID": "b", "question": "?", "main_answers": ["Berlin"], "question_entities": ["Q183"],
             "answer_entities": ["Q64"]},
        ],
    )  # fmt: skip
    # A first run (it records its configuration beside the output), whose record for "a" then reads as failed.
    assert runner.invoke(app, ["paths", str(bench), "--out", str(out), "--limit", "1"]).exit_code == 0
    out.write_text(json.dumps({"ID": "a", "status": "error", "error": "HTTP 503"}) + "\n")
    kept = runner.invoke(app, ["paths", str(bench), "--out", str(out), "--resume"])
    assert kept.exit_code == 0 and [r["ID"] for r in rows(out)] == ["a", "b"]
    assert rows(out)[0]["status"] == "error"
    retried = runner.invoke(app, ["paths", str(bench), "--out", str(out), "--resume", "--retry-errors"])
    assert retried.exit_code == 0, retried.output
    assert sorted((r["ID"], r["status"]) for r in rows(out)) == [("a", "found"), ("b", "found")]


def test_injected_id_is_rejected_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "paths.jsonl"
    bench = write_bench(
        tmp_path / "bench.jsonl",
        [{"ID": "x1", "question": "?", "main_answers": ["y"], "question_entities": ["Q1> } DROP ALL"]}],
    )
    result = runner.invoke(app, ["paths", str(bench), "--out", str(out)])
    assert result.exit_code == 2
    assert "question x1: invalid entity id" in result.output and "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kg", "neo4j:x"], "expected local:FILE"),
        (["--kg", "local:/nonexistent/kg.nt"], "no such KG file"),
        (["--deny", "P31,DROP"], "invalid Wikidata property id"),
    ],
)
def test_bad_options_fail_in_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "paths.jsonl"
    result = runner.invoke(app, ["paths", "sample", "--out", str(out), *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.slow
def test_kill_9_then_resume_gives_every_record_exactly_once(tmp_path: Path) -> None:
    # Many distinct questions over the bundled KG, so the run is still writing when it is killed.
    base = [q.to_dict() for q in load_benchmark("sample")]
    bench = write_bench(
        tmp_path / "big.jsonl", [{**q, "ID": f"{q['ID']}-{i}"} for i in range(25) for q in base]
    )
    out = tmp_path / "paths.jsonl"
    cmd = [sys.executable, "-m", "fs1.cli.main", "paths", str(bench), "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not out.exists() or out.stat().st_size < 10_000):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = len(out.read_text().splitlines())
    total = len(base) * 25
    assert 0 < partial < total, "the run was not interrupted mid-way"
    done = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    ids = [r["ID"] for r in rows(out)]
    assert len(ids) == total == len(set(ids))
