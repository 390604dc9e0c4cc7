"""Issue 31 item 11: the CLI probed as a careless or hostile user would; each probe that gave a traceback is a case here,
named after it, and now ends with one line naming the problem (exit code 2).

The probes that already held (bad JSONL of every shape, bad options, bad experiment files, odd --out paths) are kept
in test_hardening_input.py and test_errors.py; this file holds the ones the second pass found failing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fs1.cli.main import app
from tests.support.scripted_openai import Fault, ScriptedOpenAIServer


def fs1(*args: str) -> tuple[int, str]:
    """Exit code and folded output of ``fs1 ARGS``; an exception that escaped the CLI fails the test."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"traceback: {type(result.exception).__name__}: {result.exception}")
    assert "Traceback" not in result.output
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    path = tmp_path / "bench.jsonl"
    assert fs1("data", "sample", "--out", str(path), "--limit", "1")[0] == 0
    return path


@pytest.mark.parametrize("command", ["run", "plan"])
def test_probe_yaml_nested_too_deeply(tmp_path: Path, command: str) -> None:
    experiment = tmp_path / "deep.yaml"
    experiment.write_text("students: " + "[" * 5000 + "]" * 5000 + "\n")
    extra = ["--out", str(tmp_path / "run")] if command == "run" else []
    code, output = fs1(command, str(experiment), *extra)
    assert code == 2 and "deep.yaml: invalid YAML (nested too deeply to read)" in output


@pytest.mark.parametrize("command", ["generate", "paths", "distill"])
@pytest.mark.parametrize(("shard", "said"), [("3/2", "need N ≥ 1 and 0 ≤ I < N"), ("a/b", "expects I/N"),
                                             ("0/0", "need N ≥ 1")])  # fmt: skip
def test_probe_shard_out_of_range_or_not_numbers(
    tmp_path: Path, bench: Path, command: str, shard: str, said: str
) -> None:
    out = str(tmp_path / "out.jsonl")
    args = {
        "generate": ["generate", "--benchmark", str(bench), "--out", out, "--model", "m"],
        "paths": ["paths", str(bench), "--out", out],
        "distill": ["distill", "--benchmark", str(bench), "--out", out],
    }[command]
    code, output = fs1(*args, "--shard", shard)
    assert code == 2 and said in output


@pytest.mark.parametrize("what", ["a file", "an empty folder"])
def test_probe_generate_model_that_is_not_a_checkpoint(tmp_path: Path, bench: Path, what: str) -> None:
    model = tmp_path / "model"
    if what == "a file":
        model.write_text("not a model")
    else:
        model.mkdir()
    code, output = fs1(
        "generate", "--benchmark", str(bench), "--out", str(tmp_path / "p.jsonl"), "--model", str(model),
        "--backend", "transformers",
    )  # fmt: skip
    assert code == 2 and f"cannot load model '{model}' with transformers" in output


def test_probe_paths_out_empty(tmp_path: Path, bench: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--out ""`` (an unset shell variable) is the current directory, not a file to write."""
    monkeypatch.chdir(tmp_path)
    code, output = fs1("paths", str(bench), "--out", "")
    assert code == 2 and ".: is a directory, expected the output file" in output


@pytest.mark.parametrize(
    ("listing", "said"),
    [
        ({"data": [{}]}, "malformed models list: data[0] should be an object with an id"),
        ({"data": ["a", "b"]}, "malformed models list: data[0] should be an object with an id"),
        ({"data": "x"}, "models: data should be list"),
    ],
)
def test_probe_server_models_list_malformed(tmp_path: Path, bench: Path, listing: dict, said: str) -> None:
    with ScriptedOpenAIServer() as srv:
        srv.get_routes["/v1/models"] = lambda: (200, listing)
        code, output = fs1(
            "generate", "--benchmark", str(bench), "--out", str(tmp_path / "p.jsonl"), "--backend", "openai",
            "--model", "auto", "--base-url", srv.base_url, "--backend-option", "tokenizer=smollm2-135m",
        )  # fmt: skip
    assert code == 2 and said in output


def test_probe_server_negative_token_count(tmp_path: Path, bench: Path) -> None:
    body = {
        "choices": [{"index": 0, "text": "x", "finish_reason": "stop"}],
        "usage": {"completion_tokens": -5},
    }
    with ScriptedOpenAIServer() as srv:
        srv.faults.append(Fault(status=200, body=json.dumps(body)))
        code, output = fs1(
            "generate", "--benchmark", str(bench), "--out", str(tmp_path / "p.jsonl"), "--backend", "openai",
            "--model", "m", "--base-url", srv.base_url, "--backend-option", "mode=chat",
        )  # fmt: skip
    assert code == 2 and "usage.completion_tokens should be a count, got -5" in output


@pytest.mark.parametrize("url", ["not a url", "ftp://host/v1"])
def test_probe_generate_base_url_not_http(tmp_path: Path, bench: Path, url: str) -> None:
    started = time.monotonic()
    code, output = fs1(
        "generate", "--benchmark", str(bench), "--out", str(tmp_path / "p.jsonl"), "--backend", "openai",
        "--model", "m", "--base-url", url,
    )  # fmt: skip
    assert code == 2 and "base_url must be an http(s) URL" in output
    assert time.monotonic() - started < 20  # refused at once, not after six retries with backoff
