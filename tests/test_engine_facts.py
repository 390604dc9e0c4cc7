"""What made the records, recorded where the package versions cannot tell (``Backend.describe``): a server's kind,
version, served model and context length (the real vLLM server: tests/backends/test_vllm_cpu.py) — of the student
(``fs1 generate``), the teacher (``fs1 distill``) and the judge (``fs1 judge``, and in every judged summary) — in the
command's side manifest, in each job manifest of a sharded run and, for ``fs1 run``, whose stages run inline without
one, in ``engine.json`` beside a whole stage's records. A part that called no engine (every verdict cached, every
trace already there) opens none and says so; no secret reaches any of these files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from fs1.backends import Backend, load_backend
from fs1.cli.main import app
from fs1.judge.cache import VerdictCache
from fs1.judge.judge import NO_JUDGE_CALL, Judge, JudgeRequest, get_prompt
from fs1.run.config import load_experiment
from fs1.run.driver import Shard
from fs1.run.jobs import run_piece
from fs1.run.pipeline import Pipeline
from fs1.run.stages import distill_part, generate_part, judge_part, score_part
from fs1.stage import ENGINE_FILE, not_described
from tests.distill.test_distill import QUESTIONS as TEACHER_QUESTIONS
from tests.distill.test_distill import TURNS
from tests.judge.test_cli import REPLIES, write_predictions
from tests.judge.test_stage import QUESTIONS as JUDGE_QUESTIONS
from tests.judge.test_stage import oracle
from tests.support.cli import runner
from tests.support.scripted_openai import Reply, ScriptedOpenAIServer
from tests.support.teacher_replay import TeacherReplay

VERSION = {"/version": lambda: (200, {"version": "0.32.0"})}


PASSWORD, API_KEY = "hunter2-engine-pw", "sk-engine-secret-4711"


def _answer(endpoint: str, body: dict[str, Any]) -> Reply:
    """Student and teacher say Paris; the judge (its fs1 prompt) says the gold is contained."""
    last = body["messages"][-1]["content"] if endpoint == "chat" else str(body.get("prompt", ""))
    return Reply("1" if "predicted answer:" in last else "<think>It is Paris.</think> \\boxed{Paris}")


def _vllm(responder: Any = _answer, model: str = "scripted-model") -> ScriptedOpenAIServer:
    """A server that says it is vLLM 0.32.0 with a 2048-token context."""
    return ScriptedOpenAIServer(
        responder, model=model, owned_by="vllm", max_model_len=2048, get_routes=VERSION
    )


def _with_password(base_url: str) -> str:
    return base_url.replace("http://", f"http://fs1:{PASSWORD}@")


def _engine(model: str) -> dict[str, Any]:
    """The engine entry of a run over ``_vllm`` reached with ``_with_password`` (the password masked)."""
    return {"backend": "openai", "server": "vllm", "server_version": "0.32.0", "model": model,
            "context_length": 2048}  # fmt: skip


def _checked(entry: dict[str, Any], model: str) -> None:
    assert entry.pop("base_url").startswith("http://***@127.0.0.1:")
    assert entry == _engine(model)


def _no_secret_in(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            assert PASSWORD not in text and API_KEY not in text, path


def _generate_over(srv: ScriptedOpenAIServer, out: Path) -> Any:
    argv = ["generate", "-b", "sample", "--limit", "1", "--backend", "openai", "--base-url", srv.base_url,
            "--model", srv.model, "--setting", "instruct", "--out", str(out)]  # fmt: skip
    return runner.invoke(app, argv)


def test_the_manifest_records_the_server_its_version_and_context(tmp_path: Path) -> None:
    """The vLLM that made the records is the server's (the local ``packages.vllm`` says nothing of it): its kind,
    ``/version``, served model and context length go into the side manifest; a server without the route: null."""
    with ScriptedOpenAIServer(_answer, owned_by="vllm", max_model_len=2048, get_routes=VERSION) as srv:
        result = _generate_over(srv, tmp_path / "p.jsonl")
        assert result.exit_code == 0, result.output
        base_url = srv.base_url
    engine = json.loads((tmp_path / "p.manifest.json").read_text())["engine"]
    assert engine == {"backend": "openai", "base_url": base_url, "server": "vllm", "server_version": "0.32.0",
                      "model": "scripted-model", "context_length": 2048}  # fmt: skip
    with ScriptedOpenAIServer(_answer, owned_by="llamacpp") as srv:
        assert _generate_over(srv, tmp_path / "q.jsonl").exit_code == 0
    engine = json.loads((tmp_path / "q.manifest.json").read_text())["engine"]
    assert (engine["server"], engine["server_version"], engine["context_length"]) == ("llamacpp", None, None)


def _pipeline(tmp_path: Path, srv: ScriptedOpenAIServer, name: str, **extra: Any) -> Pipeline:
    """A one-question-per-dataset experiment whose student, teacher and judge are all ``srv``."""
    served = {"model": srv.model, "backend": "openai", "base_url": srv.base_url}
    spec = {
        "name": "engine", "benchmark": "sample", "limit": 1, "settings": ["instruct"],
        "students": [{"name": "served", **served}], "teacher": {**served, "max_tokens": 16},
        "judge": {**served, "mode": "all"}, "generation": {"max_tokens": 8, "n": 1}, "ks": [1], **extra,
    }  # fmt: skip
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    pipe = Pipeline(load_experiment(path), tmp_path / name, path, log=lambda _: None)
    pipe.run_benchmark()
    return pipe


def test_a_run_records_each_engine_beside_a_whole_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Student, teacher and judge: ``engine.json`` beside the predictions, the traces and the verdicts (inline,
    as fs1 run runs a stage: no side manifest); the score stage calls no model and keeps none."""
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    run = tmp_path / "run"
    with _vllm() as srv:
        pipe = _pipeline(tmp_path, srv, "run")
        stages = {
            "generate/served__instruct": generate_part(pipe, pipe.exp.students[0], "instruct"),
            "distill/rt": distill_part(pipe, "rt"),
            "score/served__instruct": score_part(pipe, "served__instruct"),
            "judge/served__instruct": judge_part(pipe, "served__instruct"),
        }
        for name, part in stages.items():
            run_piece(part, run / name, None, verbose=False, sidecars=False)
    for name in ("generate/served__instruct", "distill/rt", "judge/served__instruct"):
        engine = json.loads((run / name / ENGINE_FILE).read_text())
        assert engine == {**_engine("scripted-model"), "base_url": srv.base_url}, name
    assert not (run / "score" / "served__instruct" / ENGINE_FILE).exists()
    assert (run / "generate/served__instruct/predictions.jsonl").read_text().count(
        "\n"
    ) == 6  # one per dataset
    judged = json.loads((run / "judge/served__instruct/judged_summary.json").read_text())
    assert judged["judge"]["engine"] == engine and judged["judge_calls"] == 6
    traces = json.loads((run / "distill/rt/traces.summary.json").read_text())
    assert traces["engine"] == engine and traces["written"] == 6
    _no_secret_in(run)


def test_every_job_of_a_sharded_stage_records_its_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shard's job manifest (``jobs/<shard file>.manifest.json``) names the engine that made its part; the stage
    keeps no engine.json (its shards may have run on different servers); the merged summary names the engine the
    shards agree on."""
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    with _vllm() as srv:
        pipe = _pipeline(tmp_path, srv, "sharded", executor={"shards": 2})
        part = distill_part(pipe, "rt")
        directory = tmp_path / "sharded" / "distill" / "rt"
        for index in (0, 1):
            run_piece(
                part, directory, Shard(index, 2), verbose=False, seed=0, experiment=tmp_path / "sharded.yaml"
            )
    for index in (0, 1):
        manifest = json.loads((directory / "jobs" / f"traces.shard-{index}-of-2.manifest.json").read_text())
        assert manifest["engine"] == {**_engine("scripted-model"), "base_url": srv.base_url}
    assert not (directory / ENGINE_FILE).exists()
    from fs1.distill.stage import finish_distill_merge

    merged = finish_distill_merge(directory / "traces.jsonl", 2)
    assert merged.engine == manifest["engine"]


def _judge(scores: Path, bench: Path, out: Path, base_url: str, *extra: str) -> Any:
    argv = ["judge", str(scores), "--benchmark", str(bench), "--judge", "scripted-model", "--base-url", base_url,
            "--out", str(out), *extra]  # fmt: skip
    return runner.invoke(app, argv)


def test_fs1_judge_records_the_judge_server_and_starts_none_for_cached_verdicts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The verdicts' engine goes into ``OUT/judged.manifest.json`` and into the judged summary's ``judge`` (a judged
    number carries the server it came from). Asked again with every verdict cached, the judge is never opened: an
    API key variable that is not set (which opening refuses) and a server that is gone do not matter, and the
    entry says why no engine is named."""
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    bench = tmp_path / "bench.jsonl"
    bench.write_text("".join(json.dumps(q.to_dict()) + "\n" for q in JUDGE_QUESTIONS.values()))
    preds = write_predictions(tmp_path / "preds.jsonl", REPLIES)
    out = tmp_path / "judged"
    with _vllm(oracle()) as srv:
        first = _judge(preds, bench, out, _with_password(srv.base_url))
    assert first.exit_code == 0, first.output
    manifest = json.loads((out / "judged.manifest.json").read_text())
    summary = json.loads((out / "judged_summary.json").read_text())
    assert manifest["status"] == "finished" and summary["judge"]["engine"] == manifest["engine"]
    _checked(manifest["engine"], "scripted-model")
    _no_secret_in(out)
    again = _judge(preds, bench, out, _with_password(srv.base_url), "--api-key-env", "FS1_TEST_NO_SUCH_KEY")
    assert again.exit_code == 0, again.output
    summary = json.loads((out / "judged_summary.json").read_text())
    engine = json.loads((out / "judged.manifest.json").read_text())["engine"]
    assert summary["judge_calls"] == 0 and summary["cache_hits"] > 0
    # the cache lines name the engine that gave each verdict: the same server, password still masked
    _checked(engine, "scripted-model")
    assert summary["judge"]["engine"]["server_version"] == "0.32.0"
    _no_secret_in(out)


def _judge_over(cache: VerdictCache, base_url: str, opened: list[str]) -> Judge:
    """A judge on ``cache`` whose backend (the server at ``base_url``) is opened at first need (noted in ``opened``)."""

    def open_backend() -> Backend:
        opened.append("opened")
        return load_backend("openai", "scripted-model", base_url=base_url, max_retries=0)

    return Judge(open_backend, get_prompt("fs1"), cache, model="scripted-model")


def test_a_judge_names_the_engine_of_cached_verdicts_or_says_why_it_cannot(tmp_path: Path) -> None:
    """Verdicts answered from cache lines written before engines were kept, or decided by rules alone, open no
    backend and name no engine: the entry says why. Verdicts of several engines (here: one known, one not) list the
    engines known; a later run answered from lines that name their engine records it without opening one."""
    question = JUDGE_QUESTIONS["q1"]
    request, other = JudgeRequest.about(question, "New York"), JudgeRequest.about(question, "Philadelphia")
    path, opened = tmp_path / "cache.jsonl", []
    with _vllm(oracle()) as srv:
        key = _judge_over(VerdictCache(path), srv.base_url, opened).key(request)
        line = {"key": key, "verdict": "correct", "reply": "1", "model": "scripted-model", "prompt": "fs1"}
        path.write_text(json.dumps(line) + "\n")  # as a cache written before engines were kept
        judge = _judge_over(VerdictCache(path), srv.base_url, opened)
        assert judge.engine_entry() == not_described(NO_JUDGE_CALL)  # nothing asked (rules, no answer)
        assert [o.source for o in judge.judge([request])] == ["cache"] and opened == []
        entry = judge.engine_entry()
        assert entry["described"] is False and entry["engines"] == [] and "name none" in entry["reason"]
        assert [o.source for o in judge.judge([other])] == ["judge"] and opened == ["opened"]
        assert judge.engine_entry()["engines"] == [{**_engine("scripted-model"), "base_url": srv.base_url}]
    later = _judge_over(VerdictCache(path), srv.base_url, opened)  # the server is gone
    assert [o.source for o in later.judge([other])] == ["cache"] and opened == ["opened"]
    assert later.engine_entry() == {**_engine("scripted-model"), "base_url": srv.base_url}


def test_fs1_distill_records_the_teacher_server_and_a_finished_resume_asks_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    bench = tmp_path / "bench.jsonl"
    bench.write_text("".join(json.dumps(q.to_dict()) + "\n" for q in TEACHER_QUESTIONS))
    out = tmp_path / "traces.jsonl"
    argv = ["distill", "--benchmark", str(bench), "--out", str(out), "--teacher", "replay-teacher", "-q"]
    with _vllm(TeacherReplay(TURNS), model="replay-teacher") as srv:
        result = runner.invoke(app, [*argv, "--base-url", _with_password(srv.base_url)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "traces.manifest.json").read_text())
    summary = json.loads((tmp_path / "traces.summary.json").read_text())
    assert summary["engine"] == manifest["engine"]
    _checked(manifest["engine"], "replay-teacher")
    _no_secret_in(tmp_path)
    # every trace is there: the resume opens no teacher (the server is gone) and says so
    result = runner.invoke(app, [*argv, "--base-url", _with_password(srv.base_url), "--resume"])
    assert result.exit_code == 0, result.output
    engine = json.loads((tmp_path / "traces.manifest.json").read_text())["engine"]
    assert engine == {
        "described": False,
        "reason": "no teacher call: every planned trace was already in the file",
    }
    _no_secret_in(tmp_path)


def test_a_local_engine_records_the_weights_it_chose(tmp_path: Path, tiny_model_dir: Path) -> None:
    """transformers picks its dtype from the CPU when asked for ``auto``: the manifest says which, and why."""
    out = tmp_path / "p.jsonl"
    argv = ["generate", "-b", "sample", "--limit", "1", "--backend", "transformers", "-m", str(tiny_model_dir),
            "--setting", "instruct", "--max-tokens", "4", "--out", str(out)]  # fmt: skip
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    engine = json.loads(out.with_name("p.manifest.json").read_text())["engine"]
    assert engine["backend"] == "transformers" and engine["dtype"] in engine["dtype_note"]
    assert engine["dtype_note"].startswith(f"transformers: {engine['dtype']} weights (auto: ")
