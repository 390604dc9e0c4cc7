"""Issue 13 item 4: ``--resume`` continues only an output made with the same configuration.

The configuration is kept beside the output (``OUT.config.json``); a resume with another model, setting, seed or
search settings, or of a file no such run wrote (a benchmark given as ``--out``), is refused naming what differs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fs1.distill.config import DistillConfig
from tests.support.cli import cli


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    path = tmp_path / "bench.jsonl"
    assert cli("data", "sample", "--out", str(path), "--limit", "2")[0] == 0
    return path


def test_paths_resume_into_a_benchmark_file_is_refused_and_leaves_it_alone(
    tmp_path: Path, bench: Path
) -> None:
    before = bench.read_bytes()
    code, output = cli("paths", str(bench), "--out", str(bench), "--resume")
    assert code == 2, output
    assert "bench.config.json" in output and "is missing" in output
    assert bench.read_bytes() == before


def test_paths_resume_with_other_search_settings_names_the_difference(tmp_path: Path, bench: Path) -> None:
    out = tmp_path / "paths.jsonl"
    code, output = cli("paths", str(bench), "--out", str(out), "--max-hops", "2", "--limit", "1")
    assert code == 0, output
    assert json.loads((tmp_path / "paths.config.json").read_text())["max_hops"] == 2
    code, output = cli("paths", str(bench), "--out", str(out), "--resume")
    assert code == 2 and "max_hops: 2 there, 3 now" in output
    code, output = cli("paths", str(bench), "--out", str(out), "--resume", "--max-hops", "2")
    assert code == 0, output
    assert len(out.read_text().splitlines()) == 2  # the second question added, the first kept once


@pytest.mark.slow
def test_generate_resume_with_another_seed_or_model_is_refused(
    tmp_path: Path, bench: Path, tiny_model_dir: Path
) -> None:
    out = tmp_path / "preds.jsonl"
    base = ["generate", "--benchmark", str(bench), "--out", str(out), "--model", str(tiny_model_dir)]
    base += ["--max-tokens", "3", "--threads", "1"]
    code, output = cli(*base, "--limit", "1")
    assert code == 0, output
    lines = out.read_text()
    code, output = cli(*base, "--limit", "1", "--resume", "--seed", "7")
    assert code == 2 and "seed: 0 there, 7 now" in output
    code, output = cli(*base, "--limit", "1", "--resume", "--setting", "cot")
    assert code == 2 and "setting: 'instruct' there, 'cot' now" in output
    assert out.read_text() == lines  # nothing appended by the refused runs
    code, output = cli(*base, "--resume", "--limit", "2")  # same configuration: it goes on
    assert code == 0, output
    assert out.read_text().startswith(lines) and len(out.read_text().splitlines()) == 2


def test_distill_resume_with_another_teacher_setting_is_refused(tmp_path: Path) -> None:
    from fs1.distill.runner import prepare_output

    out = tmp_path / "traces.jsonl"
    first = DistillConfig(teacher="t", temperature=0.6)
    assert prepare_output(out, first, resume=False, overwrite=False) == set()
    trace = {
        "id": "q1",
        "question": "?",
        "mode": "rt",
        "model": "t",
        "reasoning_trace": "",
        "model_attempt": "",
    }
    out.write_text(json.dumps(trace) + "\n")
    assert prepare_output(out, first.model_copy(update={"concurrency": 9}), resume=True, overwrite=False) == {
        ("q1", 0)
    }
    from fs1.io import InputError

    with pytest.raises(InputError, match=r"temperature: 0\.6 there, 1\.0 now"):
        prepare_output(out, first.model_copy(update={"temperature": 1.0}), resume=True, overwrite=False)
