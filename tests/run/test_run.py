"""`fs1 run`: experiment-file validation, the whole loop on a tiny model, resume and re-run of changed stages."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from fs1.cli.main import app
from fs1.io import InputError
from fs1.run.config import load_experiment
from fs1.run.runner import run_experiment
from tests.support.cli import runner


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("students: [{name: a, model: m}]\nsetings: [cot]\n", r"exp\.yaml:2: setings: Extra inputs"),
        ("students: [{name: a, model: m, backend: tpu}]\n", r"exp\.yaml:1: students\.0\.backend"),
        ("students: [{name: a, model: m}]\ngeneration: {n: many}\n", r"exp\.yaml:2: generation\.n"),
        ("settings: [cot]\n", r"students: Field required"),
        ("students: [{name: a, model: m}]\nbenchmark: nowhere.jsonl\n", r"benchmark: file not found"),
        ("students: [{name: a, model: m}]\nkg: local:missing.nt\n", r"kg: file not found"),
        (
            "students: [{name: a, model: m}]\ntrain_benchmark: cwq_dev.jsonl\n",
            r"train_benchmark: file not found",
        ),
        ("students: [{name: a, model: m}]\ngeneration: {n: 2}\nks: [1, 4]\n", r"ks: \[4\] outside 1\.\.n"),
        ("students: [{name: a, model: m}, {name: a, model: n}]\n", r"names must be unique"),
        ("students: [{name: a, model: m}\n", r"invalid YAML"),
        (
            "students: [{name: a, model: m}]\nextract: mine\n",
            r"exp\.yaml:2: extract: Input should be 'fs1' or",
        ),
    ],
)
def test_experiment_file_errors_name_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(InputError, match=expected):
        load_experiment(_write(tmp_path, text))


def test_cli_reports_config_errors_without_a_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, "students: [{name: a, model: m}]\nbogus: 1\n")
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "bogus: Extra inputs are not permitted" in result.output and "Traceback" not in result.output


def test_shipped_configs_validate() -> None:
    root = Path(__file__).resolve().parents[2] / "configs"
    for name in ("demo.yaml", "demo-quick.yaml"):
        exp = load_experiment(root / name)
        assert exp.students and exp.generation.n >= max(exp.ks)


def _tiny_experiment(tmp_path: Path, model: Path, n: int = 2) -> Path:
    spec = {
        "name": "tiny",
        "benchmark": "sample",
        "limit": 1,
        "teacher": {"model": str(model), "backend": "transformers", "max_tokens": 12},
        "students": [{"name": "tiny", "model": str(model), "backend": "transformers"}],
        "settings": ["instruct", "fs1"],
        "train": {"epochs": 1, "max_steps": 1, "max_length": 256, "grad_accum": 1, "require_correct": False},
        "generation": {"n": n, "max_tokens": 8, "budgets": [6]},
        "ks": [1, 2],
    }
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _stage_states(rundir: Path) -> dict[str, str]:
    return {
        str(p.parent.relative_to(rundir)): json.loads(p.read_text())["fingerprint"]
        for p in rundir.rglob(".stage.json")
    }


@pytest.mark.slow
def test_whole_loop_then_resume_then_rerun_only_what_changed(tmp_path: Path, tiny_model_dir: Path) -> None:
    exp = _tiny_experiment(tmp_path, tiny_model_dir)
    rundir = tmp_path / "run"
    lines: list[str] = []
    first = run_experiment(exp, rundir, log=lines.append)
    ran = {r.name for r in first.results if r.status != "skipped"}
    # require_correct is off: the console says training reads every answered trace, not "0 of N kept".
    assert any("filter_check is off" in line for line in lines), lines
    assert any("answered traces (filter off)" in line for line in lines), lines
    assert not any("traces kept" in line for line in lines)
    assert {
        "benchmark",
        "paths",
        "distill/fs1",
        "sft/tiny-fs1",
        "train/tiny-fs1",
        "generate/tiny__instruct",
        "generate/tiny__fs1",
        "score/tiny__instruct",
        "score/tiny__fs1",
    } <= ran
    questions = (rundir / "benchmark" / "questions.jsonl").read_text().splitlines()
    assert len(questions) == 6  # one per dataset
    assert (
        rundir / "benchmark" / "train_questions.jsonl"
    ).read_text().splitlines() == questions  # no train set
    preds = (rundir / "generate" / "tiny__fs1" / "predictions.jsonl").read_text().splitlines()
    assert len(preds) == 6 * 2  # n = 2, one budget
    assert all(json.loads(p)["budget"] == 6 for p in preds)
    assert (rundir / "train" / "tiny-fs1" / "model" / "config.json").exists()
    assert not (
        rundir / "train" / "tiny-fs1" / "model" / "checkpoints"
    ).exists()  # a finished run keeps no optimizer state
    table = pq.read_table(rundir / "results.parquet").to_pylist()
    summary = json.loads((rundir / "score" / "tiny__instruct" / "summary.json").read_text())
    row = next(
        r
        for r in table
        if r["run"] == "tiny__instruct"
        and r["metric"] == "pass@k"
        and r["k"] == 2
        and r["source"] == "overall"
        and r["budget"] is None
    )
    assert row["value"] == pytest.approx(summary["overall"]["pass@k"]["2"])
    assert any(r["metric"] == "kgsel@k" for r in table)
    assert (rundir / "report.html").stat().st_size > 10_000
    before = _stage_states(rundir)

    second = run_experiment(exp, rundir, log=lambda _: None)
    assert all(r.status == "skipped" for r in second.results)

    # Killed after the model was saved but before the stage was closed: the rerun keeps the model, trains nothing.
    marker = rundir / "train" / "tiny-fs1" / ".stage.json"
    marker.write_text(json.dumps(json.loads(marker.read_text()) | {"done": False}))
    weights = rundir / "train" / "tiny-fs1" / "model" / "model.safetensors"
    saved = weights.stat().st_mtime_ns
    lines.clear()
    again = run_experiment(exp, rundir, log=lines.append)
    assert {r.name for r in again.results if r.status != "skipped"} == {"train/tiny-fs1"}
    assert weights.stat().st_mtime_ns == saved and any("not training again" in line for line in lines)

    exp.write_text(
        exp.read_text().replace("n: 2", "n: 3")
    )  # more samples: only generation and scoring change
    third = run_experiment(exp, rundir, log=lambda _: None)
    redone = {r.name for r in third.results if r.status != "skipped"}
    assert redone == {
        "generate/tiny__instruct",
        "generate/tiny__fs1",
        "score/tiny__instruct",
        "score/tiny__fs1",
    }
    after = _stage_states(rundir)
    assert after["train/tiny-fs1"] == before["train/tiny-fs1"]
    assert len((rundir / "generate" / "tiny__fs1" / "predictions.jsonl").read_text().splitlines()) == 6 * 3

    spec = yaml.safe_load(exp.read_text())
    spec["generation"]["min_think_tokens"] = (
        4  # a budget-forcing field: the instruct run does not depend on it
    )
    exp.write_text(yaml.safe_dump(spec))
    fourth = run_experiment(exp, rundir, log=lambda _: None)
    assert {r.name for r in fourth.results if r.status != "skipped"} == {
        "generate/tiny__fs1",
        "score/tiny__fs1",
    }


@pytest.mark.slow
def test_kill_during_generation_then_rerun_loses_and_doubles_nothing(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    exp = _tiny_experiment(tmp_path, tiny_model_dir, n=2)
    rundir = tmp_path / "run"
    cmd = [sys.executable, "-m", "fs1.cli.main", "run", str(exp), "--out", str(rundir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = rundir / "generate" / "tiny__instruct" / "predictions.jsonl"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if target.exists() and target.read_text().count("\n") >= 1:
            break
        time.sleep(0.05)  # polling for the file, not waiting out a race: the kill lands wherever the run is
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished_before = {p.parent for p in rundir.rglob(".stage.json") if json.loads(p.read_text())["done"]}
    assert rundir / "train" / "tiny-fs1" in finished_before

    result = run_experiment(exp, rundir, log=lambda _: None)
    status = {r.name: r.status for r in result.results}
    assert status["train/tiny-fs1"] == "skipped" and status["distill/fs1"] == "skipped"
    for run in ("tiny__instruct", "tiny__fs1"):
        rows = [
            json.loads(x) for x in (rundir / "generate" / run / "predictions.jsonl").read_text().splitlines()
        ]
        keys = [(r["id"], r["sample"], r.get("budget")) for r in rows]
        assert len(keys) == len(set(keys)) == 6 * 2


@pytest.mark.slow
def test_judge_stage_runs_against_a_real_openai_compatible_server(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    from tests.support.scripted_openai import Reply, ScriptedOpenAIServer

    def reply(endpoint: str, body: dict) -> Reply:
        # The student (completions endpoint) always answers Paris; the judge (chat endpoint) always says 1.
        return Reply(text="1") if endpoint == "chat" else Reply(text="It is \\boxed{Paris}.")

    with ScriptedOpenAIServer(reply) as server:
        spec = yaml.safe_load(_tiny_experiment(tmp_path, tiny_model_dir).read_text())
        spec["settings"] = ["instruct"]
        spec["students"] = [
            {
                "name": "served",
                "model": server.model,
                "backend": "openai",
                "base_url": server.base_url,
                "tokenizer": str(tiny_model_dir),
            }
        ]
        spec["judge"] = {
            "model": server.model,
            "backend": "openai",
            "base_url": server.base_url,
            "mode": "all",
        }
        spec["extract"] = "authors"  # the experiment's rule reaches the score and judge stages
        exp = tmp_path / "judged.yaml"
        exp.write_text(yaml.safe_dump(spec))
        rundir = tmp_path / "run"
        run_experiment(exp, rundir, log=lambda _: None)
        judge_calls = [r for r in server.requests if r["endpoint"] == "chat"]
        assert len(judge_calls) == 6  # two identical answers per question are judged once
        judged = json.loads((rundir / "judge" / "served__instruct" / "judged_summary.json").read_text())
        scored = json.loads((rundir / "score" / "served__instruct" / "summary.json").read_text())
        assert judged["judge_calls"] == 6
        assert judged["extract"] == scored["extract"] == "authors"
        assert judged["overall"]["accuracy"] == 1.0  # the judge's verdicts, not the rules', feed the summary
        assert scored["overall"]["accuracy"] < 1.0
        assert 'id="judge-table"' in (rundir / "report.html").read_text()
        before = len(server.requests)
        run_experiment(exp, rundir, log=lambda _: None)
        assert len(server.requests) == before  # everything up to date: no generation or judge calls
