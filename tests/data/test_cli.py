"""`load_benchmark`, format auto-detection, `fs1 data` commands (through Typer's CliRunner) and the hub path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fs1.cli.main import app
from fs1.data import convert, detect_format, load_benchmark, read_dataset, sample_path
from fs1.io import InputError, read_records
from fs1.records import Question
from tests.support.cli import runner

FIXTURES = Path(__file__).parents[1] / "fixtures" / "data"
SHARED = Path(os.environ.get("FS1_SHARED") or Path(__file__).resolve().parents[3] / "shared")
MINTAKA_DEV = SHARED / "data" / "mintaka_dev_sample.json"
NATIVE = {
    "simple_qa_test_set.csv": "simpleqa",
    "ComplexWebQuestions_dev.json": "cwq",
    "WebQSP.test.json": "webqsp",
    "grailqa_v1.0_dev.json": "grailqa",
    "TimeQuestions_test.json": "exaqt",
    "fs1_benchmark.json": "fs1",
}
LABELS = {
    "simpleqa": "SimpleQA, official CSV",
    "cwq": "CWQ, official release",
    "webqsp": "WebQSP, official wrapper",
    "grailqa": "GrailQA, official release",
    "exaqt": "TimeQuestions (ExaQT release)",
}


def flat(text: str) -> str:
    """Rich wraps long lines; compare messages with whitespace collapsed."""
    return " ".join(text.split())


# ---------------------------------------------------------------- load_benchmark


def test_load_sample_with_source_filter_and_limit() -> None:
    everything = load_benchmark("sample")
    assert len(everything) == len(sample_path().read_text(encoding="utf-8").splitlines())
    cwq = load_benchmark("sample", sources=["cwq"])
    assert cwq and {q.source_of_data for q in cwq} == {"ComplexWebQuestions"}
    two = load_benchmark("sample", sources=["CWQ", "SimpleQA"], limit=3)
    assert [q.ID for q in two] == [
        q.ID for q in everything if q.source_of_data in ("ComplexWebQuestions", "SimpleQA")
    ][:3]
    with pytest.raises(InputError, match="unknown source 'nope'"):
        load_benchmark("sample", sources=["nope"])


def test_load_local_fs1_file_native_file_by_format_or_missing(tmp_path: Path) -> None:
    assert [q.ID for q in load_benchmark(str(FIXTURES / "fs1_benchmark.json"))][0] == "fs1-cwq-1"
    native = FIXTURES / "ComplexWebQuestions_dev.json"
    assert load_benchmark(str(native)) == read_dataset(native).questions  # auto: read as its own format
    assert load_benchmark(str(native), fmt="cwq") == read_dataset(native, "cwq").questions
    with pytest.raises(InputError, match="not the fs1 benchmark format"):
        load_benchmark(str(native), fmt="fs1")
    with pytest.raises(InputError, match="unknown format 'xml'"):
        load_benchmark(str(native), fmt="xml")
    with pytest.raises(InputError, match="no such file"):
        load_benchmark(str(tmp_path / "missing.jsonl"))


@pytest.mark.parametrize(("name", "fmt"), sorted(NATIVE.items()))
def test_auto_detects_each_format(name: str, fmt: str) -> None:
    assert detect_format(FIXTURES / name) == fmt


def test_auto_detects_shared_mintaka_and_fails_clearly_on_unknown(tmp_path: Path) -> None:
    if MINTAKA_DEV.is_file():
        assert detect_format(MINTAKA_DEV) == "mintaka"
    unknown = tmp_path / "records.json"
    unknown.write_text(json.dumps([{"foo": 1}]), encoding="utf-8")
    with pytest.raises(InputError, match=r"records\.json: cannot tell the dataset format"):
        detect_format(unknown)
    hinted = tmp_path / "mintaka_test.json"
    hinted.write_text(json.dumps([]), encoding="utf-8")
    assert detect_format(hinted) == "mintaka"


def test_convert_writes_loadable_fs1_jsonl(tmp_path: Path) -> None:
    out = tmp_path / "grail.jsonl"
    loaded = convert(FIXTURES / "grailqa_v1.0_dev.json", "auto", out)
    assert len(loaded.questions) == 3 and loaded.skipped == {"no gold answer": ["2100100400000"]}
    assert read_records(out, Question) == read_dataset(FIXTURES / "grailqa_v1.0_dev.json").questions
    assert [q.hops for q in load_benchmark(str(out))] == [1, 1, 2]


# ---------------------------------------------------------------- CLI


@pytest.mark.parametrize("name", sorted(n for n, f in NATIVE.items() if f != "fs1"))
def test_cli_convert_auto(tmp_path: Path, name: str) -> None:
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["data", "convert", str(FIXTURES / name), "--out", str(out)])
    assert result.exit_code == 0, result.output
    loaded = read_dataset(FIXTURES / name)
    expected = loaded.questions
    assert read_records(out, Question) == expected
    line = flat(result.output)
    assert f"loaded {len(expected)} questions" in line and f"format: {LABELS[NATIVE[name]]}" in line
    side = [json.loads(row) for row in (tmp_path / "out.skipped.jsonl").read_text().splitlines()]
    if name != "simple_qa_test_set.csv":
        (skipped,) = loaded.skipped["no gold answer"]
        assert f"skipped 1 (no gold answer: {skipped})" in line  # named on the console
        assert side == [{"id": skipped, "reason": "no gold answer"}]  # and in the side file
        assert "out.skipped.jsonl" in line
    else:
        assert side == []  # written even when empty: it always belongs to this conversion


def test_cli_convert_shared_mintaka(tmp_path: Path) -> None:
    if not MINTAKA_DEV.is_file():
        pytest.skip("shared Mintaka sample missing")
    out = tmp_path / "m.jsonl"
    result = runner.invoke(app, ["data", "convert", str(MINTAKA_DEV), "-f", "mintaka", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 25 and rows[0]["ID"] == "9ace9041" and rows[0]["main_answers"] == ["Breaking Dawn"]


def test_cli_convert_bad_input_is_one_line_and_leaves_output_untouched(tmp_path: Path) -> None:
    bad = tmp_path / "cwq.json"
    records = json.loads((FIXTURES / "ComplexWebQuestions_dev.json").read_text(encoding="utf-8"))
    records[1] = ["not", "an", "object"]
    bad.write_text(json.dumps(records), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    out.write_text("old\n", encoding="utf-8")
    result = runner.invoke(app, ["data", "convert", str(bad), "--format", "cwq", "--out", str(out)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert f"{bad}: record 1: expected a JSON object" in flat(result.output)
    assert out.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwq.json", "out.jsonl"]  # no temp file left


def test_cli_convert_unknown_format_and_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["data", "convert", str(FIXTURES / "WebQSP.test.json"), "-f", "xml", "-o", "x"]
    )
    assert result.exit_code == 2 and "unknown format 'xml'" in flat(result.output)
    result = runner.invoke(app, ["data", "convert", str(tmp_path / "none.json"), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no such file" in flat(result.output)


def test_cli_sample_writes_the_bundled_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "sample.jsonl"
    result = runner.invoke(app, ["data", "sample", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert read_records(out, Question) == load_benchmark("sample")
    few = tmp_path / "few.jsonl"
    result = runner.invoke(app, ["data", "sample", "-o", str(few), "--source", "exaqt", "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert [q.source_of_data for q in read_records(few, Question)] == ["ExaQT", "ExaQT"]


def test_cli_stats_counts_by_source() -> None:
    result = runner.invoke(app, ["data", "stats", "sample", "--source", "webqsp"])
    assert result.exit_code == 0, result.output
    n = len(load_benchmark("sample", sources=["webqsp"]))
    assert f"sample: {n} questions" in result.output and "WebQSP" in result.output
    assert "ExaQT" not in result.output


def test_data_help_lists_commands() -> None:
    result = runner.invoke(app, ["data", "--help"])
    assert result.exit_code == 0
    assert all(cmd in result.output for cmd in ("convert", "sample", "stats"))


# ---------------------------------------------------------------- Hugging Face hub (offline here)


def test_hub_offline_gives_one_line_error(tmp_path: Path) -> None:
    # A fresh process, so the hub's offline switch is read at import; an empty HF_HOME so no cache can answer.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "COLUMNS": "400"}
    proc = subprocess.run(
        [sys.executable, "-m", "fs1.cli.main", "data", "stats", "jjzha/fs1-benchmark-2708"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    message = flat(proc.stderr)
    assert "cannot load 'jjzha/fs1-benchmark-2708'" in message
    assert "the Hugging Face hub cannot be reached" in message
    assert "pass a local .jsonl/.json/.parquet file" in message
