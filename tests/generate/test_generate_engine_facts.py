"""What made the predictions, recorded where the package versions cannot tell (``Backend.describe``): a server's
kind, version, served model and context length (the real vLLM server: tests/backends/test_vllm_cpu.py), in ``fs1 generate``'s
side manifest and, for ``fs1 run``, whose stages run inline without one, in ``generate/<run>/engine.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from fs1.cli.main import app
from fs1.run.config import load_experiment
from fs1.run.jobs import run_piece
from fs1.run.pipeline import Pipeline
from fs1.run.stages import generate_part
from tests.support.cli import runner
from tests.support.scripted_openai import Reply, ScriptedOpenAIServer

VERSION = {"/version": lambda: (200, {"version": "0.32.0"})}


def _answer(endpoint: str, body: dict[str, Any]) -> Reply:
    return Reply("Paris")


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


def test_a_run_records_the_engine_beside_the_predictions(tmp_path: Path) -> None:
    with ScriptedOpenAIServer(_answer, owned_by="vllm", max_model_len=2048, get_routes=VERSION) as srv:
        spec = {
            "name": "engine", "benchmark": "sample", "limit": 1, "settings": ["instruct"],
            "students": [{"name": "served", "model": srv.model, "backend": "openai", "base_url": srv.base_url}],
            "generation": {"max_tokens": 8, "n": 1}, "ks": [1],
        }  # fmt: skip
        path = tmp_path / "exp.yaml"
        path.write_text(yaml.safe_dump(spec))
        pipe = Pipeline(load_experiment(path), tmp_path / "run", path, log=lambda _: None)
        pipe.run_benchmark()
        part = generate_part(pipe, pipe.exp.students[0], "instruct")
        directory = tmp_path / "run" / "generate" / "served__instruct"
        # inline, as fs1 run runs a stage: no side manifest
        run_piece(part, directory, None, verbose=False, sidecars=False)
    engine = json.loads((directory / "engine.json").read_text())
    assert (engine["server"], engine["server_version"], engine["context_length"]) == ("vllm", "0.32.0", 2048)
    assert (directory / "predictions.jsonl").read_text().count("\n") == 6  # one question per dataset


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
